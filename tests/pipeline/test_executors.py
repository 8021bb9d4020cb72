"""Which executor runs an engine (chosen by the engine: its form on CUDA streams, or none), the CUDA executor's
options from a config, and how an engine takes a batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.config.app import AppConfig
from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.engines.base import EngineInfo, TensorSpec
from edge_sdk.engines.batch import BatchPlan
from edge_sdk.errors import ConfigError
from edge_sdk.pipeline.executors import executor_for
from edge_sdk.pipeline.executors.cpu import CpuExecutor
from edge_sdk.pipeline.executors.cuda import CudaExecutor, memory_mode_for_profile, runner_options_for
from edge_sdk.preprocess.spec import ultralytics_spec
from tests.cuda.models import conv_model

CFG = {"sources": [{"name": "cam", "uri": "file://x.mp4"}]}


@pytest.mark.parametrize(("profile", "mode"), [("orin-agx", "mapped"), ("orin-nx", "mapped"), ("orin-nano", "mapped"),
                                               ("auto", "auto"), ("cpu", "copy")])
def test_memory_mode_follows_the_device_profile(profile: str, mode: str) -> None:
    assert memory_mode_for_profile(profile) == mode


def test_unknown_profile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown device profile"):
        memory_mode_for_profile("orin-maxi")


def test_runner_options_from_a_config() -> None:
    cfg = AppConfig.model_validate({**CFG, "device": "orin-nx", "engine": {"type": "tensorrt", "slots": 3}})
    opts = runner_options_for(cfg)
    assert (opts.slots, opts.memory, opts.preprocess) == (3, "mapped", "gpu")
    cpu_cfg = AppConfig.model_validate(CFG)
    assert (runner_options_for(cpu_cfg).slots, runner_options_for(cpu_cfg).memory) == (2, "copy")


def test_a_cpu_engine_gets_cpu_workers(tmp_path: Path) -> None:
    with OnnxRuntimeEngine(conv_model(tmp_path / "m.onnx", input_hw=(64, 64), widths=(4,)), workers=2) as engine:
        assert not engine.info.runs_on_gpu and engine.stream_engine() is None
        executor = executor_for(AppConfig.model_validate(CFG), engine, ultralytics_spec((64, 64)))
        assert isinstance(executor, CpuExecutor) and executor.threads == 2


class _OnGpu(OnnxRuntimeEngine):
    """An ONNX Runtime engine that reports the CUDA provider (absent here): its stream form is asked for."""

    def stream_engine(self):  # type: ignore[no-untyped-def]
        return self  # stands in for the per-slot sessions (never opened here)


def test_an_engine_with_a_stream_form_gets_the_cuda_runner(tmp_path: Path) -> None:
    with _OnGpu(conv_model(tmp_path / "m.onnx", input_hw=(64, 64), widths=(4,))) as engine:
        executor = executor_for(AppConfig.model_validate(CFG), engine, ultralytics_spec((64, 64)))
        assert isinstance(executor, CudaExecutor) and executor.threads == 1
        assert "restart" in executor.refuses_swap(engine)


def test_engine_tf32_and_cuda_graph_keys_reach_the_runners_sessions(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """engine.tf32 / engine.cuda_graph (config) -> OnnxRuntimeEngine -> the runner's per-slot CUDA sessions. The
    CUDA provider is absent here: the real ONNX Runtime module stands in for onnxruntime-gpu's in the check."""
    import onnxruntime

    from edge_sdk.cuda import ort_cuda
    from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngineConfig
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


def _info(lead: int | str, batch_range: tuple[int, int] | None = None) -> EngineInfo:
    return EngineInfo("x", "m.onnx", "", "fp32", (TensorSpec("images", (lead, 3, 32, 32), "float32"),),
                      (TensorSpec("out", (lead, 8), "float32"),), "cpu", batch_range=batch_range)


@pytest.mark.parametrize(("lead", "batch_range", "wanted", "plan"), [
    ("batch", None, 8, (8, 8, True)),  # dynamic: exactly the frames of each batch
    ("batch", None, 1, (1, 1, True)),
    (1, None, 8, (1, 1, True)),  # a fixed batch of 1: one frame at a time
    (4, None, 8, (4, 4, False)),  # a fixed batch of 4: filled up to 4, the rest padding
    (4, None, 2, (4, 2, False)),
    (4, None, 1, (4, 1, False)),
    (-1, (1, 8), 4, (4, 4, True)),  # a TensorRT profile 1..8 asked for 4
    (-1, (1, 8), 16, (8, 8, True)),
    (-1, (8, 8), 4, (8, 4, False)),  # a profile of exactly 8 (DLA): padded
])
def test_how_an_engine_takes_a_batch(lead: int | str, batch_range: tuple[int, int] | None, wanted: int,
                                     plan: tuple[int, int, bool]) -> None:
    got = BatchPlan.of(_info(lead, batch_range), wanted)
    assert (got.rows, got.fill, got.variable) == plan
