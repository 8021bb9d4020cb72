"""The runner's device operations on pycuda, in the device's primary context.

The primary context is the one the CUDA runtime uses, so device pointers made here are valid in ONNX
Runtime's CUDA provider and in TensorRT, which use the runtime API. `PycudaBackend` is a context manager:
it retains the primary context on entry and releases it (after freeing the kernel tables) on exit.
Streams are created non-blocking, so they never wait for work on the legacy default stream.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np

from edge_sdk.cuda.check import cuda_call, import_pycuda
from edge_sdk.cuda.kernels import BLOCK_2D, LETTERBOX_ARGS, compile_module, grid_2d
from edge_sdk.cuda.letterbox_plan import LetterboxPlan
from edge_sdk.errors import DeviceError

_INV255 = np.float32(1.0 / 255.0)  # the same constant as the CPU letterbox, so equal levels give equal floats


@dataclass
class PycudaMemory:
    alloc: Any  # pycuda.driver.DeviceAllocation
    nbytes: int

    @property
    def ptr(self) -> int:
        return int(self.alloc)


def _host_allocation(host: np.ndarray) -> Any:
    base: Any = host
    while isinstance(base, np.ndarray):
        base = base.base
    if base is None or not hasattr(base, "get_device_pointer"):
        raise ValueError("the array was not made by PycudaBackend.pinned")
    return base


class PycudaBackend:
    """Owns the retained primary context of one GPU and the letterbox kernels and tables."""

    name = "pycuda"

    def __init__(self, device_id: int = 0) -> None:
        cuda = import_pycuda()
        self._cuda = cuda
        where = f"cuda:{device_id}"
        try:
            cuda.init()
            count = cuda.Device.count()
        except Exception as exc:  # pycuda.driver.Error: no driver, no device node, driver too old, ...
            raise DeviceError(f"CUDA is not usable on this machine: {exc}", where=where,
                              fix="check that the NVIDIA driver is loaded (nvidia-smi, or tegrastats on a Jetson)") from exc
        if not 0 <= device_id < count:
            raise DeviceError(f"there is no CUDA device {device_id} (this machine has {count})", where=where,
                              fix="use device 0, or check CUDA_VISIBLE_DEVICES")
        with cuda_call("cuDevicePrimaryCtxRetain", where):
            self.device = cuda.Device(device_id)
            self._ctx = self.device.retain_primary_context()
        self.device_name: str = self.device.name()
        self._where = where
        self._module: Any = None
        self._functions: dict[str, Any] = {}
        self._tables: dict[tuple[int, int, int, int], tuple[Any, Any]] = {}
        self._closed = False

    def __enter__(self) -> PycudaBackend:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        with cuda_call("cuCtxPushCurrent", self._where):
            self._ctx.push()
        try:
            yield
        finally:
            self._cuda.Context.pop()

    def is_integrated(self) -> bool:
        with cuda_call("cuDeviceGetAttribute(INTEGRATED)", self._where):
            return bool(self.device.get_attribute(self._cuda.device_attribute.INTEGRATED))

    # -- memory ----------------------------------------------------------------------------------
    def pinned(self, shape: tuple[int, ...], dtype: np.dtype[Any], *, mapped: bool) -> np.ndarray:
        flags = self._cuda.host_alloc_flags.DEVICEMAP if mapped else 0
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        with cuda_call(f"cuMemHostAlloc({nbytes} bytes{', mapped' if mapped else ''})", self._where):
            arr: np.ndarray = self._cuda.pagelocked_empty(shape, dtype, mem_flags=flags)
        return arr

    def mapped_ptr(self, host: np.ndarray) -> int:
        with cuda_call("cuMemHostGetDevicePointer", self._where):
            return int(_host_allocation(host).get_device_pointer())

    def free_pinned(self, host: np.ndarray) -> None:
        with cuda_call("cuMemFreeHost", self._where):
            _host_allocation(host).free()

    def device_alloc(self, nbytes: int) -> PycudaMemory:
        with cuda_call(f"cuMemAlloc({nbytes} bytes)", self._where):
            return PycudaMemory(self._cuda.mem_alloc(nbytes), nbytes)

    def free_device(self, mem: Any) -> None:
        with cuda_call("cuMemFree", self._where):
            mem.alloc.free()

    # -- streams and events ----------------------------------------------------------------------
    def stream(self) -> Any:
        with cuda_call("cuStreamCreate", self._where):
            return self._cuda.Stream(flags=1)  # CU_STREAM_NON_BLOCKING

    def stream_handle(self, stream: Any) -> int:
        return int(stream.handle)

    def event(self) -> Any:
        with cuda_call("cuEventCreate", self._where):
            return self._cuda.Event(self._cuda.event_flags.DISABLE_TIMING)

    def record(self, event: Any, stream: Any) -> None:
        with cuda_call("cuEventRecord", self._where):
            event.record(stream)

    def wait(self, stream: Any, event: Any) -> None:
        with cuda_call("cuStreamWaitEvent", self._where):
            stream.wait_for_event(event)

    def query(self, event: Any) -> bool:
        with cuda_call("cuEventQuery", self._where):
            return bool(event.query())

    def synchronize_event(self, event: Any) -> None:
        with cuda_call("cuEventSynchronize (an earlier copy, kernel or inference failed)", self._where):
            event.synchronize()

    def synchronize(self) -> None:
        with cuda_call("cuCtxSynchronize", self._where):
            self._cuda.Context.synchronize()

    def release_stream(self, stream: Any) -> None:
        """pycuda destroys a stream when its last reference goes; the caller drops its reference."""

    def release_event(self, event: Any) -> None:
        """pycuda destroys an event when its last reference goes; the caller drops its reference."""

    # -- work ------------------------------------------------------------------------------------
    def htod(self, dst_ptr: int, src: np.ndarray, stream: Any) -> None:
        with cuda_call(f"cuMemcpyHtoDAsync({src.nbytes} bytes)", self._where):
            self._cuda.memcpy_htod_async(dst_ptr, src, stream)

    def dtoh(self, dst: np.ndarray, src_ptr: int, stream: Any) -> None:
        with cuda_call(f"cuMemcpyDtoHAsync({dst.nbytes} bytes)", self._where):
            self._cuda.memcpy_dtoh_async(dst, src_ptr, stream)

    def function(self, name: str, signature: str) -> Any:
        """A prepared kernel from kernels.py, compiled on first use."""
        fn = self._functions.get(name)
        if fn is None:
            if self._module is None:
                self._module = compile_module()
            with cuda_call(f"cuModuleGetFunction({name})", self._where):
                fn = self._module.get_function(name)
                fn.prepare(signature)
            self._functions[name] = fn
        return fn

    def _plan_tables(self, plan: LetterboxPlan) -> tuple[Any, Any]:
        key = (plan.src_w, plan.src_h, plan.dst_w, plan.dst_h)
        tables = self._tables.get(key)
        if tables is None:
            with cuda_call("upload of the letterbox tables", self._where):
                tables = (self._cuda.to_device(np.ascontiguousarray(plan.xtab)),
                          self._cuda.to_device(np.ascontiguousarray(plan.ytab)))
            self._tables[key] = tables
        return tables

    def letterbox(self, stream: Any, plan: LetterboxPlan, src_ptr: int, src_pitch: int, dst_ptr: int,
                  dst_dtype: np.dtype[Any]) -> None:
        dtype = np.dtype(dst_dtype)
        if dtype == np.float32:
            fn = self.function("letterbox_f32", LETTERBOX_ARGS)
        elif dtype == np.float16:
            fn = self.function("letterbox_f16", LETTERBOX_ARGS)
        else:
            raise ValueError(f"the letterbox kernel writes float32 or float16, not {dtype}")
        xtab, ytab = self._plan_tables(plan)
        with cuda_call("launch of the letterbox kernel", self._where):
            fn.prepared_async_call(grid_2d(plan.dst_w, plan.dst_h), BLOCK_2D, stream, src_ptr, plan.src_w, plan.src_h,
                                   src_pitch, xtab, ytab, plan.new_w, plan.new_h, plan.left, plan.top, dst_ptr,
                                   plan.dst_w, plan.dst_h, _INV255)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with self.activate():
                for xtab, ytab in self._tables.values():
                    xtab.free()
                    ytab.free()
                self._tables.clear()
                self._functions.clear()
                self._module = None
        finally:
            with cuda_call("cuDevicePrimaryCtxRelease", self._where):
                self._ctx.detach()
