"""CUDA through pycuda, imported lazily: the device's primary context, a stream, and I/O buffers.

The engine retains the primary context of device 0 (the one TensorRT and the CUDA runtime use) instead of
creating its own with `pycuda.autoinit`, so it works from whichever thread runs inference: every CUDA use
happens inside `with ctx.active():`, which pushes the context and pops it again.

On Jetson (integrated GPU, `mapped_memory: true` in the device profile) buffers can be zero-copy: pinned
host memory mapped into the GPU's address space, so no copies are needed. Elsewhere each tensor has a
pinned host array and a device allocation, copied asynchronously on the engine's stream.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from types import ModuleType

import numpy as np

from edge_sdk.cuda.check import import_pycuda
from edge_sdk.errors import EngineError


def require_pycuda() -> ModuleType:
    module: ModuleType = import_pycuda("running TensorRT engines (CUDA buffers and streams)")
    return module


class CudaContext:
    """The retained primary context of one device. `close()` releases it; safe to call twice."""

    def __init__(self, device: int = 0) -> None:
        self.cuda = require_pycuda()
        try:
            self.cuda.init()
            self.device = self.cuda.Device(device)
            self._ctx = self.cuda.Device(device).retain_primary_context()
        except self.cuda.Error as exc:
            raise EngineError(f"cannot open CUDA device {device}: {exc}",
                              fix="check the NVIDIA driver (`edge-sdk doctor`); on Jetson run as a user in group video") from exc
        self.name = str(self.device.name())

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        if self._ctx is None:
            raise EngineError("the CUDA context is closed")
        self._ctx.push()
        try:
            yield
        finally:
            self.cuda.Context.pop()

    def close(self) -> None:
        if self._ctx is not None:
            self._ctx.detach()
            self._ctx = None


class TensorBuffer:
    """A pinned host array and its device address (the same memory when zero-copy)."""

    def __init__(self, cuda: ModuleType, shape: tuple[int, ...], dtype: str, zero_copy: bool) -> None:
        self.zero_copy = zero_copy
        self._free_device: Callable[[], object] | None = None
        self._host_freed = False
        if zero_copy:
            self.host: np.ndarray = cuda.pagelocked_empty(shape, np.dtype(dtype),
                                                          mem_flags=cuda.host_alloc_flags.DEVICEMAP)
            self.device_ptr = int(self.host.base.get_device_pointer())
        else:
            self.host = cuda.pagelocked_empty(shape, np.dtype(dtype))
            alloc = cuda.mem_alloc(max(self.host.nbytes, 1))
            self._free_device = alloc.free
            self.device_ptr = int(alloc)

    def free(self) -> None:
        if self._free_device is not None:
            self._free_device()
            self._free_device = None
        base = getattr(self.host, "base", None)
        if base is not None and hasattr(base, "free") and not self._host_freed:
            self._host_freed = True
            base.free()


class StreamBuffers:
    """One stream plus a buffer per I/O tensor, for synchronous `infer`. Owned by the engine; `free()` once."""

    def __init__(self, cuda: ModuleType, specs: list[tuple[tuple[int, ...], str]], zero_copy: bool) -> None:
        self.cuda = cuda
        self.stream = cuda.Stream()
        self.buffers: list[TensorBuffer] = []
        try:
            for shape, dtype in specs:
                self.buffers.append(TensorBuffer(cuda, shape, dtype, zero_copy))
        except BaseException:
            self.free()
            raise

    @property
    def handle(self) -> int:
        return int(self.stream.handle)

    def to_device(self, buf: TensorBuffer) -> None:
        if not buf.zero_copy:
            self.cuda.memcpy_htod_async(buf.device_ptr, buf.host, self.stream)

    def to_host(self, buf: TensorBuffer) -> None:
        if not buf.zero_copy:
            self.cuda.memcpy_dtoh_async(buf.host, buf.device_ptr, self.stream)

    def synchronize(self) -> None:
        self.stream.synchronize()

    def free(self) -> None:
        for buf in self.buffers:
            buf.free()
        self.buffers = []
