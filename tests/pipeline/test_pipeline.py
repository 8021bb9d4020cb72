"""The threaded pipeline on the real ONNX Runtime engine and real OpenCV video decoding."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edge_sdk.config import load_config
from edge_sdk.daemon import run_service
from edge_sdk.frame import FrameResult
from tests.pipeline.conftest import app_yaml, write_video

ROOT = Path(__file__).resolve().parents[2]


def test_every_frame_in_order_with_boxes_in_original_pixels(tmp_path: Path, video: Path, const_model: Path) -> None:
    cfg = load_config(app_yaml(tmp_path, const_model, f"file://{video}"))
    got: list[FrameResult] = []
    summary = run_service(cfg, on_result=got.append)
    assert summary.frames == 40 and summary.stopped_by == "end of stream"
    assert [r.frame.frame_id for r in got] == list(range(40))
    assert all(r.frame.camera == "cam0" for r in got)
    t = [r.frame.t_capture_mono for r in got]
    assert t == sorted(t)
    # 320x240 letterboxed into 64x64: scale 0.2, pad_y 8 -> box (24,28)-(40,36) maps to (120,100)-(200,140)
    r = got[0]
    assert r.detections.class_ids.tolist() == [1]
    np.testing.assert_allclose(r.detections.boxes[0], [120, 100, 200, 140], atol=0.5)
    assert summary.stats["stages"]["infer"]["frames"] == 40


def test_max_frames_stops_early(tmp_path: Path, video: Path, const_model: Path) -> None:
    cfg = load_config(app_yaml(tmp_path, const_model, f"file://{video}"))
    summary = run_service(cfg, max_frames=7)
    assert summary.frames == 7 and summary.stopped_by == "max frames (7)"


def test_class_filter_by_name(tmp_path: Path, video: Path, const_model: Path) -> None:
    cfg = load_config(app_yaml(tmp_path, const_model, f"file://{video}", "decode:\n  classes: [person]\n"))
    summary = run_service(cfg, max_frames=5)
    assert summary.frames == 5 and summary.detections == 0


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def test_sigterm_drains_and_exits_zero(tmp_path: Path, const_model: Path) -> None:
    long_video = write_video(tmp_path / "long.avi", 300)
    cfg = app_yaml(tmp_path, const_model, f"file://{long_video}?realtime=1")
    proc = subprocess.Popen([sys.executable, "-m", "edge_sdk.cli.main", "run", "--config", str(cfg), "--json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stderr is not None
    head = []  # wait for the first frame through the pipeline (the signal handlers are in place by then)
    for line in proc.stderr:
        head.append(line)
        if "ready: engine loaded" in line:
            break
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    err = "".join(head) + err
    assert proc.returncode == 0, err
    import json

    summary = json.loads(out)
    assert summary["stopped_by"] == "SIGTERM"
    assert 0 < summary["frames"] < 300
    assert "draining" in err


@pytest.mark.parametrize("case", ["missing", "corrupt", "not_image", "bad_source"])
def test_bad_input_gives_one_clear_error(tmp_path: Path, video: Path, const_model: Path, case: str) -> None:
    model, uri, expect = const_model, f"file://{video}", ""
    if case == "missing":
        model, expect = tmp_path / "nope.onnx", "model file not found"
    elif case == "corrupt":
        model = tmp_path / "corrupt.onnx"
        model.write_bytes(const_model.read_bytes()[:100])
        expect = "cannot read ONNX model"
    elif case == "not_image":
        model = tmp_path / "vec.onnx"
        g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 9
        onnx.save(m, str(model))
        expect = "a detector takes one image tensor"
    elif case == "bad_source":
        uri, expect = f"file://{tmp_path}/missing.mp4", "file not found"
    res = _cli("run", "--config", str(app_yaml(tmp_path, model, uri)), "--max-frames", "3")
    assert res.returncode != 0
    assert expect in res.stderr
    assert "Traceback" not in res.stderr
    assert res.stderr.count("error:") == 1


def test_help_lists_examples_and_works_without_heavy_modules() -> None:
    code = ("import sys; from edge_sdk.cli.main import build_parser; build_parser().format_help(); "
            "bad=[m for m in ('onnxruntime','paho','tensorrt','pycuda','cv2') if m in sys.modules]; print(bad)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]"
    assert "examples:" in _cli("run", "--help").stdout
