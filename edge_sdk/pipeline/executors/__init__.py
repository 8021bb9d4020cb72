"""Executors: what runs the engine on the frame reader's batches (base.py: the interface and its records).

- `cpu.CpuExecutor`: worker threads calling `Engine.infer` (ONNX Runtime on the CPU).
- `cuda.CudaExecutor`: the CUDA-stream runner, for engines that enqueue on CUDA streams (ONNX Runtime's CUDA
  provider, TensorRT).

The engine chooses: `Engine.stream_engine()` is its form on CUDA streams, or None for an engine without one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge_sdk.pipeline.executors.base import Executor

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.engines.base import Engine
    from edge_sdk.preprocess.spec import PreprocessSpec


def max_batch_for(cfg: AppConfig) -> int:
    """The most frames per inference the pipeline forms: `engine.max_batch`, else the number of cameras."""
    return cfg.engine.max_batch or len(cfg.sources)


def executor_for(cfg: AppConfig, engine: Engine, spec: PreprocessSpec) -> Executor:
    """The executor `engine` runs on: the CUDA-stream runner for an engine with a stream form, else CPU workers;
    batches of up to `max_batch_for(cfg)` frames, as many as the engine takes."""
    max_batch = max_batch_for(cfg)
    stream = engine.stream_engine()
    if stream is None:
        from edge_sdk.pipeline.executors.cpu import CpuExecutor

        return CpuExecutor(engine, spec, max_batch)
    from edge_sdk.pipeline.executors.cuda import CudaExecutor

    return CudaExecutor.from_config(cfg, stream, spec, max_batch)


__all__ = ["Executor", "executor_for", "max_batch_for"]
