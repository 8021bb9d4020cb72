"""The INT8 build's mechanics on a tiny seeded detector (fast): artifacts, manifest, reuse and invalidation,
repair, gate failure with report, accepted-over-budget, and resolve_int8_model. The demo-model tests
(test_demo_int8.py) check placement and accuracy on the real model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import onnx
import pytest

from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.engines.trt.calibrator import read_calibration_cache
from edge_sdk.errors import BuildError, GateFailed
from edge_sdk.quant import build_int8, resolve_int8_model
from edge_sdk.quant.cpu_isa import detect
from edge_sdk.quant.placement import summarize_qdq
from edge_sdk.quant.stats import TensorRanges
from tests.quant.helpers import black_frames, scene_frames, write_config
from tests.quant.tiny_detector import tiny_detector

OPS = ["Conv", "MatMul", "Gemm"]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scene_frames(tmp_path_factory.mktemp("scenes"), 3_100_000, 16)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_detector(tmp_path_factory.mktemp("model") / "tiny.onnx")


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_build_publishes_artifacts_reuses_and_rebuilds_on_change(tmp_path: Path, tiny: Path, scenes: Path) -> None:
    frames = tmp_path / "frames"
    shutil.copytree(scenes, frames)
    # The tiny random detector is far more sensitive than a trained one: a loose budget, mechanics only.
    _, cfg = write_config(tmp_path, tiny, frames, build={"max_map_drop": 100})
    out = build_int8(cfg, progress=False)
    assert not out.reused and out.report["decision"] == "pass"
    man = out.manifest
    assert set(man["files"]) >= {"trt_qdq", "ort_qdq", "ranges", "trt_cache_8.6.1", "trt_cache_10.3.0", "report_json"}
    assert _files(out.folder) == sorted([e["name"] for e in man["files"].values()] + ["manifest.json"])
    assert man["model"]["sha256"] == out.report["model"]["sha256"] and len(man["key"]) == 64
    assert {"onnxruntime", "onnx", "numpy"} <= set(man["versions"])

    # TensorRT caches: read back with the TensorRT layer's own reader; scales are the ranges' amax / 127.
    ranges = TensorRanges.load(out.folder / "ranges.json")
    for version, number in (("8.6.1", "8601"), ("10.3.0", "100300")):
        cache = out.folder / man["files"][f"trt_cache_{version}"]["name"]
        data, scales = read_calibration_cache(cache)
        assert data.decode().splitlines()[0] == f"TRT-{number}-EntropyCalibration2"
        assert set(scales) == set(ranges.ranges)
        assert scales["images"] == pytest.approx(ranges.amax("images") / 127, rel=1e-6)

    # The run path finds the CPU form for ONNX Runtime and the TensorRT form for TensorRT, and both run.
    assert resolve_int8_model(cfg) == out.folder / "model.int8.ort.qdq.onnx"
    assert resolve_int8_model(cfg, "trt") == out.folder / "model.int8.trt.qdq.onnx"
    with OnnxRuntimeEngine(resolve_int8_model(cfg)) as engine:
        assert engine.info.precision == "int8"

    mtimes = {p.name: p.stat().st_mtime_ns for p in out.folder.iterdir()}
    again = build_int8(cfg, progress=False)
    assert again.reused and again.report["reused"] and "reused" in again.summary
    assert {p.name: p.stat().st_mtime_ns for p in out.folder.iterdir()} == mtimes

    forced = build_int8(cfg, force=True, progress=False)
    assert not forced.reused and forced.manifest["key"] == man["key"]

    # A new frame makes the build stale for `run`, and the next build rebuilds with a new key.
    shutil.copy(next(scenes.iterdir()), frames / "extra.png")
    (frames / "extra.png").write_bytes((frames / "extra.png").read_bytes() + b"\0")
    with pytest.raises(BuildError, match=r"stale: the calibration frames .* changed") as err:
        resolve_int8_model(cfg)
    assert "edge-sdk build" in (err.value.fix or "")
    rebuilt = build_int8(cfg, progress=False)
    assert not rebuilt.reused and rebuilt.manifest["key"] != man["key"]

    # A settings change rebuilds too; an edited artifact is caught by its sha256.
    _, cfg2 = write_config(tmp_path, tiny, frames, build={"max_map_drop": 100, "method": "percentile"})
    with pytest.raises(BuildError, match="settings changed"):
        resolve_int8_model(cfg2)
    assert not build_int8(cfg2, progress=False).reused
    model = out.folder / "model.int8.ort.qdq.onnx"
    model.write_bytes(model.read_bytes() + b"\0")
    with pytest.raises(BuildError, match="changed since the build"):
        resolve_int8_model(cfg2)
    assert not build_int8(cfg2, progress=False).reused
    assert resolve_int8_model(cfg2) == model


def test_repair_keeps_the_sensitive_layer_in_float(tmp_path: Path, scenes: Path) -> None:
    model = tiny_detector(tmp_path / "outlier.onnx", outlier=True)
    # cpu_float_input_layer off: with c0 float from the start only one layer of this 3-conv model could be repaired.
    # Every class decides (4 held-out frames: each class has few objects); repair_min_gain 0: every step is taken.
    # min_layer_sqnr_db 0: placement would keep the head float before the gate (test_layer_sqnr.py); repair is tested.
    _, cfg = write_config(tmp_path, model, scenes, build={"max_map_drop": 8, "max_float_layers": 2,
                                                          "cpu_float_input_layer": False, "gate_min_class_objects": 0,
                                                          "repair_min_gain": 0, "min_layer_sqnr_db": 0})
    out = build_int8(cfg, progress=False)
    rep = out.report
    assert rep["decision"] == "pass after repair", rep["decision_detail"]
    trt = rep["int8"]["trt"]
    assert not trt["attempts"][0]["passed"] and trt["attempts"][-1]["passed"]
    assert trt["sensitivity"][0]["layer"] == "/head/Conv"
    assert trt["layers_in_float"][0] == "/head/Conv" and trt["int8_layers"] >= 1
    summary = summarize_qdq(onnx.load(str(out.model("trt"))), OPS)
    assert "/head/Conv" in summary.float_compute
    assert "layers kept in float" in (out.folder / "report.txt").read_text()


def test_poor_calibration_fails_the_gate_with_a_report_and_no_artifacts(tmp_path: Path, tiny: Path, scenes: Path) -> None:
    black = black_frames(tmp_path / "black", 12)
    _, cfg = write_config(tmp_path, tiny, black, calibration={"holdout_dir": str(scenes), "min_frames": 8},
                          build={"max_float_layers": 2})
    with pytest.raises(GateFailed, match="refused by the accuracy gate") as err:
        build_int8(cfg, progress=False)
    rep = err.value.report
    assert rep["decision"] == "fail" and "repair tried up to 2 layers" in rep["decision_detail"]
    assert rep["frames"]["holdout_from"] == "holdout_dir"
    # TensorRT form: 3 convs to repair, up to 2 in float; CPU form: c0 is float from the start, 1 left, after
    # attempt 0 in each weight format this CPU offers (one with VNNI; 7-bit and U8U8 on AVX2, chosen by measurement)
    formats = detect().formats()
    ort = rep["int8"]["ort"]
    assert [len(rep["int8"][f]["attempts"]) for f in ("trt", "ort")] == [3, len(formats) + 1]
    assert [a["weight_format"] for a in ort["attempts"]] == [*formats, ort["weight_format"]]
    folder = tmp_path / "state" / "build" / "tiny"
    assert _files(folder) == ["report.failed.json", "report.failed.txt"]
    assert json.loads((folder / "report.failed.json").read_text())["decision"] == "fail"
    assert not [p for p in folder.parent.iterdir() if "staging" in p.name]
    with pytest.raises(BuildError, match="no INT8 build"):
        resolve_int8_model(cfg)

    _, no_repair = write_config(tmp_path, tiny, black, calibration={"holdout_dir": str(scenes), "min_frames": 8},
                                build={"repair": False}, name="b.yaml")
    with pytest.raises(GateFailed) as err2:
        build_int8(no_repair, progress=False)
    assert "no repair attempted" in err2.value.report["decision_detail"]


def test_accept_over_budget_ships_and_says_so(tmp_path: Path, tiny: Path, scenes: Path) -> None:
    black = black_frames(tmp_path / "black", 12)
    _, cfg = write_config(tmp_path, tiny, black, calibration={"holdout_dir": str(scenes), "min_frames": 8},
                          build={"repair": False, "accept_over_budget": True})
    out = build_int8(cfg, progress=False)
    assert out.report["decision"] == "accepted over budget"
    assert "build.accept_over_budget" in out.report["decision_detail"]
    assert resolve_int8_model(cfg).is_file()
