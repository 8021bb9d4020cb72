"""The `tensorrt` engine backend: its config section and TensorRtEngine (the building blocks are in engines/trt/).

`open_tensorrt(model_path, config)` is what `engine.type: tensorrt` opens (engines/registry.py):
a `.engine`/`.plan` file is loaded after its manifest checks out; an `.onnx` model is first built (or taken
from the engine cache in `engine.engine_dir`, relative to the model's folder) for the detected device.

Two ways to run a `TensorRtEngine`:

- `infer(batch)` (checked by the base class, then `infer_impl`): synchronous, on slot 0, with the engine's
  own stream and pinned buffers; returns fresh float arrays the caller owns.
- `enqueue(slot, stream_handle, input_ptr, output_ptrs)`: for the CUDA-stream runner (edge_sdk/cuda/),
  which owns its device buffers and streams. Each slot has its own execution context, so with 2 slots two
  frames can be in flight on two streams. Call it inside `with engine.activated():`, and never enqueue a
  slot again before its previous work on its stream has finished. `io` lists the tensors (order of
  `output_ptrs`: `outputs`), with shapes, dtypes and byte sizes to allocate.

Without TensorRT, opening raises DependencyMissing saying how to install it; nothing else in edge-sdk needs it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from edge_sdk.engines.base import Engine, EngineConfigBase, EngineInfo, TensorSpec
from edge_sdk.engines.registry import Backend
from edge_sdk.engines.trt import cache, compat
from edge_sdk.engines.trt.cuda_mem import CudaContext, StreamBuffers, require_pycuda
from edge_sdk.engines.trt.iospec import IoTensor, describe_io
from edge_sdk.engines.trt.trtlog import TrtLog
from edge_sdk.engines.trt.version import Features, require_tensorrt
from edge_sdk.errors import EngineError, ModelError

if TYPE_CHECKING:
    import contextlib

    import tensorrt as trt

log = logging.getLogger(__name__)

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


class TensorRtEngineConfig(EngineConfigBase):
    type: Literal["tensorrt"] = Field("tensorrt", description="a TensorRT engine built on this device")
    dla_core: int | None = Field(None, ge=0, le=1, description="run on this DLA core (Orin AGX/NX: 0 or 1); null = GPU")
    gpu_fallback: bool = Field(True, description="let layers DLA cannot run fall back to the GPU (listed in the build report)")
    workspace_mb: int = Field(1024, ge=16, le=65536, description="builder memory-pool (workspace) limit in MiB")
    optimization_level: int = Field(3, ge=0, le=5, description="builder optimization level (TensorRT >= 8.6)")
    engine_dir: str = Field("build/engines", description="where engines and their manifests are cached")
    slots: int = Field(2, ge=1, le=8, description="in-flight frames in the CUDA-stream runner (2 = double buffering)")
    calibration_cache: str | None = Field(
        None, description="TensorRT calibration cache from the INT8 step (relative to the model's folder); "
                          "needed for DLA INT8 on TensorRT 8.6/10.x")


class TensorRtEngine(Engine):
    """A deserialized engine with one execution context per in-flight slot. A context manager; see module doc."""

    def __init__(self, engine_path: str | Path, *, slots: int = 2, zero_copy: bool = False) -> None:
        import tensorrt as trt

        version = require_tensorrt()
        self._features: Features = version.features
        path = Path(engine_path)
        data, manifest = cache.load_verified(path)
        key = manifest.get("key")
        key = key if isinstance(key, dict) else {}
        if key.get("tensorrt_version") != version.text:
            raise EngineError(f"the engine was built with TensorRT {key.get('tensorrt_version')}, this is {version.text}",
                              where=str(path), fix="rebuild it on this device (delete it; edge-sdk rebuilds from the ONNX)")
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        self._lock = threading.Lock()
        self._cuda: CudaContext | None = None
        self._log = TrtLog()
        self._buffers: StreamBuffers | None = None
        self._runtime: trt.Runtime | None = None
        self._engine: trt.ICudaEngine | None = None
        self._contexts: list[trt.IExecutionContext] = []
        self._zero_copy = zero_copy
        cuda_ctx = CudaContext()
        self._cuda = cuda_ctx
        dla_core = key.get("dla_core")
        try:
            with cuda_ctx.active():
                runtime = trt.Runtime(self._log.logger)
                self._runtime = runtime
                if isinstance(dla_core, int):
                    runtime.DLA_core = dla_core
                engine = runtime.deserialize_cuda_engine(data)
                if engine is None:
                    raise EngineError(f"TensorRT cannot deserialize the engine: {self._log.last_errors()}",
                                      where=str(path), fix="rebuild it on this device with this TensorRT")
                self._engine = engine
                self.io: tuple[IoTensor, ...] = tuple(describe_io(engine, self._features))
                for _ in range(slots):
                    context = engine.create_execution_context()
                    if context is None:
                        raise EngineError(f"TensorRT cannot create an execution context: {self._log.last_errors()}",
                                          where=str(path), fix="free GPU memory (other engines?) or use fewer slots")
                    self._contexts.append(context)
        except BaseException:
            self.close()
            raise
        self.inputs = tuple(t for t in self.io if t.is_input)
        self.outputs = tuple(t for t in self.io if not t.is_input)
        if len(self.inputs) != 1 or len(self.inputs[0].shape) != 4:
            self.close()
            raise ModelError(f"the engine has inputs {[(t.name, list(t.shape)) for t in self.inputs]}; a detector "
                             "takes exactly one image tensor [1,3,H,W]", where=str(path))
        precision = str(key.get("precision", "unknown"))
        self.info = EngineInfo(
            type="tensorrt", model_path=str(path), model_sha256=str(key.get("onnx_sha256", "")), precision=precision,
            inputs=tuple(TensorSpec(t.name, t.shape, t.dtype) for t in self.inputs),
            outputs=tuple(TensorSpec(t.name, t.shape, t.dtype) for t in self.outputs),
            device=f"dla:{dla_core}" if isinstance(dla_core, int) else "cuda:0",
            extra={"tensorrt": version.text, "api_path": self._features.path, "slots": slots,
                   "gpu": cuda_ctx.name, "zero_copy": zero_copy, "manifest": str(cache.manifest_path_for(path))})

    @property
    def slots(self) -> int:
        return len(self._contexts)

    def activated(self) -> contextlib.AbstractContextManager[None]:
        """Make the engine's CUDA context current in this thread (for `enqueue` and the caller's CUDA calls)."""
        if self._cuda is None or self.closed:
            raise EngineError("engine is closed")
        return self._cuda.active()

    def enqueue(self, slot: int, stream_handle: int, input_ptr: int, output_ptrs: list[int] | tuple[int, ...]) -> None:
        """Enqueue one inference of slot `slot` on a CUDA stream; device pointers in `io` order of outputs.

        Returns once the work is queued (not done): synchronize the stream before reading the outputs.
        """
        if self.closed:
            raise EngineError("engine is closed")
        if not 0 <= slot < len(self._contexts):
            raise ValueError(f"slot {slot} out of range 0..{len(self._contexts) - 1}")
        if len(output_ptrs) != len(self.outputs):
            raise ValueError(f"{len(output_ptrs)} output pointers given, the engine has {len(self.outputs)} outputs")
        self._enqueue_impl(self._contexts[slot], stream_handle, input_ptr, list(output_ptrs))

    def _enqueue_impl(self, context: trt.IExecutionContext, stream: int, input_ptr: int, output_ptrs: list[int]) -> None:
        pointers = {self.inputs[0].name: input_ptr}
        pointers.update({t.name: p for t, p in zip(self.outputs, output_ptrs)})
        if self._features.io_tensor_api:
            for name, ptr in pointers.items():
                if not context.set_tensor_address(name, ptr):
                    raise EngineError(f"TensorRT refused the address of tensor {name!r}: {self._log.last_errors()}")
            ok = context.execute_async_v3(stream)
        else:
            bindings = [0] * len(self.io)
            for t in self.io:
                bindings[t.index] = pointers[t.name]
            ok = compat.execute_async_v2(context, bindings, stream)
        if not ok:
            raise EngineError(f"TensorRT could not enqueue inference: {self._log.last_errors()}")

    def infer_impl(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        with self._lock, self.activated():
            bufs = self._buffers or self._allocate()
            np.copyto(bufs.buffers[0].host, inputs[0], casting="same_kind")
            bufs.to_device(bufs.buffers[0])
            self._enqueue_impl(self._contexts[0], bufs.handle, bufs.buffers[0].device_ptr,
                               [b.device_ptr for b in bufs.buffers[1:]])
            for b in bufs.buffers[1:]:
                bufs.to_host(b)
            bufs.synchronize()
            return [b.host.astype(np.float32) if b.host.dtype == np.float16 else b.host.copy() for b in bufs.buffers[1:]]

    def _allocate(self) -> StreamBuffers:
        specs = [(t.shape, t.dtype) for t in (*self.inputs, *self.outputs)]
        if self._cuda is None:
            raise EngineError("engine is closed")
        self._buffers = StreamBuffers(self._cuda.cuda, specs, self._zero_copy)
        return self._buffers

    def close_impl(self) -> None:
        cuda_ctx, self._cuda = self._cuda, None
        if cuda_ctx is None:
            return
        with cuda_ctx.active():  # TensorRT objects and buffers are released with their context current
            if self._buffers is not None:
                self._buffers.free()
                self._buffers = None
            self._contexts = []
            self._engine = None
            self._runtime = None
        cuda_ctx.close()


def _relative_to_model(model_path: Path, engine_dir: str) -> Path:
    d = Path(engine_dir).expanduser()
    return d if d.is_absolute() else model_path.resolve().parent / d


def open_tensorrt(model_path: str, cfg: TensorRtEngineConfig) -> TensorRtEngine:
    """Open `model_path` (an .engine with its manifest, or an .onnx to build or take from the cache)."""
    require_tensorrt()  # before anything else: one clear DependencyMissing where TensorRT is absent
    require_pycuda()  # and before a build that can take minutes, the same for pycuda
    path = Path(model_path)
    from edge_sdk.device.profiles import resolve_profile

    profile = resolve_profile("auto")
    if path.suffix not in ENGINE_SUFFIXES:
        from edge_sdk.engines.trt.builder import build_engine

        calib = _relative_to_model(path, cfg.calibration_cache) if cfg.calibration_cache else None
        art = build_engine(path, calib, profile, cfg, _relative_to_model(path, cfg.engine_dir))
        path = art.engine_path
    return TensorRtEngine(path, slots=cfg.slots, zero_copy=profile.mapped_memory)


BACKEND = Backend(TensorRtEngineConfig, open_tensorrt)
