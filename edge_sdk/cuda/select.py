"""Choosing the GPU path from a config: does the engine run on a GPU, which memory mode, how many slots.

`edge-sdk run` (the lead's pipeline) does, when `engine_runs_on_gpu(bundle.engine.info)`:

    stream_engine = as_stream_engine(bundle.engine)
    with CudaRunner(stream_engine, runner_options_for(cfg)) as runner:
        for result in run_frames(runner, frames):      # edge_sdk.cuda.stage
            ...decode result.outputs, map boxes with result.letterbox, publish result.frame...

The CPU path keeps its threaded stages.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from edge_sdk.cuda.api import SlotBinding, StreamEngine
from edge_sdk.engines.base import Engine, EngineInfo
from edge_sdk.errors import ConfigError, EngineError

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.cuda.runner import RunnerOptions
    from edge_sdk.preprocess.spec import PreprocessSpec

log = logging.getLogger(__name__)


def memory_mode_for_profile(profile: str) -> Literal["copy", "mapped", "auto"]:
    """The device profile's `mapped_memory` (device_configs/<profile>.yaml): "mapped" on Jetson boards,
    whose GPU shares physical memory with the CPU, else "copy"; for `auto`, "auto" (the runner asks the GPU
    whether it is integrated). An unknown profile is a ConfigError."""
    if profile == "auto":
        return "auto"
    from edge_sdk.device.profiles import load_profile

    return "mapped" if load_profile(profile).mapped_memory else "copy"


def engine_runs_on_gpu(info: EngineInfo) -> bool:
    """True for engines on a CUDA device or a DLA core (both enqueue on CUDA streams)."""
    return info.device.startswith(("cuda", "dla"))


class FixedSlotsEngine:
    """A `StreamEngine` around an engine that made its per-slot state when it opened (TensorRT: one execution
    context per slot) and offers `slots` and `enqueue(slot, stream_handle, input_ptr, output_ptrs)`."""

    def __init__(self, engine: Any) -> None:
        self.inner = engine
        self.info: EngineInfo = engine.info

    def prepare_slots(self, slots: Sequence[SlotBinding]) -> None:
        have = int(self.inner.slots)
        if len(slots) > have:
            raise EngineError(f"the runner uses {len(slots)} slots but the {self.info.type} engine was opened with {have}",
                              where="engine.slots", fix="open the engine with as many slots as the runner uses")

    def enqueue(self, slot_index: int, stream_handle: int, input_ptr: int, output_ptrs: tuple[int, ...], /) -> None:
        self.inner.enqueue(slot_index, stream_handle, input_ptr, output_ptrs)

    def release_slots(self) -> None:
        """The engine's contexts live as long as the engine (its owner closes it)."""


def as_stream_engine(engine: Engine | StreamEngine) -> StreamEngine:
    """The `StreamEngine` that runs this engine's model on the runner's streams.

    An engine that implements the protocol is returned as it is; one with fixed per-slot contexts and an
    `enqueue` (TensorRT) is wrapped in `FixedSlotsEngine`; an ONNX Runtime engine on the CUDA provider gets
    per-slot sessions on the slots' streams (`OrtCudaStreamEngine`)."""
    if isinstance(engine, StreamEngine):
        return engine
    info = engine.info
    if engine_runs_on_gpu(info) and callable(getattr(engine, "enqueue", None)) and hasattr(engine, "slots"):
        return FixedSlotsEngine(engine)
    if info.type == "onnxruntime" and engine_runs_on_gpu(info):
        from edge_sdk.cuda.ort_cuda import OrtCudaStreamEngine

        return OrtCudaStreamEngine.from_engine(engine)
    raise EngineError(f"the {info.type} engine on {info.device} cannot run on CUDA streams", where="engine.type",
                      fix="use engine.type tensorrt, or onnxruntime with providers [CUDAExecutionProvider]")


def runner_options_for(cfg: AppConfig, spec: PreprocessSpec | None = None) -> RunnerOptions:
    """Slots from `engine.slots` (default 2), memory mode from the device profile, GPU preprocessing when the
    kernel does what `spec` asks (else the CPU reference, said in the log)."""
    from edge_sdk.cuda.letterbox_plan import kernel_supports
    from edge_sdk.cuda.runner import RunnerOptions

    slots = int(getattr(cfg.engine, "slots", 2))
    mode: Literal["gpu", "cpu"] = "gpu"
    if spec is not None and (why := kernel_supports(spec)):
        log.info("preprocessing on the CPU: the GPU letterbox kernel does not do this model's %s yet", why)
        mode = "cpu"
    try:
        return RunnerOptions(slots=slots, memory=memory_mode_for_profile(cfg.device), preprocess=mode, spec=spec)
    except ValueError as exc:
        raise ConfigError(str(exc), where="engine.slots") from exc
