"""`CudaRunner`: N slots in flight on CUDA streams, so copies and preprocessing hide behind inference.

    with CudaRunner(engine, RunnerOptions(slots=2)) as runner:
        for frame in frames:
            runner.submit(frame)                 # blocks only while every slot is busy
            for result in runner.results():      # finished frames, in submission order
                handle(result.frame, result.outputs, result.letterbox)
        for result in runner.drain():            # the frames still in flight
            handle(...)

    with CudaRunner(engine) as runner:           # or: frames in, results out, as soon as each is done
        for result in runner.run(frames):        # a None in `frames`: nothing now, return what is in flight
            handle(...)

The pipeline drives it through its CUDA executor (edge_sdk/pipeline/executors/cuda.py).

Timings of each result: `preprocess` (host seconds to stage the frame and enqueue its upload and letterbox),
`infer` (device seconds between CUDA events around the engine's work on the slot's stream), `latency` (submit to
collection), `host_submit`.

Per frame: the raw 8-bit frame is copied into the slot's page-locked buffer, uploaded and letterboxed on
the GPU by one kernel on the slot's upload stream; the engine enqueues its inference on the slot's work
stream (which waits for the upload on the device, not on the host), followed by the copy of the outputs
back into page-locked memory. While one slot infers, the next frame uploads in another, and the previous
outputs come back. `edge_sdk.cuda.slots` says what each stream and event is for.

Traps:
- Results are collected when a slot is reused, or when `results()` / `drain()` is called: a caller whose
  frames stop coming must call `results(wait=True)` to get the last ones without submitting more.
- Leaving the `with` block waits for the frames in flight (their buffers are freed only after the GPU is
  done with them) and drops their results: call `drain()` first to keep them. `discarded` counts them.
- The first frames of a new frame size upload small resize tables, and the engine's first inferences
  are slow (allocations, algorithm search): warm up before timing.
- One runner is not shared between threads without care: public methods hold a lock, so a `submit` that
  waits for a free slot blocks `results()` in another thread until it returns.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import numpy as np

from edge_sdk.cuda.api import RunnerResult, SlotBinding, StreamEngine, static_shape
from edge_sdk.cuda.backend import Backend
from edge_sdk.cuda.kernels import KernelMode, PixelArgs
from edge_sdk.cuda.letterbox_plan import LetterboxPlan, make_plan
from edge_sdk.cuda.slots import Pending, Slot, SlotLayout, allocate_raw, allocate_slot, free_slot
from edge_sdk.errors import EdgeSdkError, EngineError
from edge_sdk.frame import Frame
from edge_sdk.preprocess.apply import preprocess_into
from edge_sdk.preprocess.geometry import LetterboxInfo
from edge_sdk.preprocess.spec import PreprocessSpec, ultralytics_spec

log = logging.getLogger(__name__)

MemoryMode = Literal["copy", "mapped", "auto"]
PreprocessMode = Literal["gpu", "cpu"]
MAX_SLOTS = 8


@dataclass(frozen=True)
class RunnerOptions:
    """How the runner runs.

    slots: frames in flight (2 = double buffering; 3 hides upload, inference and download entirely even
        when they take equal time).
    memory: "copy" (discrete GPUs: page-locked host buffers, copies on the slot's streams), "mapped"
        (Jetson: the GPU reads and writes mapped page-locked host memory, no copies), or "auto" (mapped
        when the GPU is integrated). `edge_sdk.pipeline.executors.cuda.memory_mode_for_profile` maps a
        device profile.
    preprocess: "gpu" (the raw frame crosses the bus; one kernel letterboxes it) or "cpu"
        (`edge_sdk.preprocess.letterbox` on the host; the float tensor crosses the bus).
    max_frame_hw: the largest frame (height, width) the slots hold without growing their buffers.
    spec: the model's preprocessing (None: Ultralytics' letterbox at the engine's input size). The GPU kernel
        does every option of a one-image spec (geometry, pad, channel order, scale/mean/std, NCHW/NHWC,
        float32/float16/uint8: `kernels.PixelArgs.from_spec`); `letterbox_plan.kernel_supports` says what not.
    kernels: where the GPU preprocess kernels come from ("auto": the prebuilt fatbin, else NVRTC; see
        edge_sdk/cuda/kernels.py); None: $EDGE_SDK_KERNELS or "auto".
    """

    slots: int = 2
    memory: MemoryMode = "copy"
    preprocess: PreprocessMode = "gpu"
    max_frame_hw: tuple[int, int] = (1080, 1920)
    device_id: int = 0
    spec: PreprocessSpec | None = None
    kernels: KernelMode | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.slots <= MAX_SLOTS:
            raise ValueError(f"slots must be 1..{MAX_SLOTS}, got {self.slots}")
        if self.memory not in ("copy", "mapped", "auto"):
            raise ValueError(f"memory must be 'copy', 'mapped' or 'auto', got {self.memory!r}")
        if self.preprocess not in ("gpu", "cpu"):
            raise ValueError(f"preprocess must be 'gpu' or 'cpu', got {self.preprocess!r}")
        if min(self.max_frame_hw) < 1:
            raise ValueError(f"max_frame_hw must be positive, got {self.max_frame_hw}")
        if self.preprocess == "gpu" and self.spec is not None:
            from edge_sdk.cuda.letterbox_plan import kernel_supports

            if lacks := kernel_supports(self.spec):
                raise ValueError(f"the GPU letterbox kernel does not do {lacks}: use preprocess='cpu'")


def _nhwc(options: RunnerOptions) -> bool:
    return options.spec is not None and options.spec.layout == "nhwc"


def input_hw(shape: tuple[int, ...], options: RunnerOptions) -> tuple[int, int]:
    """(H, W) of the image input: [1,3,H,W], or [1,H,W,3] when the spec's layout is NHWC."""
    return (shape[1], shape[2]) if _nhwc(options) else (shape[2], shape[3])


def layout_for(engine: StreamEngine, options: RunnerOptions, mapped: bool) -> SlotLayout:
    """The slot buffers this engine needs."""
    info = engine.info
    spec = info.inputs[0]
    shape = static_shape(spec.shape, spec.name, info.model_path)
    channels = (shape[3] if _nhwc(options) else shape[1]) if len(shape) == 4 else 0
    if len(shape) != 4 or shape[0] != 1 or channels != 3:
        want = "[1,H,W,3]" if _nhwc(options) else "[1,3,H,W]"
        raise EngineError(f"input {spec.name!r} has shape {list(shape)}; the runner feeds one image {want}",
                          where=info.model_path, fix="export the model with batch 1 and a 3-channel image input")
    out_shapes = tuple(static_shape(o.shape, o.name, info.model_path) for o in info.outputs)
    h, w = options.max_frame_hw
    return SlotLayout(shape, np.dtype(spec.dtype), out_shapes, tuple(np.dtype(o.dtype) for o in info.outputs),
                      mapped=mapped, gpu_preprocess=options.preprocess == "gpu", raw_capacity=h * w * 3)


class CudaRunner:
    """Runs frames through a `StreamEngine` on N CUDA-stream slots. A context manager: it owns the slots'
    buffers, streams and events (and the CUDA context when no backend is given) and frees them on exit."""

    def __init__(self, engine: StreamEngine, options: RunnerOptions | None = None, *,
                 backend: Backend | None = None) -> None:
        self.engine = engine
        self.options = options or RunnerOptions()
        self._backend = backend
        self._owns_backend = backend is None
        self._slots: list[Slot] = []
        self._inflight: deque[Slot] = deque()
        self._ready: deque[RunnerResult] = deque()
        self._plans: dict[tuple[int, int], LetterboxPlan] = {}
        self._layout: SlotLayout | None = None
        self._seq = 0
        self._state: Literal["new", "open", "failed", "closed"] = "new"
        self._engine_prepared = False
        self._lock = threading.RLock()
        self.memory: Literal["copy", "mapped"] = "copy"
        self.discarded = 0  # frames in flight when the runner was closed (their results were dropped)
        self.kernels = ""  # where the GPU preprocess kernels came from (prebuilt fatbin or NVRTC), once open
        self._bindings: list[SlotBinding] = []
        self._pixels = PixelArgs.from_spec(self.options.spec) if self.options.spec is not None else None

    # -- lifetime --------------------------------------------------------------------------------
    def __enter__(self) -> CudaRunner:
        self.open()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._close(raise_errors=exc is None)

    def open(self) -> CudaRunner:
        if self._state != "new":
            raise EngineError(f"the runner is {self._state}; open it once")
        try:
            if self._backend is None:
                from edge_sdk.cuda.pycuda_backend import PycudaBackend

                self._backend = PycudaBackend(self.options.device_id, kernel_mode=self.options.kernels)
            with self._backend.activate():
                self._open_slots(self._backend)
        except BaseException:
            self._close(raise_errors=False)
            raise
        self._state = "open"
        log.info("CUDA runner: %d slots on %s, %s memory, %s preprocess%s", len(self._slots), self._backend.name,
                 self.memory, self.options.preprocess, f" (kernels: {self.kernels})" if self.kernels else "")
        return self

    def _open_slots(self, backend: Backend) -> None:
        mode = self.options.memory
        integrated = backend.is_integrated()
        self.memory = ("mapped" if integrated else "copy") if mode == "auto" else mode
        if self.memory == "mapped" and not integrated:
            log.warning("mapped memory on a discrete GPU: every access crosses the bus (use memory: copy here)")
        self._layout = layout_for(self.engine, self.options, self.memory == "mapped")
        if self.options.preprocess == "gpu":
            self.kernels = backend.kernel_info()
        for i in range(self.options.slots):
            self._slots.append(allocate_slot(backend, i, self._layout))
        self._bindings = [SlotBinding(s.index, backend.stream_handle(s.work_stream), s.input_ptr, s.output_ptrs,
                                      s.work_stream) for s in self._slots]
        self.engine.prepare_slots(self._bindings)
        self._engine_prepared = True

    def close(self) -> None:
        """Wait for the frames in flight, drop their results, free everything. Safe to call twice."""
        self._close(raise_errors=True)

    def _close(self, *, raise_errors: bool) -> None:
        with self._lock:
            if self._state == "closed":
                return
            if self._state == "failed":
                raise_errors = False  # the failure was raised already; what closing meets is its consequence
            self._state = "closed"
            errors: list[BaseException] = []
            backend = self._backend
            if backend is not None:
                try:
                    with backend.activate():
                        errors += self._free_all(backend)
                except Exception as exc:
                    errors.append(exc)
                if self._owns_backend:
                    try:
                        backend.close()
                    except Exception as exc:
                        errors.append(exc)
            for err in errors:
                log.error("closing the CUDA runner: %s", err)
            if errors and raise_errors:
                first = errors[0]
                if isinstance(first, EdgeSdkError):
                    raise first
                raise EngineError(f"closing the CUDA runner failed: {first}") from first

    def _free_all(self, backend: Backend) -> list[BaseException]:
        errors: list[BaseException] = []
        try:
            backend.synchronize()  # frames in flight finish before their buffers are freed
        except Exception as exc:
            errors.append(exc)
        if self._inflight:
            self.discarded += len(self._inflight)
            log.info("CUDA runner closed with %d frame(s) in flight; their results are dropped", len(self._inflight))
            self._inflight.clear()
        if self._engine_prepared:
            self._engine_prepared = False
            try:
                self.engine.release_slots()
            except Exception as exc:
                errors.append(exc)
        for slot in self._slots:
            errors += free_slot(backend, slot)
        self._slots.clear()
        return errors

    @contextlib.contextmanager
    def _active(self) -> Iterator[Backend]:
        """The lock, the context, and: any failure leaves the runner failed (closed on exit)."""
        with self._lock:
            if self._state != "open" or self._backend is None:
                raise EngineError(f"the CUDA runner is {self._state}",
                                  fix="use the runner inside its `with` block; after a failure, open a new one")
            try:
                with self._backend.activate():
                    yield self._backend
            except BaseException:
                self._state = "failed"
                raise

    # -- submitting ------------------------------------------------------------------------------
    @property
    def slots(self) -> int:
        return len(self._slots)

    def engine_only(self, iterations: int) -> tuple[float, list[float]]:
        """Engine-only throughput on this runner's own slots and engine sessions: each slot's input as the last
        frame submitted to it left it (resident on the device), `iterations` inferences enqueued back to back
        across the slots (a slot waits only for its own previous inference), no copies, no preprocessing.
        Returns (inferences per second, each inference's device time in seconds, from CUDA events). Call it
        with no frame in flight (after `drain()`): it is what the pipeline's throughput is compared with."""
        from edge_sdk.cuda.measure import engine_only

        with self._active() as backend:
            if self._inflight:
                raise EngineError("engine_only needs an idle runner: drain() it first")
            return engine_only(backend, self.engine, self._bindings, iterations)

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    def submit(self, frame: Frame, tag: Any = None) -> None:
        """Start one frame (BGR uint8 HxWx3). Blocks while every slot is busy. The frame's image is copied;
        the caller may reuse it when this returns."""
        image = frame.image
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or image.size == 0:
            raise ValueError(f"frame {frame.frame_id}: expected a BGR uint8 HxWx3 image, got {image.dtype} {image.shape}")
        t0 = time.perf_counter()
        with self._active() as backend:
            slot = self._next_slot(backend)
            t_stage = time.perf_counter()
            if self.options.preprocess == "gpu":
                info = self._stage_raw(backend, slot, image)
            else:
                info = self._stage_cpu(backend, slot, image)
            self._launch(backend, slot, frame, tag, info, t0, time.perf_counter() - t_stage)

    def next_input(self) -> np.ndarray:
        """The page-locked input tensor the next `submit_tensor` uses, once it is free (preprocess="cpu").

        Write the input into it and pass it to `submit_tensor`: then nothing is copied on the host."""
        if self.options.preprocess != "cpu":
            raise ValueError("next_input needs preprocess='cpu' (with 'gpu' the runner takes raw frames)")
        with self._active() as backend:
            slot = self._next_slot(backend)
            if slot.host_input is None:
                raise EngineError("the slot has no host input buffer")
            return slot.host_input

    def submit_tensor(self, tensor: np.ndarray, tag: Any = None) -> None:
        """Start one already preprocessed input tensor (preprocess="cpu"). No host copy when `tensor` is
        the array `next_input()` returned."""
        if self.options.preprocess != "cpu":
            raise ValueError("submit_tensor needs preprocess='cpu' (with 'gpu' use submit(frame))")
        layout = self._layout
        if layout is not None and tensor.shape != layout.input_shape:
            raise ValueError(f"tensor shape {tensor.shape} differs from the engine input {layout.input_shape}")
        t0 = time.perf_counter()
        with self._active() as backend:
            slot = self._next_slot(backend)
            host = slot.host_input
            if host is None:
                raise EngineError("the slot has no host input buffer")
            if tensor is not host:
                np.copyto(host, tensor, casting="same_kind")
            if self.memory == "copy":
                backend.htod(slot.input_ptr, host, slot.upload_stream)
            self._launch(backend, slot, None, tag, None, t0, 0.0)

    def _next_slot(self, backend: Backend) -> Slot:
        """The slot the next frame goes to, once the engine has read its previous input."""
        slot = self._slots[self._seq % len(self._slots)]
        if slot.pending is not None:
            backend.synchronize_event(slot.consumed)
        return slot

    def _plan(self, h: int, w: int) -> LetterboxPlan:
        plan = self._plans.get((h, w))
        if plan is None:
            layout = self._layout
            if layout is None:
                raise EngineError("the runner is not open")
            plan = self._plans[(h, w)] = make_plan(h, w, input_hw(layout.input_shape, self.options), self.options.spec)
        return plan

    def _stage_raw(self, backend: Backend, slot: Slot, image: np.ndarray) -> LetterboxInfo:
        h, w = int(image.shape[0]), int(image.shape[1])
        nbytes = h * w * 3
        if nbytes > slot.raw_capacity:
            self._collect_through(backend, slot)
            backend.synchronize()
            log.info("CUDA runner slot %d: growing the frame buffer to %dx%d", slot.index, w, h)
            allocate_raw(backend, slot, nbytes, self.memory == "mapped")
        host_raw = slot.host_raw
        if host_raw is None:
            raise EngineError("the slot has no frame buffer")
        np.copyto(host_raw[:nbytes].reshape(h, w, 3), image)
        if self.memory == "copy":
            backend.htod(slot.raw_ptr, host_raw[:nbytes], slot.upload_stream)
        plan = self._plan(h, w)
        layout = self._layout
        if layout is None:
            raise EngineError("the runner is not open")
        backend.letterbox(slot.upload_stream, plan, slot.raw_ptr, w * 3, slot.input_ptr, layout.input_dtype,
                          self._pixels)
        return plan.info

    def _stage_cpu(self, backend: Backend, slot: Slot, image: np.ndarray) -> LetterboxInfo:
        host = slot.host_input
        if host is None:
            raise EngineError("the slot has no host input buffer")
        size = input_hw(tuple(int(d) for d in host.shape), self.options)
        info = preprocess_into(image, host, self.options.spec or ultralytics_spec(size))
        if self.memory == "copy":
            backend.htod(slot.input_ptr, host, slot.upload_stream)
        return info

    def _launch(self, backend: Backend, slot: Slot, frame: Frame | None, tag: Any, info: LetterboxInfo | None,
                t0: float, preprocess_s: float) -> None:
        backend.record(slot.uploaded, slot.upload_stream)
        self._collect_through(backend, slot)  # the slot's previous outputs are read before new ones land
        backend.wait(slot.work_stream, slot.uploaded)
        backend.record(slot.started, slot.work_stream)
        try:
            self.engine.enqueue(slot.index, backend.stream_handle(slot.work_stream), slot.input_ptr, slot.output_ptrs)
        except EdgeSdkError:
            raise
        except Exception as exc:
            raise EngineError(f"the engine failed to enqueue: {type(exc).__name__}: {exc}",
                              where=f"{self.engine.info.model_path} (slot {slot.index})") from exc
        backend.record(slot.consumed, slot.work_stream)
        if self.memory == "copy":
            dev_outputs = [m.ptr for m in slot.dev_outputs]
            for host, ptr in zip(slot.host_outputs, dev_outputs):
                backend.dtoh(host, ptr, slot.work_stream)
        backend.record(slot.done, slot.work_stream)
        slot.pending = Pending(self._seq, frame, tag, info, t0, time.perf_counter() - t0, preprocess_s)
        self._inflight.append(slot)
        self._seq += 1

    # -- collecting ------------------------------------------------------------------------------
    def _collect_oldest(self, backend: Backend) -> None:
        slot = self._inflight[0]
        backend.synchronize_event(slot.done)
        self._inflight.popleft()
        pending = slot.pending
        if pending is None:
            raise EngineError(f"slot {slot.index} was in flight without a frame")
        slot.pending = None
        outputs = [np.array(h, copy=True) for h in slot.host_outputs]
        infer_s = backend.elapsed_ms(slot.started, slot.consumed) / 1000.0
        self._ready.append(RunnerResult(pending.seq, outputs, pending.frame, pending.tag, pending.letterbox,
                                        {"host_submit": pending.host_submit_s, "preprocess": pending.preprocess_s,
                                         "infer": infer_s, "latency": time.perf_counter() - pending.t_submit}))

    def _collect_through(self, backend: Backend, slot: Slot) -> None:
        """Collect, oldest first, up to and including `slot`'s frame in flight."""
        while slot.pending is not None:
            self._collect_oldest(backend)

    def results(self, wait: bool = False) -> list[RunnerResult]:
        """Finished frames in submission order (possibly none). With `wait`, wait for at least the oldest
        frame in flight when none is finished yet."""
        with self._active() as backend:
            if wait and self._inflight and not self._ready:
                self._collect_oldest(backend)
            while self._inflight and backend.query(self._inflight[0].done):
                self._collect_oldest(backend)
            out = list(self._ready)
            self._ready.clear()
            return out

    def drain(self) -> list[RunnerResult]:
        """Wait for every frame in flight; return all results not yet returned, in submission order."""
        with self._active() as backend:
            while self._inflight:
                self._collect_oldest(backend)
            out = list(self._ready)
            self._ready.clear()
            return out

    def run(self, frames: Iterable[Frame | None]) -> Iterator[RunnerResult]:
        """Submit each frame and yield the finished results in submission order; at the end, the rest.

        A `None` in `frames` means "no frame right now" (a queue read that timed out): the oldest frame in
        flight is then waited for and yielded, so results of a stream that pauses do not wait for the next
        frame. Stopping the iteration early leaves frames in flight: the runner's exit waits for and drops them."""
        for frame in frames:
            if frame is not None:
                self.submit(frame)
            yield from self.results(wait=frame is None)
        yield from self.drain()
