"""edge-sdk's one CUDA layer: the device's primary context, memory, streams, events and kernels, on pycuda.

Both GPU users go through it: the CUDA-stream runner (runner.py, slots.py) and the TensorRT engine
(engines/backends/tensorrt.py, with buffers.py for its synchronous `infer`). It owns the retained primary context of
one device: the context the CUDA runtime uses, so device pointers and streams made here are valid in TensorRT
and in ONNX Runtime's CUDA provider. Every use happens inside `with backend.activate():`, which pushes the
context and pops it again, so any thread may use it (CUDA contexts are per thread).

A context manager: `close()` (or leaving the `with` block) frees the kernel tables and releases the context.
Streams are created non-blocking, so they never wait for work on the legacy default stream. Every CUDA call is
checked (cuda_call turns pycuda's errors into EngineError naming the call). The kernels come precompiled or from
NVRTC (kernels.py), never from nvcc: `kernels` says which one loaded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import numpy as np

from edge_sdk.cuda import kernels as k
from edge_sdk.cuda.check import cuda_call, import_pycuda
from edge_sdk.cuda.letterbox_plan import LetterboxPlan
from edge_sdk.errors import DeviceError, EdgeSdkError


@dataclass
class PycudaMemory:
    alloc: Any  # pycuda.driver.DeviceAllocation
    nbytes: int

    @property
    def ptr(self) -> int:
        return int(self.alloc)


@dataclass(frozen=True)
class LoadedKernels:
    """Which kernel image the backend loaded, and why the others were not used."""

    origin: str  # "prebuilt" or "nvrtc"
    detail: str
    skipped: tuple[str, ...] = ()


def _host_allocation(host: np.ndarray) -> Any:
    base: Any = host
    while isinstance(base, np.ndarray):
        base = base.base
    if base is None or not hasattr(base, "get_device_pointer"):
        raise ValueError("the array was not made by PycudaBackend.pinned")
    return base


class PycudaBackend:
    """Owns the retained primary context of one GPU, and the kernels and their tables once used."""

    name = "pycuda"

    def __init__(self, device_id: int = 0, *, kernel_mode: k.KernelMode | None = None,
                 needed_for: str = "the CUDA-stream runner and TensorRT engines") -> None:
        cuda = import_pycuda(needed_for)
        self._cuda = cuda
        where = f"cuda:{device_id}"
        try:
            cuda.init()
            count = cuda.Device.count()
        except Exception as exc:  # pycuda.driver.Error: no driver, no device node, driver too old, ...
            raise DeviceError(f"CUDA is not usable on this machine: {exc}", where=where,
                              fix="check that the NVIDIA driver is loaded (nvidia-smi, or tegrastats on a Jetson); "
                                  "on a Jetson run as a user in group video") from exc
        if not 0 <= device_id < count:
            raise DeviceError(f"there is no CUDA device {device_id} (this machine has {count})", where=where,
                              fix="use device 0, or check CUDA_VISIBLE_DEVICES")
        with cuda_call("cuDevicePrimaryCtxRetain", where):
            self.device = cuda.Device(device_id)
            self._ctx = self.device.retain_primary_context()
        self.device_name: str = str(self.device.name())
        major, minor = self.device.compute_capability()
        self.compute_capability = f"{int(major)}.{int(minor)}"
        self._where = where
        self._kernel_mode: k.KernelMode = kernel_mode or k.mode_from_env()
        self.kernels: LoadedKernels | None = None
        self._module: Any = None
        self._functions: dict[str, Any] = {}
        self._tables: dict[tuple[int, int, int, int], tuple[Any, Any]] = {}
        self._closed = False

    def __enter__(self) -> PycudaBackend:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def cuda(self) -> Any:
        """`pycuda.driver`, for callers that need a call this class does not wrap (events for timing)."""
        return self._cuda

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        if self._closed:
            raise DeviceError("the CUDA context is closed", where=self._where)
        with cuda_call("cuCtxPushCurrent", self._where):
            self._ctx.push()
        try:
            yield
        finally:
            self._cuda.Context.pop()

    def is_integrated(self) -> bool:
        with cuda_call("cuDeviceGetAttribute(INTEGRATED)", self._where):
            return bool(self.device.get_attribute(self._cuda.device_attribute.INTEGRATED))

    def attribute(self, name: str) -> int:
        """A device attribute by pycuda name, e.g. "MULTIPROCESSOR_COUNT"."""
        with cuda_call(f"cuDeviceGetAttribute({name})", self._where):
            return int(self.device.get_attribute(getattr(self._cuda.device_attribute, name)))

    def driver_cuda(self) -> str:
        """The CUDA version the driver supports, e.g. "13.0"."""
        with cuda_call("cuDriverGetVersion", self._where):
            version = int(self._cuda.get_driver_version())
        return f"{version // 1000}.{version % 1000 // 10}"

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
            return PycudaMemory(self._cuda.mem_alloc(max(1, nbytes)), nbytes)

    def free_device(self, mem: Any) -> None:
        with cuda_call("cuMemFree", self._where):
            mem.alloc.free()

    # -- streams and events ----------------------------------------------------------------------
    def stream(self) -> Any:
        with cuda_call("cuStreamCreate", self._where):
            return self._cuda.Stream(flags=1)  # CU_STREAM_NON_BLOCKING

    def stream_handle(self, stream: Any) -> int:
        return int(stream.handle)

    def event(self, timing: bool = False) -> Any:
        with cuda_call("cuEventCreate", self._where):
            return self._cuda.Event(0 if timing else self._cuda.event_flags.DISABLE_TIMING)

    def elapsed_ms(self, start: Any, stop: Any) -> float:
        with cuda_call("cuEventElapsedTime", self._where):
            return float(stop.time_since(start))

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

    def synchronize_stream(self, stream: Any) -> None:
        with cuda_call("cuStreamSynchronize (an earlier copy, kernel or inference failed)", self._where):
            stream.synchronize()

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

    # -- kernels ---------------------------------------------------------------------------------
    def load_kernels(self) -> LoadedKernels:
        """Load the kernel module (prebuilt fatbin, else NVRTC; kernels.py) once; DeviceError if neither works."""
        if self.kernels is not None:
            return self.kernels
        skipped: list[str] = []
        driver = self.driver_cuda()
        for origin in k.order(self._kernel_mode):
            try:
                image = k.image(origin, self.compute_capability, driver)
                with self.activate(), cuda_call(f"cuModuleLoadData ({image.detail})", self._where):
                    self._module = self._cuda.module_from_buffer(image.data)
            except EdgeSdkError as exc:  # KernelUnavailable, NvrtcError, or the driver refusing the image (EngineError)
                skipped.append(f"{origin}: {exc.message}")
                continue
            self.kernels = LoadedKernels(origin, image.detail, tuple(skipped))
            return self.kernels
        raise DeviceError(f"no CUDA kernels for {self.device_name} (compute capability {self.compute_capability}, "
                          f"driver CUDA {driver}): " + "; ".join(skipped), where="edge_sdk/cuda/letterbox.cu",
                          fix="install NVRTC (Jetson: sudo apt install cuda-nvrtc-12-6 or cuda-nvrtc-13-0; elsewhere: "
                              "pip install nvidia-cuda-nvrtc-cu12), or preprocess on the CPU")

    def kernel_info(self) -> str:
        return self.load_kernels().detail

    def function(self, name: str, signature: str) -> Any:
        """A prepared kernel of letterbox.cu (the module is loaded on first use)."""
        fn = self._functions.get(name)
        if fn is None:
            self.load_kernels()
            with cuda_call(f"cuModuleGetFunction({name})", self._where):
                fn = self._module.get_function(name)
                fn.prepare(signature)
            self._functions[name] = fn
        return fn

    def _plan_tables(self, plan: LetterboxPlan) -> tuple[Any, Any]:
        # the tables depend on the source size and the resized size only; two specs with the same input size (a
        # letterbox and a stretch) resize to different sizes, so keying on the input size read past a table
        key = (plan.src_w, plan.src_h, plan.new_w, plan.new_h)
        tables = self._tables.get(key)
        if tables is None:
            with cuda_call("upload of the letterbox tables", self._where):
                tables = (self._cuda.to_device(np.ascontiguousarray(plan.xtab)),
                          self._cuda.to_device(np.ascontiguousarray(plan.ytab)))
            self._tables[key] = tables
        return tables

    def letterbox(self, stream: Any, plan: LetterboxPlan, src_ptr: int, src_pitch: int, dst_ptr: int,
                  dst_dtype: np.dtype[Any], pixels: k.PixelArgs | None = None) -> None:
        """Enqueue the preprocess of the raw 8-bit frame at `src_ptr` into the input tensor at `dst_ptr`."""
        dtype = np.dtype(dst_dtype)
        name = k.LETTERBOX_FOR_DTYPE.get(dtype.name)
        if name is None:
            raise ValueError(f"the letterbox kernel writes float32, float16 or uint8, not {dtype}")
        px = pixels or k.PixelArgs.ultralytics()
        fn = self.function(name, k.LETTERBOX_ARGS)
        xtab, ytab = self._plan_tables(plan)
        plane, pixel = px.strides(plan.dst_h, plan.dst_w)
        f32 = np.float32
        with cuda_call("launch of the letterbox kernel", self._where):
            fn.prepared_async_call(k.grid_2d(plan.dst_w, plan.dst_h), k.BLOCK_2D, stream, src_ptr, plan.src_w,
                                   plan.src_h, src_pitch, int(px.swap_rb), xtab, ytab, plan.new_w, plan.new_h, plan.left,
                                   plan.top, dst_ptr, plan.dst_w, plan.dst_h, plane, pixel,
                                   *(f32(v) for v in (*px.mul, *px.add, *px.pad)))

    def close(self) -> None:
        if self._closed:
            return
        try:
            with self.activate():
                for xtab, ytab in self._tables.values():
                    xtab.free()
                    ytab.free()
                self._tables.clear()
                self._functions.clear()
                self._module = None
        finally:
            self._closed = True
            with cuda_call("cuDevicePrimaryCtxRelease", self._where):
                self._ctx.detach()
