"""The CUDA layer as a no-op, for timing the host side of the GPU path (tools/bench_host_path.py).

`HostOnlyBackend` implements `edge_sdk.cuda.backend.Backend`: page-locked buffers are ordinary page-aligned numpy
arrays, device memory is a counter, and every device operation (copies, the letterbox kernel, events) completes at
once without doing anything. `HostOnlyEngine` is a `StreamEngine` whose inference takes no time. The slot's host
output buffers hold a real model's outputs (written once, when the runner allocates them), so the detection decoder
does the work it does on real frames.

What the runner, the pipeline and the sources spend per frame on the CPU is then all that is measured: the frame
copied into the slot's page-locked buffer, the runner's bookkeeping, the outputs copied out, decoding, publishing.
It is not CUDA and proves nothing about the GPU: the device's own costs (pycuda calls into the driver, ONNX
Runtime's or TensorRT's enqueue) are measured on the GPU machine (tools/gpu/run_all.sh).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_sdk.cuda.api import SlotBinding
from edge_sdk.engines.base import EngineInfo

PAGE = 4096


def page_aligned(shape: tuple[int, ...], dtype: np.dtype[Any]) -> np.ndarray:
    """An uninitialised array whose data starts on a page (as cudaHostAlloc's do)."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(nbytes + PAGE, np.uint8)
    start = (-raw.ctypes.data) % PAGE
    return raw[start:start + nbytes].view(dtype).reshape(shape)


@dataclass
class NoMemory:
    ptr: int
    nbytes: int


class HostOnlyBackend:
    """A `Backend` whose device work takes no time (see the module docstring). `outputs`: one array per engine
    output (a real inference's, batch of one); host buffers of those shapes (any leading batch) are filled with
    them, row by row, when allocated."""

    name = "host-only stand-in (no GPU work)"

    def __init__(self, outputs: Sequence[np.ndarray] = ()) -> None:
        self._outputs = [np.ascontiguousarray(o) for o in outputs]
        self._next = itertools.count(0x10_0000, PAGE)
        self.htod_bytes = 0
        self.calls = 0

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        yield

    def is_integrated(self) -> bool:
        return False

    def pinned(self, shape: tuple[int, ...], dtype: np.dtype[Any], *, mapped: bool) -> np.ndarray:
        arr = page_aligned(shape, dtype)
        for out in self._outputs:  # an output buffer: a real model's outputs in every row
            if arr.dtype == out.dtype and arr.shape[1:] == out.shape[1:]:
                arr[...] = out[:1]
                break
        return arr

    def mapped_ptr(self, host: np.ndarray) -> int:
        return int(host.ctypes.data)

    def free_pinned(self, host: np.ndarray) -> None:
        pass

    def device_alloc(self, nbytes: int) -> NoMemory:
        return NoMemory(next(self._next), nbytes)

    def free_device(self, mem: Any) -> None:
        pass

    def stream(self) -> object:
        return object()

    def stream_handle(self, stream: Any) -> int:
        return id(stream)

    def event(self, timing: bool = False) -> object:
        return object()

    def elapsed_ms(self, start: Any, stop: Any) -> float:
        return 0.0

    def record(self, event: Any, stream: Any) -> None:
        self.calls += 1

    def wait(self, stream: Any, event: Any) -> None:
        self.calls += 1

    def query(self, event: Any) -> bool:
        return True

    def synchronize_event(self, event: Any) -> None:
        pass

    def synchronize_stream(self, stream: Any) -> None:
        pass

    def synchronize(self) -> None:
        pass

    def release_stream(self, stream: Any) -> None:
        pass

    def release_event(self, event: Any) -> None:
        pass

    def htod(self, dst_ptr: int, src: np.ndarray, stream: Any) -> None:
        self.calls += 1
        self.htod_bytes += int(src.nbytes)

    def dtoh(self, dst: np.ndarray, src_ptr: int, stream: Any) -> None:
        self.calls += 1

    def letterbox(self, stream: Any, plan: Any, src_ptr: int, src_pitch: int, dst_ptr: int, dst_dtype: Any,
                  pixels: Any = None) -> None:
        self.calls += 1

    def kernel_info(self) -> str:
        return self.name

    def close(self) -> None:
        pass


class HostOnlyEngine:
    """A `StreamEngine` whose inference takes no time (its outputs are what the backend put in the buffers)."""

    def __init__(self, info: EngineInfo) -> None:
        self.info = info
        self.enqueued = 0

    def prepare_slots(self, slots: Sequence[SlotBinding]) -> None:
        pass

    def enqueue(self, slot_index: int, stream_handle: int, input_ptr: int, output_ptrs: tuple[int, ...],
                batch: int = 1, /) -> None:
        self.enqueued += 1

    def release_slots(self) -> None:
        pass
