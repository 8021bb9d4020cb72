"""fake_pycuda: a STAND-IN for `pycuda.driver` with "device memory" in host RAM. Not CUDA.

pycuda is absent here (no GPU). This stand-in lets tests run the TensorRT runtime's buffer, copy, context and
stream bookkeeping (which pointer goes where, copies in and out, the context pushed around every use, every
allocation freed once) together with fake_tensorrt. It proves nothing about CUDA: the real pycuda runs on the
GPU machine only.

    cuda = make_fake_pycuda()
    monkeypatch.setitem(sys.modules, "pycuda", cuda.package)
    monkeypatch.setitem(sys.modules, "pycuda.driver", cuda)
"""

from __future__ import annotations

import itertools
import types
from typing import Any

import numpy as np


class FakeCudaError(Exception):
    pass


class _Memory:
    """Device address -> numpy uint8 view of its bytes."""

    def __init__(self) -> None:
        self.blocks: dict[int, np.ndarray] = {}
        self._next = itertools.count(0x7F0000000000, 0x100000)
        self.freed: list[int] = []
        self.context_depth = 0
        self.max_context_depth = 0
        self.pushes = 0

    def add(self, view: np.ndarray) -> int:
        ptr = next(self._next)
        self.blocks[ptr] = view
        return ptr

    def view(self, ptr: int) -> np.ndarray:
        if ptr not in self.blocks:
            raise FakeCudaError(f"invalid device pointer {ptr:#x}")
        return self.blocks[ptr]

    def free(self, ptr: int) -> None:
        if ptr not in self.blocks:
            raise FakeCudaError(f"double free of {ptr:#x}")
        del self.blocks[ptr]
        self.freed.append(ptr)

    def require_context(self) -> None:
        if self.context_depth <= 0:
            raise FakeCudaError("no current CUDA context")


def make_fake_pycuda(name: str = "Fake GPU (not CUDA)", cc: tuple[int, int] = (8, 7)) -> Any:
    mem = _Memory()
    drv = types.ModuleType("pycuda.driver")
    vars(drv).update({"memory": mem, "Error": FakeCudaError})

    class DeviceAllocation:
        def __init__(self, nbytes: int) -> None:
            mem.require_context()
            self.ptr = mem.add(np.zeros(nbytes, np.uint8))

        def __int__(self) -> int:
            return self.ptr

        def free(self) -> None:
            mem.free(self.ptr)

    class HostAllocation(bytearray):
        def get_device_pointer(self) -> int:
            if getattr(self, "_ptr", None) is None:
                self._ptr = mem.add(np.frombuffer(self, np.uint8))
            return self._ptr

        def free(self) -> None:
            if getattr(self, "_ptr", None) is not None:
                mem.free(self._ptr)
            self._freed = True

    class Context:
        @staticmethod
        def pop() -> None:
            mem.require_context()
            mem.context_depth -= 1

    class PrimaryContext:
        detached = False

        def push(self) -> None:
            if self.detached:
                raise FakeCudaError("context detached")
            mem.context_depth += 1
            mem.pushes += 1
            mem.max_context_depth = max(mem.max_context_depth, mem.context_depth)

        def detach(self) -> None:
            self.detached = True

    class Device:
        def __init__(self, index: int) -> None:
            self.index = index

        def name(self) -> str:
            return name

        def compute_capability(self) -> tuple[int, int]:
            return cc

        def retain_primary_context(self) -> PrimaryContext:
            ctx = PrimaryContext()
            vars(drv)["contexts"].append(ctx)
            return ctx

    class Stream:
        _handles = itertools.count(1)

        def __init__(self) -> None:
            mem.require_context()
            self.handle = next(Stream._handles)
            self.synchronized = 0

        def synchronize(self) -> None:
            mem.require_context()
            self.synchronized += 1

    def pagelocked_empty(shape: tuple[int, ...], dtype: Any, mem_flags: int = 0) -> np.ndarray:
        mem.require_context()
        dt = np.dtype(dtype)
        alloc = HostAllocation(int(np.prod(shape)) * dt.itemsize)
        return np.ndarray(shape, dtype=dt, buffer=alloc)

    def memcpy_htod_async(dest: int, src: np.ndarray, stream: Any = None) -> None:
        mem.require_context()
        mem.view(dest)[: src.nbytes] = np.frombuffer(np.ascontiguousarray(src).tobytes(), np.uint8)

    def memcpy_dtoh_async(dest: np.ndarray, src: int, stream: Any = None) -> None:
        mem.require_context()
        dest.view(np.uint8).reshape(-1)[:] = mem.view(src)[: dest.nbytes]

    package = types.ModuleType("pycuda")
    vars(drv).update({
        "contexts": [], "init": lambda: None, "Device": Device, "Context": Context, "Stream": Stream,
        "mem_alloc": DeviceAllocation, "pagelocked_empty": pagelocked_empty,
        "host_alloc_flags": types.SimpleNamespace(DEVICEMAP=2), "memcpy_htod_async": memcpy_htod_async,
        "memcpy_dtoh_async": memcpy_dtoh_async, "package": package})
    vars(package)["driver"] = drv
    return drv
