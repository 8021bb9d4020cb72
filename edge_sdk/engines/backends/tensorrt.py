"""The `tensorrt` engine backend: its config section and TensorRtEngine (the building blocks are in engines/trt/).

`open_tensorrt(model_path, config)` is what `engine.type: tensorrt` opens (engines/registry.py): an `.onnx`
model is built (or taken from the engine cache in `engine.engine_dir`, relative to the model's folder) for
the detected device; an engine file (`.engine`/`.plan`/`.trt`) is loaded: edge-sdk's own after its manifest's
key matches this device (TensorRT, CUDA, GPU, JetPack: key.py), one built elsewhere (`trtexec --saveEngine`,
Ultralytics `format=engine`) after TensorRT accepts its version and GPU (engines/trt/plan_file.py).

Two ways to run a `TensorRtEngine`:

- `infer(batch)` (checked by the base class, then `infer_impl`): synchronous, on slot 0, with the engine's
  own stream and page-locked buffers; returns fresh float arrays the caller owns.
- `enqueue(slot, stream_handle, input_ptr, output_ptrs)`: for the CUDA-stream runner (edge_sdk/cuda/),
  which owns its device buffers and streams (the engine is its own `stream_engine()`). Each slot has its own
  execution context, so with 2 slots two frames can be in flight on two streams. Call it inside
  `with engine.activated():`, and never enqueue a slot again before its previous work on its stream has finished.
  `io` lists the tensors (order of `output_ptrs`: `outputs`), with shapes, dtypes and byte sizes to allocate.

CUDA goes through edge-sdk's one CUDA layer (edge_sdk/cuda/pycuda_backend.py, buffers.py), the runner's too.
Without TensorRT, opening raises DependencyMissing saying how to install it; nothing else in edge-sdk needs it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from edge_sdk.cuda.check import import_pycuda
from edge_sdk.engines.base import Backend, Engine, EngineConfigBase, EngineInfo, TensorSpec
from edge_sdk.engines.model_info import file_sha256
from edge_sdk.engines.trt import compat
from edge_sdk.engines.trt.facts import current_target
from edge_sdk.engines.trt.iospec import IoTensor, describe_io
from edge_sdk.engines.trt.key import key_target
from edge_sdk.engines.trt.layers import inspect_layers
from edge_sdk.engines.trt.plan_file import (
    ENGINE_SUFFIXES,
    OTHER_DEVICE_WARNING,
    PlanFile,
    explain,
    other_device_error,
    read_plan,
)
from edge_sdk.engines.trt.trtlog import TrtLog
from edge_sdk.engines.trt.version import Features, TrtVersion, require_tensorrt
from edge_sdk.errors import EngineError, ModelError

if TYPE_CHECKING:
    import contextlib
    from collections.abc import Sequence

    import tensorrt as trt

    from edge_sdk.cuda.api import SlotBinding
    from edge_sdk.cuda.buffers import IoBuffers
    from edge_sdk.cuda.pycuda_backend import PycudaBackend

log = logging.getLogger(__name__)


class TensorRtEngineConfig(EngineConfigBase):
    type: Literal["tensorrt"] = Field("tensorrt", description="a TensorRT engine built on this device")
    dla_core: int | None = Field(None, ge=0, le=1, description="run on this DLA core (Orin AGX/NX: 0 or 1); null = GPU")
    gpu_fallback: bool = Field(True, description="let layers DLA cannot run fall back to the GPU (listed in the build report)")
    workspace_mb: int = Field(1024, ge=16, le=65536, description="builder memory-pool (workspace) limit in MiB")
    optimization_level: int = Field(3, ge=0, le=5, description="builder optimization level (TensorRT >= 8.6)")
    engine_dir: str = Field("build/engines", description="where engines and their manifests are cached")
    slots: int = Field(2, ge=1, le=8, description="in-flight frames in the CUDA-stream runner (2 = double buffering)")
    opt_batch: int | None = Field(None, ge=1, le=64, description="the batch a dynamic-batch engine is tuned for (its "
                                                                 "optimization profile's opt, 1..max_batch); null: "
                                                                 "the max batch")
    calibration_cache: str | None = Field(
        None, description="TensorRT calibration cache from the INT8 step (relative to the model's folder); "
                          "needed for DLA INT8 on TensorRT 8.6/10.x")
    tf32: bool = Field(True, description="let FP32 layers use TF32 (TensorRT's default on Ampere and newer, Orin "
                                         "included; ~10 bits of mantissa); false: exact FP32. Part of the engine key")
    allow_other_device: bool = Field(False, description="run an engine file built elsewhere on another model of GPU "
                                                        "(same compute capability) instead of refusing it")


class TensorRtEngine(Engine):
    """A deserialized engine with one execution context per in-flight slot. A context manager; see module doc."""

    def __init__(self, engine_path: str | Path, *, slots: int = 2, zero_copy: bool = False,
                 allow_other_device: bool = False, root: Path = Path("/"), device_id: int = 0) -> None:
        from edge_sdk.cuda.pycuda_backend import PycudaBackend  # the CUDA layer (and OpenCV) only when an engine opens

        version = require_tensorrt()
        self._features: Features = version.features
        plan = read_plan(engine_path)
        key = plan.key
        if plan.origin == "edge-sdk" and key.get("tensorrt_version") != version.text:  # before CUDA is touched
            raise EngineError(f"the engine was built with TensorRT {key.get('tensorrt_version')}, this is {version.text}",
                              where=str(plan.path),
                              fix="rebuild it on this device (delete it; edge-sdk rebuilds from the ONNX)")
        if slots < 1:
            raise ValueError(f"slots must be >= 1, got {slots}")
        self._lock = threading.Lock()
        self._log = TrtLog()
        self._buffers: IoBuffers | None = None
        self._runtime: trt.Runtime | None = None
        self._engine: trt.ICudaEngine | None = None
        self._contexts: list[trt.IExecutionContext] = []
        self._zero_copy = zero_copy
        self._cuda: PycudaBackend | None = PycudaBackend(device_id, needed_for="running TensorRT engines")
        precision = plan.precision
        try:
            with self._cuda.activate():
                self._check_target(plan, version, root)
                engine = self._deserialize(plan, version, allow_other_device)
                self.io: tuple[IoTensor, ...] = tuple(describe_io(engine, self._features))
                if plan.origin != "edge-sdk" and precision == "unknown":
                    precision = _precision_from_layers(engine)
                for _ in range(slots):
                    context = engine.create_execution_context()
                    if context is None:
                        raise EngineError(f"TensorRT cannot create an execution context: {self._log.last_errors()}",
                                          where=str(plan.path), fix="free GPU memory (other engines?) or use fewer slots")
                    self._contexts.append(context)
        except BaseException:
            self.close()
            raise
        self.inputs = tuple(t for t in self.io if t.is_input)
        self.outputs = tuple(t for t in self.io if not t.is_input)
        if len(self.inputs) != 1 or len(self.inputs[0].shape) != 4:
            self.close()
            raise ModelError(f"the engine has inputs {[(t.name, list(t.shape)) for t in self.inputs]}; a detector "
                             "takes exactly one image tensor [N,3,H,W]", where=str(plan.path))
        self.batch_range: tuple[int, int] | None = None  # the profile's batch (min, max) of a dynamic batch
        self._shapes: list[tuple[int, ...] | None] = [None] * len(self._contexts)  # each context's input shape
        self._max_shapes: dict[str, tuple[int, ...]] = {t.name: t.shape for t in self.io}
        if self.inputs[0].dynamic_batch:
            try:
                with self._cuda.activate():
                    self._settle_batch(engine, plan.path)
            except BaseException:
                self.close()
                raise
        dla_core = key.get("dla_core")
        self.info = EngineInfo(
            type="tensorrt", model_path=str(plan.path),
            model_sha256=str(key.get("onnx_sha256", "")) or file_sha256(plan.path), precision=precision,
            inputs=tuple(TensorSpec(t.name, t.shape, t.dtype) for t in self.inputs),
            outputs=tuple(TensorSpec(t.name, t.shape, t.dtype) for t in self.outputs),
            device=f"dla:{dla_core}" if isinstance(dla_core, int) else "cuda:0", batch_range=self.batch_range,
            extra={"tensorrt": version.text, "api_path": self._features.path, "slots": slots,
                   "gpu": self._cuda.device_name, "zero_copy": zero_copy, "origin": plan.origin,
                   "manifest": str(plan.path) + ".json" if plan.manifest is not None else None,
                   "metadata": plan.metadata})

    def _settle_batch(self, engine: trt.ICudaEngine, where: Path) -> None:
        """A dynamic batch: its range from the engine's optimization profile 0 (which every context uses), and
        every tensor's shape at the largest batch (what buffers hold)."""
        image = self.inputs[0]
        shapes = engine.get_tensor_profile_shape(image.name, 0)
        if len(shapes) != 3:
            raise EngineError(f"the engine's input {image.name!r} has a dynamic batch but no optimization profile",
                              where=str(where), fix="rebuild it (edge-sdk builds one profile for a dynamic batch)")
        low, high = int(shapes[0][0]), int(shapes[2][0])
        self.batch_range = (low, high)
        self._set_batch(0, high)
        context = self._contexts[0]
        for t in self.io:
            dims = context.get_tensor_shape(t.name)
            self._max_shapes[t.name] = tuple(int(dims[i]) for i in range(len(dims)))

    def _set_batch(self, slot: int, batch: int) -> None:
        """Give slot `slot`'s context a batch of `batch` images (a dynamic batch only; a no-op when it has it)."""
        shape = self.inputs[0].at_batch(batch)
        if self._shapes[slot] == shape:
            return
        if not self._contexts[slot].set_input_shape(self.inputs[0].name, shape):
            low, high = self.batch_range or (0, 0)
            raise EngineError(f"TensorRT refused a batch of {batch} (the engine takes {low} to {high}): "
                              f"{self._log.last_errors()}", where=self.info.model_path if hasattr(self, "info") else "")
        self._shapes[slot] = shape

    def _check_target(self, plan: PlanFile, version: TrtVersion, root: Path) -> None:
        """An edge-sdk engine loads only where its key's target (TensorRT, CUDA, GPU, JetPack, board) is this device's
        (fields this device cannot tell are not compared)."""
        if plan.origin != "edge-sdk" or self._cuda is None:
            return
        built = key_target(plan.key)
        here = current_target(version, root, self._cuda.compute_capability)
        known = {f: v for f, v in here.as_dict().items() if v is not None}
        changed = [d for d in built.differences(here) if d.split(" ", 1)[0] in known]
        if changed:
            raise EngineError("the engine was built for another device or software: " + "; ".join(changed),
                              where=str(plan.path),
                              fix="rebuild it here (delete it: edge-sdk rebuilds it from the ONNX), e.g. after a "
                                  "JetPack upgrade")

    def _deserialize(self, plan: PlanFile, version: TrtVersion, allow_other_device: bool) -> trt.ICudaEngine:
        import tensorrt as trt

        runtime = trt.Runtime(self._log.logger)
        self._runtime = runtime
        dla_core = plan.key.get("dla_core")
        if isinstance(dla_core, int):
            runtime.DLA_core = dla_core
        engine = runtime.deserialize_cuda_engine(plan.data)
        gpu = self._cuda.device_name if self._cuda is not None else "?"
        if engine is None:
            raise explain(plan, self._log.last_errors(), version.text, gpu)
        self._engine = engine
        if plan.origin != "edge-sdk" and any(OTHER_DEVICE_WARNING in w for w in self._log.warnings):
            if not allow_other_device:
                raise other_device_error(plan, gpu)
            log.warning("%s: running an engine built on another model of GPU (engine.allow_other_device)", plan.path)
        return engine

    @property
    def slots(self) -> int:
        return len(self._contexts)

    @property
    def cuda(self) -> PycudaBackend | None:
        """The engine's CUDA layer (its context, for the caller's buffers and streams); None once closed."""
        return self._cuda

    def stream_engine(self) -> TensorRtEngine:
        """The engine itself: its per-slot contexts are made when it opens (edge_sdk/cuda/api.py's StreamEngine)."""
        return self

    def prepare_slots(self, slots: Sequence[SlotBinding]) -> None:
        """The runner's slots use this engine's contexts: no more slots than it was opened with (`engine.slots`)."""
        if len(slots) > len(self._contexts):
            raise EngineError(f"the runner uses {len(slots)} slots but the TensorRT engine was opened with "
                              f"{len(self._contexts)}", where="engine.slots",
                              fix="open the engine with as many slots as the runner uses")

    def release_slots(self) -> None:
        """The contexts live as long as the engine (its owner closes it)."""

    def activated(self) -> contextlib.AbstractContextManager[None]:
        """Make the engine's CUDA context current in this thread (for `enqueue` and the caller's CUDA calls)."""
        if self._cuda is None or self.closed:
            raise EngineError("engine is closed")
        return self._cuda.activate()

    def enqueue(self, slot: int, stream_handle: int, input_ptr: int, output_ptrs: list[int] | tuple[int, ...],
                batch: int | None = None) -> None:
        """Enqueue one inference of slot `slot` on a CUDA stream; device pointers in `io` order of outputs.

        `batch`: the images at the input pointer, for an engine with a dynamic batch (None: its largest); an engine
        with a fixed batch computes its own. Returns once the work is queued (not done): synchronize the stream
        before reading the outputs.
        """
        if self.closed:
            raise EngineError("engine is closed")
        if not 0 <= slot < len(self._contexts):
            raise ValueError(f"slot {slot} out of range 0..{len(self._contexts) - 1}")
        if len(output_ptrs) != len(self.outputs):
            raise ValueError(f"{len(output_ptrs)} output pointers given, the engine has {len(self.outputs)} outputs")
        if self.batch_range is not None:
            self._set_batch(slot, batch or self.batch_range[1])
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
        """On slot 0's context; a dynamic batch as the input's leading size (the base class checked its range)."""
        with self._lock, self.activated():
            bufs = self._buffers or self._allocate()
            first, outs = bufs.buffers[0], bufs.buffers[1:]
            rows = int(inputs[0].shape[0]) if self.batch_range is not None else None
            if rows is not None:
                self._set_batch(0, rows)
            np.copyto(first.host[:rows], inputs[0], casting="same_kind")
            bufs.upload(first, rows)
            self._enqueue_impl(self._contexts[0], bufs.handle, first.device_ptr, [b.device_ptr for b in outs])
            kept = [rows if t.dynamic_batch else None for t in self.outputs]
            for b, n in zip(outs, kept):
                bufs.download(b, n)
            bufs.synchronize()
            return [b.host[:n].astype(np.float32) if b.host.dtype == np.float16 else b.host[:n].copy()
                    for b, n in zip(outs, kept)]

    def _allocate(self) -> IoBuffers:
        from edge_sdk.cuda.buffers import IoBuffers

        if self._cuda is None:
            raise EngineError("engine is closed")
        specs = [(self._max_shapes[t.name], t.dtype) for t in (*self.inputs, *self.outputs)]
        self._buffers = IoBuffers(self._cuda, specs, self._zero_copy)
        return self._buffers

    def close_impl(self) -> None:
        backend, self._cuda = self._cuda, None
        if backend is None:
            return
        try:
            with backend.activate():  # TensorRT objects and buffers are released with their context current
                if self._buffers is not None:
                    self._buffers.free()
                    self._buffers = None
                self._contexts = []
                self._engine = None
                self._runtime = None
        finally:
            backend.close()


def _precision_from_layers(engine: trt.ICudaEngine) -> str:
    """An engine built elsewhere: its precision from its layers (INT8 > FP16 > FP32), or "unknown" without
    detailed profiling (trtexec's default)."""
    try:
        report = inspect_layers(engine)
    except ValueError:
        return "unknown"
    if not report.detailed:
        return "unknown"
    return next((name for label, name in (("INT8", "int8"), ("FP16", "fp16"), ("FP32", "fp32"))
                 if report.counts.get(label)), "unknown")


def _relative_to_model(model_path: Path, engine_dir: str) -> Path:
    d = Path(engine_dir).expanduser()
    return d if d.is_absolute() else model_path.resolve().parent / d


def open_tensorrt(model_path: str, cfg: TensorRtEngineConfig) -> TensorRtEngine:
    """Open `model_path`: an engine file (edge-sdk's or one built elsewhere), or an .onnx to build or take from
    the cache (at the model's own precision: Q/DQ int8, float16 weights fp16, else fp32)."""
    require_tensorrt()  # before anything else: one clear DependencyMissing where TensorRT is absent
    import_pycuda("running TensorRT engines (CUDA buffers and streams)")  # and before a build that can take minutes
    path = Path(model_path)
    from edge_sdk.device.profiles import resolve_profile

    profile = resolve_profile("auto")
    if path.suffix not in ENGINE_SUFFIXES:
        from edge_sdk.engines.trt.builder import build_engine

        calib = _relative_to_model(path, cfg.calibration_cache) if cfg.calibration_cache else None
        art = build_engine(path, calib, profile, cfg, _relative_to_model(path, cfg.engine_dir))
        path = art.engine_path
    return TensorRtEngine(path, slots=cfg.slots, zero_copy=profile.mapped_memory,
                          allow_other_device=cfg.allow_other_device)


BACKEND = Backend(TensorRtEngineConfig, open_tensorrt)
