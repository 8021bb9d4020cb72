"""What ships on which CPU, chosen by measurement; the CPU form's instruction set; the gate's per-class rule,
precision/recall and score shift; repair's stop rules. Timing-independent: the speed margins used are 0 (always
INT8) or 100 (never), and the CPU's instruction set is set by the test where it matters."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.decode.base import Detections
from edge_sdk.errors import BuildError
from edge_sdk.quant import build_int8, cpu_isa, resolve_int8_model, ships
from edge_sdk.quant.agreement import deciding_classes, precision_recall, score_shift
from edge_sdk.quant.cpu_isa import CpuIsa
from edge_sdk.quant.ship_record import record_in_build
from tests.quant.helpers import scene_frames, write_config
from tests.quant.tiny_detector import tiny_detector

VNNI = CpuIsa("x86_64", "avx512_vnni", "Intel Xeon (set by the test)")
AVX2 = CpuIsa("x86_64", "avx2", "AMD EPYC (set by the test)")


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scene_frames(tmp_path_factory.mktemp("scenes"), 3_400_000, 12, size=(160, 120))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_detector(tmp_path_factory.mktemp("model") / "tiny.onnx")


def test_choose_by_speed_ships_int8_only_past_the_margin() -> None:
    where = {"cpu": "Xeon", "isa": "avx512_vnni"}
    fast = ships.choose_by_speed(ships.TARGET_CPU, "int8", "fp32", {"int8": 10.0, "fp32": 20.0}, 1.1, where)
    assert fast.chosen == "int8" and fast.speedup == 2.0 and "2.00x FP32 on Xeon, avx512_vnni" in fast.reason
    slow = ships.choose_by_speed(ships.TARGET_CPU, "int8", "fp32", {"int8": 19.0, "fp32": 20.0}, 1.1, where)
    assert slow.chosen == "fp32" and "below the 1.10x required: FP32 ships" in slow.reason
    assert ships.choose_by_speed(ships.TARGET_CPU, "int8", "fp32", {"int8": 19.0, "fp32": 20.0}, 0, where).chosen == "int8"
    unmeasured = ships.choose_by_speed(ships.TARGET_TRT, "int8", "fp16", {"int8": 5.0}, 1.05, {"gpu": "Orin"})
    assert unmeasured.chosen == "fp16" and unmeasured.speedup is None


def test_isa_classes_and_the_formats_each_allows() -> None:
    assert VNNI.exact_u8s8 and VNNI.formats() == ("u8s8",)
    assert not AVX2.exact_u8s8 and AVX2.formats() == ("u8s8_7bit", "u8u8")
    assert CpuIsa("x86_64", "avx512bw", "Skylake-SP").formats() == ("u8s8_7bit", "u8u8")  # AVX-512 without VNNI
    assert CpuIsa("aarch64", "neon", "Cortex-A78AE").exact_u8s8  # Orin's ARM cores widen: no saturation
    here = cpu_isa.detect()
    assert here.dot in ("avx512_vnni", "avx_vnni", "avx512bw", "avx2", "sse4.1", "neon_dotprod", "neon", "unknown")
    assert cpu_isa.unsafe_here({"format": "u8s8", "isa": "avx512_vnni", "model": "Xeon"}, AVX2) is not None
    assert cpu_isa.unsafe_here({"format": "u8s8_7bit", "isa": "avx2", "model": "EPYC"}, VNNI) is None


def test_fp32_ships_on_a_cpu_where_int8_is_not_faster_by_the_margin(tmp_path: Path, tiny: Path, scenes: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    _, cfg = write_config(tmp_path, tiny, scenes, build={"max_map_drop": 100, "cpu_min_speedup": 100})
    out = build_int8(cfg, progress=False)
    decision = out.report["ships"][ships.TARGET_CPU]
    assert decision["chosen"] == "fp32" and decision["min_speedup"] == 100 and decision["latency_ms"]["fp32"] > 0
    assert out.manifest["ships"] == out.report["ships"]
    text = (out.folder / "report.txt").read_text()
    assert "ships on onnxruntime-cpu: FP32" in text and "model.precision int8 runs FP32 on this CPU" in text
    assert resolve_int8_model(cfg) == tiny  # what `edge-sdk run` loads: the FP32 model, said in the log
    assert "running the FP32 model on this CPU" in caplog.text
    assert resolve_int8_model(cfg, "ort").name == "model.int8.ort.qdq.onnx"  # asked for by name: the CPU form


def test_a_cpu_form_built_with_vnni_is_refused_on_avx2_and_rebuilt_for_it(tmp_path: Path, tiny: Path, scenes: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _, cfg = write_config(tmp_path, tiny, scenes, build={"max_map_drop": 100, "repair": False})
    monkeypatch.setattr(cpu_isa, "detect", lambda: VNNI)
    built = build_int8(cfg, progress=False)
    assert built.manifest["cpu"]["isa"] == "avx512_vnni" and built.manifest["cpu"]["format"] == "u8s8"
    assert resolve_int8_model(cfg).name == "model.int8.ort.qdq.onnx"

    monkeypatch.setattr(cpu_isa, "detect", lambda: AVX2)  # the same artifact, now on a CPU without VNNI
    with pytest.raises(BuildError, match="would saturate them") as err:
        resolve_int8_model(cfg)
    assert "rebuilds for this CPU" in (err.value.fix or "")
    assert resolve_int8_model(cfg, "trt").is_file()  # the TensorRT form does not depend on the CPU

    rebuilt = build_int8(cfg, progress=False)  # the CPU is part of the build's key: not reused
    assert not rebuilt.reused and rebuilt.manifest["cpu"]["isa"] == "avx2"
    ort = rebuilt.report["int8"]["ort"]
    choice = ort["weight_format_choice"]
    assert set(choice["candidates"]) == {"u8s8_7bit", "u8u8"} and choice["chosen"] == ort["weight_format"]
    assert rebuilt.manifest["cpu"]["format"] == choice["chosen"]
    assert {a["weight_format"] for a in ort["attempts"]} == {"u8s8_7bit", "u8u8"}
    assert resolve_int8_model(cfg).is_file()


def test_a_later_measurement_is_recorded_in_the_published_build(tmp_path: Path, tiny: Path, scenes: Path) -> None:
    """What the TensorRT engine build does once it has timed INT8 against FP16: the published build keeps
    verifying (the manifest carries the new report's sha256) and the report says what ships there."""
    _, cfg = write_config(tmp_path, tiny, scenes, build={"max_map_drop": 100, "repair": False})
    out = build_int8(cfg, progress=False)
    trt = ships.choose_by_speed(ships.TARGET_TRT, "int8", "fp16", {"int8": 4.0, "fp16": 4.1}, 1.05,
                                {"gpu": "Orin (set by the test)", "tensorrt": "10.3.0"})
    record_in_build(out.folder, trt)
    assert resolve_int8_model(cfg).is_file()  # no "changed since the build"
    report = json.loads((out.folder / "report.json").read_text())
    assert set(report["ships"]) == {ships.TARGET_CPU, ships.TARGET_TRT} and report["ships"][ships.TARGET_TRT]["chosen"] == "fp16"
    assert "ships on tensorrt: FP16 (INT8 measured 1.02x FP16" in (out.folder / "report.txt").read_text()
    assert json.loads((out.folder / "manifest.json").read_text())["ships"][ships.TARGET_TRT]["chosen"] == "fp16"


def _dets(boxes: list[list[float]], scores: list[float], classes: list[int]) -> Detections:
    return Detections(np.array(boxes, np.float32).reshape(-1, 4), np.array(scores, np.float32),
                      np.array(classes, np.int64))


def test_gate_rule_sets_rare_classes_apart_and_says_so() -> None:
    counts = {1: {"objects": 73}, 2: {"objects": 13}, 3: {"objects": 1}, 4: {"objects": 0}}
    deciding, rule = deciding_classes(counts, 10)
    assert deciding == {1, 2} and "2 classes with at least 10" in rule and "1 class with fewer reported" in rule
    assert deciding_classes(counts, 0)[0] == {1, 2, 3}
    everything, why = deciding_classes({1: {"objects": 3}}, 10)
    assert everything == {1} and "no class has 10" in why


def test_precision_recall_and_score_shift_against_fp32_objects() -> None:
    ref = [_dets([[0, 0, 10, 10], [20, 20, 40, 40]], [0.9, 0.8], [0, 1])]
    # the candidate finds the first object with a lower score, misses the second, adds a false one
    runtime = [_dets([[0, 0, 10, 11], [50, 50, 60, 60]], [0.7, 0.5], [0, 0])]
    pr = precision_recall(ref, runtime)
    assert (pr["precision"], pr["recall"], pr["matched"]) == (0.5, 0.5, 1)
    low = [_dets([[0, 0, 10, 11], [20, 20, 40, 41], [50, 50, 60, 60]], [0.7, 0.2, 0.5], [0, 1, 0])]
    shift = score_shift(ref, low, 0.25)
    assert shift["paired"] == 2 and shift["below_conf_thres"] == 1 and shift["median"] == pytest.approx(-0.4, abs=1e-4)


def test_repair_stops_when_a_step_no_longer_helps_or_at_its_time_limit(tmp_path: Path, scenes: Path) -> None:
    model = tiny_detector(tmp_path / "outlier.onnx", outlier=True)
    # min_layer_sqnr_db 0: placement would keep the outlier-fed head float before repair (test_layer_sqnr.py)
    common = {"max_map_drop": 0, "max_float_layers": 2, "cpu_form": "trt", "accept_over_budget": True,
              "gate_min_class_objects": 0, "gate_bootstrap": 0, "min_layer_sqnr_db": 0}
    _, cfg = write_config(tmp_path, model, scenes, build={**common, "repair_min_gain": 100})
    stopped = build_int8(cfg, progress=False).report["int8"]["trt"]
    assert "no longer help" in stopped["repair_stopped"] and len(stopped["attempts"]) == 2
    _, cfg = write_config(tmp_path, model, scenes, build={**common, "repair_time_limit_s": 1e-6}, name="b.yaml")
    timed = build_int8(cfg, progress=False).report["int8"]["trt"]
    assert "time limit" in timed["repair_stopped"] and len(timed["attempts"]) == 1
