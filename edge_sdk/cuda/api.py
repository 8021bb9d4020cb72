"""What the CUDA-stream runner and a GPU engine agree on: `StreamEngine`, `SlotBinding`, `RunnerResult`.

An engine that runs on a GPU plugs into `CudaRunner` by enqueueing its work on a stream it is given,
reading the input from, and writing the outputs to, device pointers it is given. The runner owns the
streams and buffers; the engine owns whatever it needs per slot (a TensorRT execution context, an
ONNX Runtime session bound to the slot's stream) and frees it in `release_slots`.

The call order, all from one thread with the runner's CUDA context current:

    engine.prepare_slots(bindings)          once, after the runner allocated its slots
    engine.enqueue(i, stream, in, outs, n)  once per submission of n images; must only *enqueue*, not wait
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
    batch: int = 1  # images the slot's buffers hold (the leading size of its input and batched outputs)


@runtime_checkable
class StreamEngine(Protocol):
    """An engine the runner can drive. `info.inputs[0]` is the image tensor [N,3,H,W]; every output has a
    static shape but for a dynamic leading (batch) dimension (the runner allocates its buffers once, for
    `SlotBinding.batch` images)."""

    info: EngineInfo

    def prepare_slots(self, slots: Sequence[SlotBinding]) -> None:
        """Create per-slot state (execution contexts, sessions, bindings) for these slots."""

    def enqueue(self, slot_index: int, stream_handle: int, input_ptr: int, output_ptrs: tuple[int, ...],
                batch: int = 1, /) -> None:
        """Enqueue one inference of slot `slot_index` on `stream_handle`, of the first `batch` images of its
        input (an engine that cannot vary its batch computes all of them); return without waiting for it."""

    def release_slots(self) -> None:
        """Free what `prepare_slots` created. Called after every stream was synchronized; safe to call twice."""


@dataclass
class RunnerResult:
    """One finished submission (a frame, or a batch of frames), in submission order. `outputs` are fresh arrays
    the caller owns (never views of the runner's reused buffers), in `engine.info.outputs` order; an output with
    one row per image holds `rows` rows (frame i's is row i)."""

    seq: int  # 0, 1, 2, ... in submission order
    outputs: list[np.ndarray]
    frame: Frame | None = None  # the first Frame given to `submit`/`submit_batch` (its metadata untouched)
    tag: Any = None  # whatever the caller passed along
    letterbox: LetterboxInfo | None = None  # how that frame was placed into the input (None for submit_tensor)
    timings: dict[str, float] = field(default_factory=dict)  # seconds: preprocess (per frame), infer, latency
    frames: list[Frame] = field(default_factory=list)  # every frame of the submission, in order
    letterboxes: list[LetterboxInfo] = field(default_factory=list)
    rows: int = 1  # images the engine computed (len(frames), or its fixed batch)


def static_shape(shape: tuple[int | str | None, ...], name: str, model: str) -> tuple[int, ...]:
    """`shape` as ints, or `EngineError`: the runner allocates its buffers once, so every shape but the batch is
    fixed (the caller sets a dynamic batch to the images a slot holds first)."""
    dims = tuple(d for d in shape if isinstance(d, int) and d > 0)
    if len(dims) != len(shape):
        raise EngineError(f"tensor {name!r} has the dynamic shape {list(shape)}; the CUDA runner needs static shapes "
                          "but for the batch", where=model, fix="export the model with a fixed input size (and a "
                                                                "fixed number of detections)")
    return dims
