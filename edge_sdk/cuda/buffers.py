"""One stream and a page-locked buffer per tensor, for an engine's synchronous `infer` (TensorRT's), on the one
CUDA layer (`Backend`, normally `PycudaBackend`).

With `mapped` (Jetson: one physical memory for CPU and GPU) each buffer is mapped page-locked memory the GPU
reads and writes directly: no copies. Otherwise each tensor has a page-locked host array and a device
allocation, copied asynchronously on the buffers' stream. Call everything inside `with backend.activate():`;
`free()` once, after the stream is synchronized.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_sdk.cuda.backend import Backend, DeviceMemory


@dataclass
class TensorBuffer:
    """A page-locked host array and its device address (the same memory when mapped)."""

    host: np.ndarray
    device_ptr: int
    device: DeviceMemory | None  # None when mapped

    @property
    def mapped(self) -> bool:
        return self.device is None


class IoBuffers:
    """A stream plus one `TensorBuffer` per (shape, dtype) in `specs`. On a failure while allocating, what was
    allocated is freed before the error propagates."""

    def __init__(self, backend: Backend, specs: list[tuple[tuple[int, ...], str]], mapped: bool) -> None:
        self.backend = backend
        self.buffers: list[TensorBuffer] = []
        self.stream: Any = backend.stream()
        try:
            for shape, dtype in specs:
                host = backend.pinned(shape, np.dtype(dtype), mapped=mapped)
                if mapped:
                    self.buffers.append(TensorBuffer(host, backend.mapped_ptr(host), None))
                    continue
                try:
                    mem = backend.device_alloc(host.nbytes)
                except BaseException:
                    backend.free_pinned(host)
                    raise
                self.buffers.append(TensorBuffer(host, mem.ptr, mem))
        except BaseException:
            self.free()
            raise

    @property
    def handle(self) -> int:
        return self.backend.stream_handle(self.stream)

    def upload(self, buf: TensorBuffer, rows: int | None = None) -> None:
        """Copy the buffer (its first `rows` rows: a smaller batch) to the device."""
        if not buf.mapped:
            self.backend.htod(buf.device_ptr, buf.host[:rows], self.stream)

    def download(self, buf: TensorBuffer, rows: int | None = None) -> None:
        if not buf.mapped:
            self.backend.dtoh(buf.host[:rows], buf.device_ptr, self.stream)

    def synchronize(self) -> None:
        self.backend.synchronize_stream(self.stream)

    def free(self) -> None:
        buffers, self.buffers = self.buffers, []
        for buf in buffers:
            if buf.device is not None:
                self.backend.free_device(buf.device)
            self.backend.free_pinned(buf.host)
        if self.stream is not None:
            self.backend.release_stream(self.stream)
            self.stream = None
