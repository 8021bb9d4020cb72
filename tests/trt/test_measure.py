"""Timing an engine on the device for the INT8-or-FP16 choice, with the `fake_tensorrt`/`fake_pycuda` STAND-INS
(whose events "measure" what the test sets): the engine runs alone, on device-resident buffers, warm-up excluded,
everything freed. The real figures come from the GPU machine (tools/gpu/run_all.sh) or an Orin (selftest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_sdk.device.profiles import load_profile
from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig
from edge_sdk.engines.trt.builder import build_engine
from edge_sdk.engines.trt.measure import time_engines
from tests.trt.conftest import InstallTrt
from tests.trt.fake_tensorrt import FakeState


def test_edge_sdk_logic_engines_are_timed_alone_on_resident_buffers(install_fake_trt: InstallTrt, fake_cuda: Any,
                                                                    detector: Path, qdq_detector: Path,
                                                                    tmp_path: Path) -> None:
    runs: list[dict[str, int]] = []
    install_fake_trt("10.3", FakeState(on_execute=lambda addr, stream: runs.append(addr)))
    agx = load_profile("orin-agx")
    fp16 = build_engine(detector, None, agx, TensorRtEngineConfig(), tmp_path / "e", precision="fp16").engine_path
    int8 = build_engine(qdq_detector, None, agx, TensorRtEngineConfig(), tmp_path / "e").engine_path
    fake_cuda.event_ms = 2.5
    timings = time_engines({"fp16": fp16, "int8": int8}, runs=7, warmup=3)
    assert [t.precision for t in timings.values()] == ["fp16", "int8"]
    assert timings["int8"].median_ms == 2.5 and timings["int8"].runs == 7 and timings["fp16"].gpu
    assert len(runs) == 2 * (7 + 3) and len({tuple(sorted(a.items())) for a in runs}) == 2  # the same buffers
    assert not fake_cuda.memory.blocks and fake_cuda.memory.context_depth == 0


def test_edge_sdk_logic_int8_and_fp16_engines_of_one_model_are_built_and_timed(install_fake_trt: InstallTrt,
                                                                               fake_cuda: Any, detector: Path,
                                                                               qdq_detector: Path, tmp_path: Path) -> None:
    from edge_sdk.engines.trt.measure import time_int8_against_fp16

    _, rec = install_fake_trt("10.3")
    fake_cuda.event_ms = 1.5
    got = time_int8_against_fp16(qdq_detector, detector, None, load_profile("orin-agx"), TensorRtEngineConfig(),
                                 tmp_path / "e", runs=4, warmup=1)
    assert got.latency_ms == {"int8": 1.5, "fp16": 1.5} and got.measured_on["tensorrt"] == "10.3.0.30"
    assert [Path(p).name for p in got.engines.values()] == ["tiny.qdq.int8.gpu.engine", "tiny.fp16.gpu.engine"]
    assert sorted(c.args[0].name for c in rec.of("IBuilderConfig.set_flag")) == ["FP16", "FP16", "INT8"]
