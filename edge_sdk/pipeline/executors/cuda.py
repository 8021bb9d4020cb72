"""CUDA executor: one thread drives the CUDA-stream runner (edge_sdk/cuda/runner.py): batches go into its slots
(upload, GPU letterbox, inference and download of one slot overlap those of the others) and come back in order.

Used for every engine that enqueues on CUDA streams (`Engine.stream_engine()`: ONNX Runtime's CUDA provider,
TensorRT, on a GPU or a DLA). The runner is opened, used and closed on the executor's thread. Its options come from
the config (`runner_options_for`): slots from `engine.slots`, the memory mode from the device profile, GPU
preprocessing where the kernel does what the model's spec asks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from edge_sdk.engines.base import Engine
from edge_sdk.errors import ConfigError
from edge_sdk.pipeline.executors.base import Executor, Feed, Inferred, Model
from edge_sdk.pipeline.reader import Batch

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.cuda.api import RunnerResult, StreamEngine
    from edge_sdk.cuda.runner import CudaRunner, RunnerOptions
    from edge_sdk.preprocess.spec import PreprocessSpec

log = logging.getLogger(__name__)

WAIT_S = 0.25  # how long the thread waits for a frame when nothing is in flight
RunnerFactory = Callable[[], "CudaRunner"]


class CudaExecutor(Executor):
    name = "cuda-streams"

    def __init__(self, make_runner: RunnerFactory, max_batch: int = 1) -> None:
        self.make_runner = make_runner
        self.max_batch = max(1, max_batch)

    @classmethod
    def from_config(cls, cfg: AppConfig, engine: StreamEngine, spec: PreprocessSpec | None,
                    max_batch: int = 1) -> CudaExecutor:
        from edge_sdk.cuda.runner import CudaRunner

        options = runner_options_for(cfg, spec, max_batch)
        return cls(lambda: CudaRunner(engine, options), max_batch)

    @property
    def threads(self) -> int:
        return 1

    def refuses_swap(self, engine: Engine) -> str:
        return "the engine of a GPU pipeline cannot be swapped live (the CUDA runner owns its per-slot contexts); " \
               "restart the service"

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "max_batch": self.max_batch}

    def work(self, feed: Feed) -> None:
        model = feed.lease()  # never swapped (refuses_swap): held as it is for the whole run
        feed.unlease()
        with self.make_runner() as runner:
            while not feed.done:
                batch = feed.take(runner.batch, 0.0 if runner.in_flight else WAIT_S)
                if batch is not None:
                    runner.submit_batch(batch.frames, tag=batch)
                # nothing new: wait for the oldest batch in flight, so a paused camera's results do not wait
                for res in runner.results(wait=batch is None):
                    if not feed.emit(_inferred(res, model)):
                        return
            for res in runner.drain():
                if not feed.emit(_inferred(res, model)):
                    return


def _inferred(res: RunnerResult, model: Model) -> Inferred:
    batch: Batch = res.tag
    t = res.timings
    return Inferred(batch, res.letterboxes, res.outputs, res.rows, model, [t.get("preprocess", 0.0)] * len(batch),
                    t.get("infer", 0.0))


def memory_mode_for_profile(profile: str) -> Literal["copy", "mapped", "auto"]:
    """The device profile's `mapped_memory` (device_configs/<profile>.yaml): "mapped" on Jetson boards,
    whose GPU shares physical memory with the CPU, else "copy"; for `auto`, "auto" (the runner asks the GPU
    whether it is integrated). An unknown profile is a ConfigError."""
    if profile == "auto":
        return "auto"
    from edge_sdk.device.profiles import load_profile

    return "mapped" if load_profile(profile).mapped_memory else "copy"


def runner_options_for(cfg: AppConfig, spec: PreprocessSpec | None = None, max_batch: int = 1) -> RunnerOptions:
    """Slots from `engine.slots` (default 2), batches of up to `max_batch` frames, memory mode from the device
    profile, GPU preprocessing when the kernel does what `spec` asks (else the CPU reference, said in the log)."""
    from edge_sdk.cuda.letterbox_plan import kernel_supports
    from edge_sdk.cuda.runner import RunnerOptions

    slots = int(getattr(cfg.engine, "slots", 2))
    mode: Literal["gpu", "cpu"] = "gpu"
    if spec is not None and (why := kernel_supports(spec)):
        log.info("preprocessing on the CPU: the GPU letterbox kernel does not do this model's %s yet", why)
        mode = "cpu"
    try:
        return RunnerOptions(slots=slots, memory=memory_mode_for_profile(cfg.device), preprocess=mode, spec=spec,
                             batch=max_batch)
    except ValueError as exc:
        raise ConfigError(str(exc), where="engine.slots") from exc

