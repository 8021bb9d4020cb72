"""What ships on TensorRT, chosen by measurement, through `edge-sdk build` with engine.type tensorrt: the INT8 and
FP16 engines are built and timed on the device (here: the `fake_tensorrt`/`fake_pycuda` STAND-INS, with the
timings given by the test), INT8 ships only when it passed the gate and is at least build.trt_min_speedup times
faster, the decision is recorded in the build, and `edge-sdk run` (resolve_int8_model) then runs the FP16 form
where FP16 ships. The real timings come from a device: selftest --qdq, or this build on an Orin."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from edge_sdk.cli.main import main
from edge_sdk.config import load_config
from edge_sdk.engines.trt import measure
from edge_sdk.quant.artifacts import resolve_int8_model
from tests.quant.helpers import scene_frames, write_config
from tests.quant.tiny_detector import tiny_detector
from tests.trt.fake_pycuda import make_fake_pycuda
from tests.trt.fake_tensorrt import FakeState, make_fake_tensorrt


@pytest.mark.parametrize(("int8_ms", "chosen"), [(1.0, "int8"), (1.9, "fp16")])
def test_int8_ships_on_tensorrt_only_when_measured_faster_than_fp16(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     capsys: pytest.CaptureFixture[str], int8_ms: float,
                                                                     chosen: str) -> None:
    trt, _ = make_fake_tensorrt("10.3", FakeState())
    cuda = make_fake_pycuda()
    for name, module in (("tensorrt", trt), ("pycuda", cuda.package), ("pycuda.driver", cuda)):
        monkeypatch.setitem(sys.modules, name, module)
    real_time_engine = measure.time_engine

    def timed(path: Path, **kw: Any) -> measure.EngineTiming:  # the stand-in GPU has no clock: the test says
        t = real_time_engine(path, **kw)
        ms = int8_ms if t.precision == "int8" else 2.0
        return measure.EngineTiming(t.path, t.precision, ms, ms, t.runs, t.gpu, t.tensorrt)

    monkeypatch.setattr(measure, "time_engine", timed)
    frames = scene_frames(tmp_path / "frames", 3_400_000, 14)
    model = tiny_detector(tmp_path / "tiny.onnx")
    cfg_path, _ = write_config(tmp_path, model, frames, device="orin-agx", precision="int8",
                               build={"max_map_drop": 100, "trt_versions": ["10.3.0"], "trt_min_speedup": 1.5},
                               engine={"type": "tensorrt", "engine_dir": str(tmp_path / "engines")})
    assert main(["build", "--config", str(cfg_path), "--json"]) == 0
    ships = json.loads(capsys.readouterr().out)["engine"]["ships"]
    assert ships["chosen"] == chosen and ships["latency_ms"] == {"int8": int8_ms, "fp16": 2.0}
    assert ships["measured_on"]["tensorrt"] == "10.3.0.30" and "1.50x required" in ships["reason"]
    runs = resolve_int8_model(load_config(cfg_path))
    assert runs.name.endswith(".fp16.onnx") if chosen == "fp16" else runs.name == "model.int8.trt.qdq.onnx"
