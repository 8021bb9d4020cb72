"""The pipeline's GPU branch: capture -> CUDA-stream runner (upload, letterbox kernel, engine, download on
N slots) -> decode + publish. Used whenever the engine runs on a GPU or DLA; the CPU keeps its threaded
preprocess and infer stages (`pipeline.py`).

The runner is opened, used and closed on one thread (the stage thread), as CUDA contexts are per thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from edge_sdk.frame import Frame

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.cuda.runner import CudaRunner
    from edge_sdk.engines.base import Engine
    from edge_sdk.preprocess.spec import PreprocessSpec
    from edge_sdk.sources.round_robin import RoundRobin

RunnerFactory = Callable[[], "CudaRunner"]


def gpu_runner_factory(cfg: AppConfig, engine: Engine, spec: PreprocessSpec | None = None) -> RunnerFactory | None:
    """A factory of the CUDA runner for `engine` if it runs on a GPU/DLA, else None (the CPU path). `spec`: the
    model's preprocessing (None: Ultralytics' letterbox)."""
    from edge_sdk.cuda.select import engine_runs_on_gpu

    if not engine_runs_on_gpu(engine.info):
        return None
    from edge_sdk.cuda.runner import CudaRunner
    from edge_sdk.cuda.select import as_stream_engine, runner_options_for

    options = runner_options_for(cfg, spec)
    stream_engine = as_stream_engine(engine)
    return lambda: CudaRunner(stream_engine, options)


def round_robin_frames(frames: RoundRobin, stopped: Callable[[], bool]) -> Iterator[Frame | None]:
    """Frames from all sources in turn; `None` when none came in time (so the runner returns what is done).
    Ends when every source has ended or `stopped()` is true."""
    while frames.active and not stopped():
        yield frames.next(0.05 if len(frames.active) > 1 else 0.2)


def run_gpu_stage(make_runner: RunnerFactory, frames: Iterator[Frame | None],
                  emit: Callable[[Frame, Any, list[Any], dict[str, float]], bool]) -> None:
    """Push `frames` through the runner and hand each finished one to `emit` (frame, letterbox, outputs,
    timings) in submission order; stops early when `emit` returns False."""
    from edge_sdk.cuda.stage import run_frames

    with make_runner() as runner:
        last = time.perf_counter()
        for res in run_frames(runner, frames):
            now = time.perf_counter()
            timings = dict(res.timings)
            timings["infer"] = now - last  # time between finished frames: the runner's throughput
            last = now
            if res.frame is None or not emit(res.frame, res.letterbox, res.outputs, timings):
                break
