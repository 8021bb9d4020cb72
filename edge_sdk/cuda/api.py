"""What the CUDA-stream runner and a GPU engine agree on: `StreamEngine`, `SlotBinding`, `RunnerResult`.

An engine that runs on a GPU plugs into `CudaRunner` by enqueueing its work on a stream it is given,
reading the input from, and writing the outputs to, device pointers it is given. The runner owns the
streams and buffers; the engine owns whatever it needs per slot (a TensorRT execution context, an
ONNX Runtime session bound to the slot's stream) and frees it in `release_slots`.

The call order, all from one thread with the runner's CUDA context current:

    engine.prepare_slots(bindings)          once, after the runner allocated its slots
    engine.enqueue(i, stream, in, outs)     once per frame; must only *enqueue*, not wait for the GPU
    engine.release_slots()                  once, after the runner synchronized every stream

An engine hands the runner its stream form through `Engine.stream_engine()`. TensorRT's `TensorRtEngine` is its own:
its per-slot state is made when it opens (one `IExecutionContext` per slot, `enqueue` setting the tensor addresses
and calling `execute_async_v3(stream_handle)`), and `prepare_slots` checks that the runner uses no more slots than
it has contexts. ONNX Runtime's CUDA provider implements the protocol in `edge_sdk.cuda.ort_cuda` (one session
per slot). Engines and runner share the device's primary context, so pointers and streams made by either are
valid in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from edge_sdk.errors import EngineError
from edge_sdk.frame import Frame
from edge_sdk.preprocess.letterbox import LetterboxInfo

if TYPE_CHECKING:  # engines import this module (their stream form): no import back at run time
    from edge_sdk.engines.base import EngineInfo


@dataclass(frozen=True)
class SlotBinding:
    """One slot as an engine sees it. Pointers are device addresses (ints) valid in the runner's context.

    `stream` is the backend's own stream object (a `pycuda.driver.Stream`) for engines that launch
    kernels through pycuda; engines that take a raw `cudaStream_t` use `stream_handle`.
    """

    index: int
    stream_handle: int
    input_ptr: int
    output_ptrs: tuple[int, ...]
    stream: Any = None


@runtime_checkable
class StreamEngine(Protocol):
    """An engine the runner can drive. `info.inputs[0]` is the image tensor [1,3,H,W]; every output has a
    static shape (the runner allocates its buffers once)."""

    info: EngineInfo

    def prepare_slots(self, slots: Sequence[SlotBinding]) -> None:
        """Create per-slot state (execution contexts, sessions, bindings) for these slots."""

    def enqueue(self, slot_index: int, stream_handle: int, input_ptr: int, output_ptrs: tuple[int, ...], /) -> None:
        """Enqueue one inference of slot `slot_index` on `stream_handle`; return without waiting for it."""

    def release_slots(self) -> None:
        """Free what `prepare_slots` created. Called after every stream was synchronized; safe to call twice."""


@dataclass
class RunnerResult:
    """One finished frame, in submission order. `outputs` are fresh arrays the caller owns (never views of
    the runner's reused buffers), in `engine.info.outputs` order."""

    seq: int  # 0, 1, 2, ... in submission order
    outputs: list[np.ndarray]
    frame: Frame | None = None  # the Frame given to `submit` (its metadata untouched)
    tag: Any = None  # whatever the caller passed along
    letterbox: LetterboxInfo | None = None  # how the frame was placed into the input (None for submit_tensor)
    timings: dict[str, float] = field(default_factory=dict)  # seconds: "host_submit", "latency"


def static_shape(shape: tuple[int | str | None, ...], name: str, model: str) -> tuple[int, ...]:
    """`shape` as ints, or `EngineError`: the runner allocates its buffers once, so every shape is fixed."""
    dims = tuple(d for d in shape if isinstance(d, int) and d > 0)
    if len(dims) != len(shape):
        raise EngineError(f"tensor {name!r} has the dynamic shape {list(shape)}; the CUDA runner needs static shapes",
                          where=model, fix="export the model with a fixed batch (1) and input size")
    return dims
