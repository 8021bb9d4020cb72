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
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType
from typing import Any, Literal

import numpy as np

from edge_sdk.cuda.api import RunnerResult, SlotBinding, StreamEngine
from edge_sdk.cuda.backend import Backend
from edge_sdk.cuda.kernels import PixelArgs
from edge_sdk.cuda.letterbox_plan import LetterboxPlan, make_plan
from edge_sdk.cuda.options import RunnerOptions, input_hw, layout_for
from edge_sdk.cuda.slots import Pending, Slot, SlotLayout, allocate_raw, allocate_slot, free_slot
from edge_sdk.errors import EdgeSdkError, EngineError
from edge_sdk.frame import Frame
from edge_sdk.preprocess.apply import preprocess_into
from edge_sdk.preprocess.geometry import LetterboxInfo
from edge_sdk.preprocess.spec import ultralytics_spec

log = logging.getLogger(__name__)

__all__ = ["CudaRunner", "RunnerOptions"]


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
        log.info("CUDA runner: %d slots of up to %d frame(s) on %s, %s memory, %s preprocess%s", len(self._slots),
                 self.batch, self._backend.name, self.memory, self.options.preprocess,
                 f" (kernels: {self.kernels})" if self.kernels else "")
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
                                      s.work_stream, self._layout.input_shape[0]) for s in self._slots]
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

    @property
    def batch(self) -> int:
        """The most frames one `submit_batch` takes (min(options.batch, what the engine takes))."""
        return self._layout.plan.fill if self._layout is not None else 1

    def submit(self, frame: Frame, tag: Any = None) -> None:
        """Start one frame (BGR uint8 HxWx3): `submit_batch([frame], tag)`."""
        self.submit_batch([frame], tag)

    def submit_batch(self, frames: Sequence[Frame], tag: Any = None) -> None:
        """Start up to `batch` frames (BGR uint8 HxWx3 each) as one inference. Blocks while every slot is busy.
        The images are copied; the caller may reuse them when this returns."""
        for frame in frames:
            image = frame.image
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or image.size == 0:
                raise ValueError(f"frame {frame.frame_id}: expected a BGR uint8 HxWx3 image, got {image.dtype} "
                                 f"{image.shape}")
        if not 1 <= len(frames) <= self.batch:
            raise ValueError(f"{len(frames)} frames in one submission; this runner takes 1 to {self.batch}")
        t0 = time.perf_counter()
        with self._active() as backend:
            slot = self._next_slot(backend)
            t_stage = time.perf_counter()
            images = [f.image for f in frames]
            if self.options.preprocess == "gpu":
                infos = self._stage_raw(backend, slot, images)
            else:
                infos = self._stage_cpu(backend, slot, images)
            per_frame = (time.perf_counter() - t_stage) / len(frames)
            self._launch(backend, slot, list(frames), tag, infos, t0, per_frame)

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
        """Start one already preprocessed input tensor of the slot's full shape (preprocess="cpu"). No host copy
        when `tensor` is the array `next_input()` returned."""
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
            self._launch(backend, slot, [], tag, [], t0, 0.0, rows=int(host.shape[0]))

    def _next_slot(self, backend: Backend) -> Slot:
        """The slot the next submission goes to, once the engine has read its previous input."""
        slot = self._slots[self._seq % len(self._slots)]
        if slot.pending is not None:
            backend.synchronize_event(slot.consumed)
        return slot

    def _plan(self, h: int, w: int) -> LetterboxPlan:
        plan = self._plans.get((h, w))
        if plan is None:
            plan = self._plans[(h, w)] = make_plan(h, w, input_hw(self._open_layout().input_shape, self.options),
                                                   self.options.spec)
        return plan

    def _open_layout(self) -> SlotLayout:
        if self._layout is None:
            raise EngineError("the runner is not open")
        return self._layout

    def _stage_raw(self, backend: Backend, slot: Slot, images: list[np.ndarray]) -> list[LetterboxInfo]:
        """Copy the raw frames one after another into the slot's page-locked buffer, upload them at once, and
        letterbox each into its row of the input on the slot's upload stream."""
        layout = self._open_layout()
        sizes = [int(img.size) for img in images]
        total = sum(sizes)
        if total > slot.raw_capacity:
            self._collect_through(backend, slot)
            backend.synchronize()
            log.info("CUDA runner slot %d: growing the frame buffer to %d bytes (%d frame(s))", slot.index, total,
                     len(images))
            allocate_raw(backend, slot, total, self.memory == "mapped")
        host_raw = slot.host_raw
        if host_raw is None:
            raise EngineError("the slot has no frame buffer")
        offset = 0
        for img, size in zip(images, sizes):
            np.copyto(host_raw[offset:offset + size].reshape(img.shape), img)
            offset += size
        if self.memory == "copy":
            backend.htod(slot.raw_ptr, host_raw[:total], slot.upload_stream)
        infos, offset = [], 0
        for i, (img, size) in enumerate(zip(images, sizes)):
            h, w = int(img.shape[0]), int(img.shape[1])
            plan = self._plan(h, w)
            backend.letterbox(slot.upload_stream, plan, slot.raw_ptr + offset, w * 3,
                              slot.input_ptr + i * layout.image_bytes, layout.input_dtype, self._pixels)
            infos.append(plan.info)
            offset += size
        return infos

    def _stage_cpu(self, backend: Backend, slot: Slot, images: list[np.ndarray]) -> list[LetterboxInfo]:
        host = slot.host_input
        if host is None:
            raise EngineError("the slot has no host input buffer")
        layout = self._open_layout()
        spec = self.options.spec or ultralytics_spec(input_hw(layout.input_shape, self.options))
        infos = [preprocess_into(img, host, spec, slot=i) for i, img in enumerate(images)]
        if self.memory == "copy":
            rows = layout.plan.rows_for(len(images))
            backend.htod(slot.input_ptr, host[:rows], slot.upload_stream)
        return infos

    def _launch(self, backend: Backend, slot: Slot, frames: list[Frame], tag: Any, infos: list[LetterboxInfo],
                t0: float, preprocess_s: float, rows: int | None = None) -> None:
        layout = self._open_layout()
        rows = rows if rows is not None else layout.plan.rows_for(len(frames))
        backend.record(slot.uploaded, slot.upload_stream)
        self._collect_through(backend, slot)  # the slot's previous outputs are read before new ones land
        backend.wait(slot.work_stream, slot.uploaded)
        backend.record(slot.started, slot.work_stream)
        try:
            self.engine.enqueue(slot.index, backend.stream_handle(slot.work_stream), slot.input_ptr, slot.output_ptrs,
                                rows)
        except EdgeSdkError:
            raise
        except Exception as exc:
            raise EngineError(f"the engine failed to enqueue: {type(exc).__name__}: {exc}",
                              where=f"{self.engine.info.model_path} (slot {slot.index})") from exc
        backend.record(slot.consumed, slot.work_stream)
        if self.memory == "copy":
            for host, mem, batched in zip(slot.host_outputs, slot.dev_outputs, layout.output_batched):
                backend.dtoh(host[:rows] if batched else host, mem.ptr, slot.work_stream)
        backend.record(slot.done, slot.work_stream)
        slot.pending = Pending(self._seq, frames, tag, infos, t0, time.perf_counter() - t0, preprocess_s, rows)
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
        layout = self._open_layout()
        outputs = [np.array(h[:pending.rows] if batched else h, copy=True)
                   for h, batched in zip(slot.host_outputs, layout.output_batched)]
        infer_s = backend.elapsed_ms(slot.started, slot.consumed) / 1000.0
        frames, infos = pending.frames, pending.letterboxes
        self._ready.append(RunnerResult(pending.seq, outputs, frames[0] if frames else None, pending.tag,
                                        infos[0] if infos else None,
                                        {"host_submit": pending.host_submit_s, "preprocess": pending.preprocess_s,
                                         "infer": infer_s, "latency": time.perf_counter() - pending.t_submit},
                                        frames, infos, pending.rows))

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
