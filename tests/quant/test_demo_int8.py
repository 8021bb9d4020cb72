"""The INT8 step on the real demo model with a small calibration set: Q/DQ placement of both forms, the
models run (also under `edge-sdk run`), the gate passes; all-black calibration frames make it fail and the
report says so; an unchanged rebuild is reused.

The gate compares INT8 with FP32's own detections (no labels). On a handful of held-out frames its
mAP50-95 agreement moves by about a point from frame sampling alone, so the passing test gives it a budget
of 5 points; tools/bench_int8.py measures the drop against ground truth on 300 frames.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.errors import GateFailed
from edge_sdk.quant import build_int8, resolve_int8_model
from edge_sdk.quant.build import BuildOutcome
from edge_sdk.quant.placement import plan_graph, summarize_qdq
from tests.quant.helpers import black_frames, scene_frames, write_config

ROOT = Path(__file__).resolve().parents[2]
OPS = ["Conv", "MatMul", "Gemm"]
SMALL_SET = {"min_frames": 16, "min_holdout_frames": 8, "holdout_fraction": 0.34}


@pytest.fixture(scope="module")
def demo_frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scene_frames(tmp_path_factory.mktemp("frames"), 2_500_000, 30)


@pytest.fixture(scope="module")
def demo_build(demo_model: Path, demo_frames: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildOutcome]:
    folder = tmp_path_factory.mktemp("app")
    path, cfg = write_config(folder, demo_model, demo_frames, calibration=SMALL_SET, precision="int8",
                             build={"method": "percentile", "max_map_drop": 5.0, "repair": False})
    return path, build_int8(cfg, progress=False)


def test_demo_int8_passes_the_gate(demo_build: tuple[Path, BuildOutcome]) -> None:
    _, out = demo_build
    rep = out.report
    assert rep["decision"] == "pass", rep["decision_detail"]
    assert rep["frames"]["calibration"] + rep["frames"]["holdout"] == 30 and rep["frames"]["holdout"] >= 8
    assert rep["reference"]["objects"] > 20  # the demo model finds objects in the generated scenes
    for form in ("trt", "ort"):
        score = rep["int8"][form]
        assert score["drop"] is not None and score["drop"] <= 5.0
        lo, hi = score["drop_interval90"]  # 20 bootstrap draws of the held-out frames (build.gate_bootstrap)
        assert lo <= hi and hi - lo > 0.0  # a handful of frames: never a point
        assert score["map50"] >= 95.0  # at IoU 0.5 INT8 finds what FP32 finds
        assert score["sqnr_db"]["output0"] > 25.0
        # every conv but the DFL one; the CPU form keeps the stem conv (3 input channels) float by design
        assert score["int8_layers"] == score["eligible_layers"] == (63 if form == "trt" else 62)
    assert rep["method"] == {"method": "percentile", "histogram_bins": 2048, "percentile": 99.999}
    assert {"fp32_ms", "int8_trt_ms", "int8_ort_ms"} <= set(rep["speed"])


def test_demo_tensorrt_form_has_the_intended_qdq_placement(demo_build: tuple[Path, BuildOutcome], demo_model: Path) -> None:
    _, out = demo_build
    model = onnx.load(str(out.model("trt")))
    s = summarize_qdq(model, OPS)
    plan = plan_graph(onnx.load(str(demo_model)), OPS)
    assert set(s.quantized) == set(plan.compute) and s.float_compute == ("/detect/dfl/conv/Conv",)
    assert s.activation_dq_consumers == {"Conv": 63}  # Q/DQ only on conv inputs: SiLU, Add, Concat, head stay float
    assert s.activation_zero_points_zero and s.activation_types == ("int8",) and s.weights_per_channel
    producers = {o: n for n in model.graph.node for o in n.output}
    for node in model.graph.node:
        if node.op_type == "QuantizeLinear" and node.input[0] in producers:
            # quantized activations: the image, SiLU outputs (Mul), and the C2f/SPPF/FPN joins feeding convs
            assert producers[node.input[0]].op_type in {"Mul", "Concat", "MaxPool", "Resize", "Split", "Slice", "Add",
                                                         "QuantizeLinear", "DequantizeLinear"}
        if node.op_type in ("Sigmoid", "Softmax"):
            assert all(producers[i].op_type != "DequantizeLinear" for i in node.input if i in producers)


def test_demo_cpu_form_runs_on_onnx_runtime_integer_kernels(demo_build: tuple[Path, BuildOutcome]) -> None:
    _, out = demo_build
    model = onnx.load(str(out.model("ort")))
    s = summarize_qdq(model, OPS)
    assert s.activation_types == ("uint8",) and s.weights_per_channel and len(s.quantized) == 62
    assert set(s.float_compute) == {"/b0/conv/Conv", "/detect/dfl/conv/Conv"}
    # copy ops share one range with their inputs, so ONNX Runtime moves UINT8 bytes through them
    assert {"Slice", "Concat", "MaxPool", "Resize"} <= set(s.activation_dq_consumers)
    x = np.random.default_rng(5).random((1, 3, 640, 640), dtype=np.float32)
    with OnnxRuntimeEngine(out.model("ort")) as engine, OnnxRuntimeEngine(out.model("ort"), graph_rewrites=False) as plain:
        assert engine.info.precision == "int8" and engine.info.outputs[0].shape == (1, 10, 8400)
        # both FPN upsamples run as NHWC channel copies instead of ONNX Runtime's UINT8 Resize, bit for bit; the
        # DFL as reductions; the six logit convs of the head (float outputs) as integer matmuls on the UINT8
        # bytes; the 13 Concats (one range for all they join) on the UINT8 bytes; the SiLUs as one byte lookup
        # each (the same bytes as QLinearSigmoid + QLinearMul): all 57 but the float stem's. The integer matmul
        # takes INT8 weights: with U8U8 weights (chosen by measurement on a CPU without VNNI, cpu_isa.py) the six
        # logit convs run as float convs on prepared weights instead
        logits = "float-conv-weights" if out.report["int8"]["ort"]["weight_format"] == "u8u8" else "qdq-pointwise-matmul"
        assert engine.info.extra["graph_rewrites"] == {"softmax-expectation": 1, "qdq-nearest-upsample": 2,
                                                       "qdq-byte-concat": 13, "qdq-silu-lookup": 56, logits: 6}
        fast, reference = engine.infer(x)[0], plain.infer(x)[0]
    np.testing.assert_allclose(fast, reference, rtol=1e-5, atol=1e-3)  # the DFL rewrite reorders float sums
    assert float(np.abs(reference).max()) > 1.0


def test_demo_int8_under_edge_sdk_run_and_reuse(demo_build: tuple[Path, BuildOutcome], demo_model: Path,
                                                 demo_frames: Path) -> None:
    path, out = demo_build
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "run", "--config", str(path), "--max-frames", "3",
                          "--no-mqtt", "--json"], cwd=path.parent, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    summary: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["frames"] == 3 and summary["detections"] > 0
    assert "model.int8.ort.qdq.onnx" in run.stderr
    _, cfg = write_config(path.parent, demo_model, demo_frames,
                          calibration=SMALL_SET, precision="int8", name="again.yaml",
                          build={"method": "percentile", "max_map_drop": 5.0, "repair": False})
    again = build_int8(cfg, progress=False)
    assert again.reused and again.folder == out.folder
    assert resolve_int8_model(cfg) == out.model("ort")


def test_bench_int8_head_to_head_of_the_shipped_build(demo_build: tuple[Path, BuildOutcome], tmp_path: Path) -> None:
    """tools/bench_int8.py --head-to-head-only times FP32 against the CPU form in the build directory, nothing
    else, and writes every round's speedup (the values are timings: only their shape and consistency are
    checked)."""
    _, out = demo_build
    tool = [sys.executable, str(ROOT / "tools/bench_int8.py"), "--head-to-head-only", "--work", str(tmp_path / "work"),
            "--eval-seeds", "1000000:1000001", "--threads", "1", "--workers", "2", "--rounds", "2"]
    result = tmp_path / "h2h.json"
    run = subprocess.run([*tool, "--built", str(out.folder), "--json", str(result)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    data = json.loads(result.read_text())
    assert data["head_to_head"]["model"] == "INT8 edge-sdk build, CPU form (0 layers in float)"  # repair is off
    assert data["rounds"] == 2 and data["workers"] == 2 and data["threads"] == [1]
    speedup = data["head_to_head"]["speedup"]
    assert set(speedup) == {"1T", "2x1T"}
    for figures in speedup.values():
        assert len(figures["rounds"]) == 2 and all(r > 0 for r in figures["rounds"])
        assert figures["min"] == min(figures["rounds"]) and figures["max"] == max(figures["rounds"])
        assert figures["min"] <= figures["median"] <= figures["max"]
    assert "1T" in run.stdout and "2x1T" in run.stdout  # the printed table
    assert not (tmp_path / "work" / "models").exists()  # nothing quantized, no per-method table
    missing = subprocess.run(tool, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and "--head-to-head-only needs --built DIR" in missing.stderr


def test_demo_all_black_calibration_fails_and_says_so(demo_model: Path, demo_frames: Path, tmp_path: Path) -> None:
    black = black_frames(tmp_path / "black", 10)
    _, cfg = write_config(tmp_path, demo_model, black, calibration={"holdout_dir": str(demo_frames), "min_frames": 8,
                                                                    "min_holdout_frames": 4, "max_holdout_frames": 8},
                          build={"method": "minmax", "repair": False})
    with pytest.raises(GateFailed) as err:
        build_int8(cfg, progress=False)
    rep = err.value.report
    assert rep["decision"] == "fail" and "no repair attempted" in rep["decision_detail"]
    assert all(f["drop"] > 10 for f in rep["int8"].values())  # ranges from black frames clip real activations
    assert (tmp_path / "state" / "build" / "yolo-demo" / "report.failed.txt").read_text().startswith("INT8 build: FAIL")
    assert not (tmp_path / "state" / "build" / "yolo-demo" / "manifest.json").exists()
