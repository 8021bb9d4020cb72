"""Choosing the GPU path: memory mode per device profile, options from a config, which engines qualify."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.config.app import AppConfig
from edge_sdk.cuda.api import SlotBinding
from edge_sdk.cuda.select import (
    FixedSlotsEngine,
    as_stream_engine,
    engine_runs_on_gpu,
    memory_mode_for_profile,
    runner_options_for,
)
from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.errors import ConfigError, EngineError
from tests.cuda.models import conv_model
from tests.cuda.standin import StandInBackend, StandInEngine, tagging_compute, tagging_info


@pytest.mark.parametrize(("profile", "mode"), [("orin-agx", "mapped"), ("orin-nx", "mapped"), ("orin-nano", "mapped"),
                                               ("auto", "auto"), ("cpu", "copy")])
def test_memory_mode_follows_the_device_profile(profile: str, mode: str) -> None:
    assert memory_mode_for_profile(profile) == mode


def test_runner_options_from_a_config() -> None:
    cfg = AppConfig.model_validate({"device": "orin-nx", "sources": [{"name": "cam", "uri": "file://x.mp4"}],
                                    "engine": {"type": "tensorrt", "slots": 3}})
    opts = runner_options_for(cfg)
    assert (opts.slots, opts.memory, opts.preprocess) == (3, "mapped", "gpu")
    cpu_cfg = AppConfig.model_validate({"sources": [{"name": "cam", "uri": "file://x.mp4"}]})
    assert (runner_options_for(cpu_cfg).slots, runner_options_for(cpu_cfg).memory) == (2, "copy")


def test_a_cpu_engine_is_not_a_stream_engine(tmp_path: Path) -> None:
    with OnnxRuntimeEngine(conv_model(tmp_path / "m.onnx", input_hw=(64, 64), widths=(4,))) as engine:
        assert not engine_runs_on_gpu(engine.info)
        with pytest.raises(EngineError, match="cannot run on CUDA streams"):
            as_stream_engine(engine)


class FixedSlotsStandIn:
    """Named stand-in for TensorRtEngine's runner-facing surface (TensorRT is absent here): `slots` + `enqueue`."""

    def __init__(self, slots: int) -> None:
        self.info = tagging_info()
        self.slots = slots
        self.calls: list[tuple[int, int, int, tuple[int, ...]]] = []

    def enqueue(self, slot: int, stream_handle: int, input_ptr: int, output_ptrs: list[int] | tuple[int, ...]) -> None:
        self.calls.append((slot, stream_handle, input_ptr, tuple(output_ptrs)))


def test_an_engine_with_fixed_slots_is_wrapped_and_checked() -> None:
    inner = FixedSlotsStandIn(slots=2)
    engine = as_stream_engine(inner)  # type: ignore[arg-type]
    assert isinstance(engine, FixedSlotsEngine) and engine.info is inner.info
    engine.prepare_slots([SlotBinding(i, 100 + i, 200 + i, (300 + i,)) for i in range(2)])
    engine.enqueue(1, 101, 201, (301,))
    assert inner.calls == [(1, 101, 201, (301,))]
    with pytest.raises(EngineError, match=r"uses 3 slots but .* opened with 2"):
        engine.prepare_slots([SlotBinding(i, 0, 0, (0,)) for i in range(3)])


def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown device profile"):
        memory_mode_for_profile("orin-maxi")


def test_an_engine_implementing_the_protocol_is_used_as_it_is() -> None:
    engine = StandInEngine(StandInBackend(), tagging_info(), tagging_compute())
    assert as_stream_engine(engine) is engine  # type: ignore[arg-type]


def test_engine_tf32_and_cuda_graph_keys_reach_the_runners_sessions(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """engine.tf32 / engine.cuda_graph (config) -> OnnxRuntimeEngine -> the runner's per-slot CUDA sessions. The
    CUDA provider is absent here: the real ONNX Runtime module stands in for onnxruntime-gpu's in the check."""
    import onnxruntime

    from edge_sdk.cuda import ort_cuda
    from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine, OnnxRuntimeEngineConfig
    from tests.trt.models import tiny_detector

    model = tiny_detector(tmp_path / "tiny.onnx")
    cfg = OnnxRuntimeEngineConfig(tf32=False, cuda_graph=False)
    with OnnxRuntimeEngine.open(str(model), cfg) as engine:
        assert engine.cuda_provider_options == {"use_tf32": "0"} and engine.cuda_graph is False
        monkeypatch.setattr(ort_cuda, "_import_ort_gpu", lambda: onnxruntime)
        stream_engine = ort_cuda.OrtCudaStreamEngine.from_engine(engine)
        assert stream_engine.provider_options == {"use_tf32": "0"} and stream_engine.cuda_graph is False
    with OnnxRuntimeEngine.open(str(model), OnnxRuntimeEngineConfig()) as default:
        assert default.cuda_provider_options == {} and default.cuda_graph is True  # ONNX Runtime's defaults
