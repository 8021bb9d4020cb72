"""fake_pycuda: a STAND-IN for `pycuda.driver` with "device memory" in host RAM. Not CUDA.

pycuda is absent here (no GPU). This stand-in lets tests run edge-sdk's CUDA layer (PycudaBackend) under the
TensorRT runtime and the kernel loader: buffer, copy, context and stream bookkeeping (which pointer goes where,
copies in and out, the context pushed around every use, every allocation freed once) together with
fake_tensorrt. It proves nothing about CUDA: the real pycuda runs on the
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
    """Raised where pycuda raises pycuda.driver.Error (whose module is pycuda's own, as edge-sdk's cuda_call expects)."""


FakeCudaError.__module__ = "pycuda._driver"


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


def make_fake_pycuda(name: str = "Fake GPU (not CUDA)", cc: tuple[int, int] = (8, 7), *, integrated: bool = True,
                     driver: int = 12060) -> Any:
    """`driver`: cuDriverGetVersion's value (12060 = CUDA 12.6). `drv.refuse_module` (a predicate on the image
    bytes) makes module loading fail like a driver that cannot use an image; `drv.modules` lists loaded images."""
    mem = _Memory()
    drv = types.ModuleType("pycuda.driver")
    vars(drv).update({"memory": mem, "Error": FakeCudaError, "modules": [], "refuse_module": lambda data: False,
                      "event_ms": 1.0, "on_launch": None})

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

        @staticmethod
        def synchronize() -> None:
            mem.require_context()

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

        @staticmethod
        def count() -> int:
            return 1

        def get_attribute(self, attribute: str) -> int:
            return {"INTEGRATED": int(integrated), "MULTIPROCESSOR_COUNT": 16,
                    "MAX_THREADS_PER_MULTIPROCESSOR": 1536}[attribute]

        def retain_primary_context(self) -> PrimaryContext:
            ctx = PrimaryContext()
            vars(drv)["contexts"].append(ctx)
            return ctx

    class Stream:
        _handles = itertools.count(1)

        def __init__(self, flags: int = 0) -> None:
            mem.require_context()
            self.handle = next(Stream._handles)
            self.flags = flags
            self.synchronized = 0

        def synchronize(self) -> None:
            mem.require_context()
            self.synchronized += 1

    class Event:
        def __init__(self, flags: int = 0) -> None:
            mem.require_context()

        def record(self, stream: Any = None) -> None:
            mem.require_context()

        def synchronize(self) -> None:
            mem.require_context()

        def query(self) -> bool:
            return True

        def time_since(self, start: Any) -> float:
            return float(vars(drv)["event_ms"])  # a stand-in has no clock: tests set what events "measure"

    class Function:
        def __init__(self, name: str) -> None:
            self.name = name
            self.signature = ""
            self.calls: list[tuple[Any, ...]] = []

        def prepare(self, signature: str) -> None:
            self.signature = signature

        def prepared_async_call(self, *args: Any) -> None:
            mem.require_context()
            self.calls.append(args)
            if vars(drv)["on_launch"] is not None:  # a test's emulation of the kernel (tests/cuda/standin.py)
                vars(drv)["on_launch"](self.name, args)

    class Module:
        def __init__(self, data: bytes) -> None:
            self.data = data
            self.functions: dict[str, Function] = {}

        def get_function(self, fn: str) -> Function:
            return self.functions.setdefault(fn, Function(fn))

    def module_from_buffer(data: bytes) -> Module:
        mem.require_context()
        if vars(drv)["refuse_module"](bytes(data)):
            raise FakeCudaError("cuModuleLoadData failed: device kernel image is invalid")
        module = Module(bytes(data))
        vars(drv)["modules"].append(module)
        return module

    def to_device(array: np.ndarray) -> Any:
        alloc = DeviceAllocation(array.nbytes)
        mem.view(alloc.ptr)[:] = np.frombuffer(np.ascontiguousarray(array).tobytes(), np.uint8)
        return alloc

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
        "contexts": [], "init": lambda: None, "Device": Device, "Context": Context, "Stream": Stream, "Event": Event,
        "mem_alloc": DeviceAllocation, "pagelocked_empty": pagelocked_empty, "to_device": to_device,
        "host_alloc_flags": types.SimpleNamespace(DEVICEMAP=2), "memcpy_htod_async": memcpy_htod_async,
        "memcpy_dtoh_async": memcpy_dtoh_async, "package": package, "module_from_buffer": module_from_buffer,
        "get_driver_version": lambda: driver, "event_flags": types.SimpleNamespace(DISABLE_TIMING=2),
        "device_attribute": types.SimpleNamespace(INTEGRATED="INTEGRATED", MULTIPROCESSOR_COUNT="MULTIPROCESSOR_COUNT",
                                                  MAX_THREADS_PER_MULTIPROCESSOR="MAX_THREADS_PER_MULTIPROCESSOR")})
    vars(package)["driver"] = drv
    return drv
