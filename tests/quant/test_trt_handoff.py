"""Hand-off from the INT8 step to the TensorRT engine builder, through `edge-sdk build` with engine.type tensorrt.

TensorRT is absent here: `fake_tensorrt` (the TensorRT layer's STAND-IN, surface checked against real API
dumps) takes its place. This checks edge-sdk's wiring only - the TensorRT-form Q/DQ model and the calibration
cache written for the reported TensorRT version reach the builder, and the cache-only DLA calibrator reads our
cache - never that TensorRT accepts the model. That is measured on a Jetson.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from edge_sdk.cli.main import main
from tests.quant.helpers import scene_frames, write_config
from tests.quant.tiny_detector import tiny_detector
from tests.trt.fake_tensorrt import FakeState, make_fake_tensorrt


@pytest.mark.parametrize(("path", "number"), [("8.6", "8601"), ("10", "100300")])
def test_build_hands_the_trt_form_and_cache_to_the_engine_builder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture[str], path: str,
                                                                  number: str) -> None:
    module, rec = make_fake_tensorrt(path, FakeState(num_dla_cores=2))
    monkeypatch.setitem(sys.modules, "tensorrt", module)
    frames = scene_frames(tmp_path / "frames", 3_400_000, 14)
    model = tiny_detector(tmp_path / "tiny.onnx")
    cfg_path, _ = write_config(tmp_path, model, frames, device="orin-agx", build={"max_map_drop": 100, "trt_versions": ["8.6.1"]},
                               engine={"type": "tensorrt", "dla_core": 0, "engine_dir": str(tmp_path / "engines")})
    assert main(["build", "--config", str(cfg_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    build_dir = tmp_path / "state" / "build" / "tiny"
    parsed = [Path(p[0]) for p in rec.args_of("OnnxParser.parse_from_file")]
    assert parsed and parsed[0].name in ("model.int8.trt.qdq.onnx", "model.int8.trt.qdq.fp16.onnx")
    cache = build_dir / f"calibration.trt{number}.cache"
    assert cache.read_text().splitlines()[0] == f"TRT-{number}-EntropyCalibration2"  # written for this version
    calls = [c.target for c in rec.calls]
    assert "IInt8EntropyCalibrator2.read_calibration_cache" in calls
    assert out["engine"]["precision"] == "int8" and not out["engine"]["reused"]
    assert Path(out["engine"]["engine_path"]).is_file()
    # no pycuda here, so the INT8 and FP16 engines cannot be timed: INT8 cannot be shown faster, FP16 ships, recorded
    ships = out["engine"]["ships"]
    assert ships["target"] == "tensorrt" and ships["chosen"] == "fp16" and "was not timed" in ships["reason"]
    manifest = json.loads((build_dir / "manifest.json").read_text())
    assert manifest["ships"]["tensorrt"]["chosen"] == "fp16"
    assert "ships on tensorrt: FP16" in (build_dir / "report.txt").read_text()
