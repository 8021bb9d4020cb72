"""A CPU stand-in for the runner's CUDA backend: streams are worker threads, device memory is numpy.

It implements `edge_sdk.cuda.backend.Backend` with CUDA's ordering rules: work on one stream runs in
order, streams run concurrently (with random delays, to shake out missing waits), events complete when
the stream reaches them, `wait` makes a stream wait for an event on the "device" side, copies read their
source when they run (not when they are enqueued), and freed memory is gone (a later access fails the
stream, and the failure is reported at the next synchronization, like a sticky CUDA error).

It checks the runner's bookkeeping (ordering, slot reuse, shutdown with frames in flight). It is not CUDA
and proves nothing about the GPU: the tests in tests/cuda/test_gpu_*.py do that on a real one.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_sdk.cuda.api import SlotBinding
from edge_sdk.cuda.kernels import PixelArgs
from edge_sdk.cuda.letterbox_plan import LetterboxPlan, letterbox_reference
from edge_sdk.engines.base import EngineInfo, TensorSpec
from edge_sdk.errors import EngineError
from edge_sdk.preprocess.spec import PreprocessSpec


class StandInStream:
    def __init__(self, handle: int, jitter_s: float, seed: int, errors: list[BaseException]) -> None:
        self.handle = handle
        self._errors = errors
        self._jitter_s = jitter_s
        self._rng = random.Random(seed)
        self._q: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name=f"standin-stream-{handle}", daemon=True)
        self._thread.start()

    def put(self, op: Callable[[], None]) -> None:
        self._q.put(op)

    def _work(self) -> None:
        while (op := self._q.get()) is not None:
            if self._jitter_s:
                time.sleep(self._rng.uniform(0, self._jitter_s))
            if self.error is None:  # after a failure, later work is skipped (a sticky error)
                try:
                    op()
                except BaseException as exc:
                    self.error = exc
                    self._errors.append(exc)
            elif isinstance(op, _Complete):
                op()  # events still complete, so waiters wake up and see the error

    def stop(self) -> None:
        self._q.put(None)
        self._thread.join(10)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()


class StandInEvent:
    def __init__(self) -> None:
        self.recorded = 0
        self.completed = 0
        self.cond = threading.Condition()

    def wait_for(self, generation: int, timeout: float = 30.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: self.completed >= generation, timeout):
                raise TimeoutError("stand-in event never completed")


@dataclass
class _Complete:
    event: StandInEvent
    generation: int

    def __call__(self) -> None:
        with self.event.cond:
            self.event.completed = max(self.event.completed, self.generation)
            self.event.cond.notify_all()


@dataclass
class StandInMemory:
    ptr: int
    nbytes: int


class StandInBackend:
    """The stand-in. `copies` counts host<->device copies; `live` holds every allocation not yet freed."""

    name = "cpu-stand-in"

    def __init__(self, *, jitter_s: float = 0.002, seed: int = 0, integrated: bool = False) -> None:
        self._jitter_s = jitter_s
        self._seed = seed
        self._integrated = integrated
        self._top = 0x10_0000
        self._handles = itertools.count(0x7000)
        self.memory: dict[int, np.ndarray] = {}  # base address -> flat uint8 storage
        self.mapped: dict[int, int] = {}  # id(host array base) -> address
        self.streams: dict[int, StandInStream] = {}
        self.copies = 0
        self.errors: list[BaseException] = []  # every failure of work on any stream, even after it was released
        self.kernels = 0
        self.closed = False
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def activate(self) -> Iterator[None]:
        if self.closed:
            raise EngineError("stand-in backend used after close")
        yield

    def is_integrated(self) -> bool:
        return self._integrated

    # memory: addresses are fake, but every access goes through `view`, which fails on freed memory
    def _register(self, storage: np.ndarray) -> int:
        with self.lock:
            addr = self._top
            self._top += (storage.nbytes // 4096 + 2) * 4096  # disjoint, with a gap
            self.memory[addr] = storage
        return addr

    def view(self, ptr: int, nbytes: int) -> np.ndarray:
        with self.lock:
            for base, storage in self.memory.items():
                if base <= ptr and ptr + nbytes <= base + storage.nbytes:
                    return storage[ptr - base: ptr - base + nbytes]
        raise RuntimeError(f"stand-in: access to unallocated memory at {ptr:#x} ({nbytes} bytes)")

    def pinned(self, shape: tuple[int, ...], dtype: np.dtype[Any], *, mapped: bool) -> np.ndarray:
        arr = np.empty(shape, dtype)
        if mapped:
            self.mapped[id(arr)] = self._register(arr.reshape(-1).view(np.uint8))
        return arr

    def mapped_ptr(self, host: np.ndarray) -> int:
        base = host
        while isinstance(base.base, np.ndarray):
            base = base.base
        return self.mapped[id(base)]

    def free_pinned(self, host: np.ndarray) -> None:
        addr = self.mapped.pop(id(host), None)
        if addr is not None:
            with self.lock:
                del self.memory[addr]

    def device_alloc(self, nbytes: int) -> StandInMemory:
        storage = np.full(nbytes, 0xCD, np.uint8)  # poisoned: unwritten outputs show
        return StandInMemory(self._register(storage), nbytes)

    def free_device(self, mem: Any) -> None:
        with self.lock:
            del self.memory[mem.ptr]

    # streams and events
    def stream(self) -> StandInStream:
        handle = next(self._handles)
        s = StandInStream(handle, self._jitter_s, self._seed + handle, self.errors)
        self.streams[handle] = s
        return s

    def stream_handle(self, stream: Any) -> int:
        return int(stream.handle)

    def by_handle(self, handle: int) -> StandInStream:
        return self.streams[handle]

    def event(self, timing: bool = False) -> StandInEvent:
        return StandInEvent()

    def elapsed_ms(self, start: Any, stop: Any) -> float:
        return 0.0  # the stand-in keeps no device time

    def record(self, event: Any, stream: Any) -> None:
        with event.cond:
            event.recorded += 1
            generation = event.recorded
        stream.put(_Complete(event, generation))

    def wait(self, stream: Any, event: Any) -> None:
        generation = event.recorded
        stream.put(lambda: event.wait_for(generation))

    def _raise_stream_errors(self) -> None:
        for s in self.streams.values():
            if s.error is not None:
                raise EngineError(f"stand-in stream {s.handle} failed: {s.error}") from s.error

    def query(self, event: Any) -> bool:
        self._raise_stream_errors()
        with event.cond:
            return bool(event.completed >= event.recorded)

    def synchronize_event(self, event: Any) -> None:
        event.wait_for(event.recorded)
        self._raise_stream_errors()

    def synchronize_stream(self, stream: Any) -> None:
        ev = StandInEvent()
        self.record(ev, stream)
        ev.wait_for(ev.recorded)
        self._raise_stream_errors()

    def synchronize(self) -> None:
        for s in list(self.streams.values()):
            ev = StandInEvent()
            self.record(ev, s)
            ev.wait_for(ev.recorded)
        self._raise_stream_errors()

    def release_stream(self, stream: Any) -> None:
        stream.stop()
        self.streams.pop(stream.handle, None)

    def release_event(self, event: Any) -> None:
        pass

    # work
    def htod(self, dst_ptr: int, src: np.ndarray, stream: Any) -> None:
        self.copies += 1
        stream.put(lambda: self.view(dst_ptr, src.nbytes).__setitem__(slice(None), src.reshape(-1).view(np.uint8)))

    def dtoh(self, dst: np.ndarray, src_ptr: int, stream: Any) -> None:
        self.copies += 1
        stream.put(lambda: dst.reshape(-1).view(np.uint8).__setitem__(slice(None), self.view(src_ptr, dst.nbytes)))

    def letterbox(self, stream: Any, plan: LetterboxPlan, src_ptr: int, src_pitch: int, dst_ptr: int,
                  dst_dtype: np.dtype[Any], pixels: PixelArgs | None = None) -> None:
        self.kernels += 1
        dtype = np.dtype(dst_dtype)
        px = pixels or PixelArgs.ultralytics()

        def run() -> None:
            raw = self.view(src_ptr, plan.src_h * src_pitch).reshape(plan.src_h, plan.src_w, 3)
            nbytes = 3 * plan.dst_h * plan.dst_w * dtype.itemsize
            shape = (1, 3, plan.dst_h, plan.dst_w) if px.layout == "nchw" else (1, plan.dst_h, plan.dst_w, 3)
            kernel_reference(raw, self.view(dst_ptr, nbytes).view(dtype).reshape(shape), plan, px)

        stream.put(run)

    def kernel_info(self) -> str:
        return "CPU stand-in (numpy letterbox_reference)"

    def close(self) -> None:
        for s in list(self.streams.values()):
            s.stop()
        self.streams.clear()
        self.closed = True


class StandInEngine:
    """A `StreamEngine` on the stand-in: `compute(input) -> outputs` runs on the slot's stream thread."""

    def __init__(self, backend: StandInBackend, info: EngineInfo,
                 compute: Callable[[np.ndarray], list[np.ndarray]]) -> None:
        self.backend = backend
        self.info = info
        self.compute = compute
        self.prepared: list[SlotBinding] = []
        self.released = 0
        self.enqueued = 0
        self.batches: list[int] = []  # the batch of each enqueue
        self.fail_enqueue_at: int | None = None  # raise in enqueue (host side) at this call
        self.fail_on_stream_at: int | None = None  # fail on the stream (asynchronously) at this call

    def prepare_slots(self, slots: Sequence[SlotBinding]) -> None:
        self.prepared = list(slots)

    def enqueue(self, slot_index: int, stream_handle: int, input_ptr: int, output_ptrs: tuple[int, ...],
                batch: int = 1, /) -> None:
        n = self.enqueued
        self.enqueued += 1
        self.batches.append(batch)
        if self.fail_enqueue_at == n:
            raise RuntimeError("stand-in engine refused the enqueue")
        binding = self.prepared[slot_index]
        if binding.stream_handle != stream_handle:
            raise AssertionError("enqueue on a stream other than the slot's")
        spec = self.info.inputs[0]
        lead = spec.shape[0]
        rows = lead if isinstance(lead, int) and lead > 0 else batch  # a dynamic batch: the images enqueued
        shape = (rows, *(int(d) for d in spec.shape[1:]))  # type: ignore[arg-type]
        in_bytes = int(np.prod(shape)) * np.dtype(spec.dtype).itemsize
        fail = self.fail_on_stream_at == n

        def run() -> None:
            if fail:
                raise RuntimeError("stand-in engine failed on the stream")
            x = self.backend.view(input_ptr, in_bytes).view(spec.dtype).reshape(shape).copy()  # only `rows` images
            for out, ptr in zip(self.compute(x), output_ptrs):
                out = np.ascontiguousarray(out)
                self.backend.view(ptr, out.nbytes)[:] = out.reshape(-1).view(np.uint8)

        self.backend.by_handle(stream_handle).put(run)

    def release_slots(self) -> None:
        self.released += 1
        self.prepared = []


def tagging_info(input_hw: tuple[int, int] = (32, 32), out_len: int = 8) -> EngineInfo:
    """I/O of a tiny engine whose output is `input.flat[:out_len] + 1` (shows which frame it came from)."""
    return EngineInfo(type="stand-in", model_path="<stand-in>", model_sha256="", precision="fp32",
                      inputs=(TensorSpec("images", (1, 3, *input_hw), "float32"),),
                      outputs=(TensorSpec("output0", (1, out_len), "float32"),), device="cuda:0")


def tagging_compute(out_len: int = 8) -> Callable[[np.ndarray], list[np.ndarray]]:
    return lambda x: [(x.reshape(-1)[:out_len] + 1).reshape(1, out_len)]


def kernel_reference(raw: np.ndarray, out: np.ndarray, plan: LetterboxPlan, px: PixelArgs) -> None:
    """letterbox.cu in numpy: the levels (letterbox_reference with the plan, BGR uint8 NHWC, px's pad level), then
    the channel order, out = float32(level) * mul + add (two roundings), the layout and the dtype."""
    h, w = plan.dst_h, plan.dst_w
    levels = np.empty((1, h, w, 3), np.uint8)
    letterbox_reference(raw, levels, plan, PreprocessSpec((h, w), pad_value=px.pad_level, channel_order="bgr",
                                                          scale=1.0, layout="nhwc", dtype="uint8"))
    model = levels[0, :, :, ::-1] if px.swap_rb else levels[0]
    if out.dtype == np.uint8:
        values = model
    else:
        values = (model.astype(np.float32) * np.asarray(px.mul, np.float32) + np.asarray(px.add, np.float32))
    out[0] = values if px.layout == "nhwc" else values.transpose(2, 0, 1)


def emulate_letterbox_launches(cuda: Any) -> None:
    """Make `fake_pycuda`'s kernel launches compute: letterbox_f32/_f16/_u8 launches run `kernel_reference` on
    the fake's "device memory" (the plan rebuilt from the launch's sizes with the default geometry)."""
    from edge_sdk.cuda.letterbox_plan import make_plan

    dtypes = {"letterbox_f32": np.float32, "letterbox_f16": np.float16, "letterbox_u8": np.uint8}

    def launch(name: str, args: tuple[Any, ...]) -> None:
        if name not in dtypes:
            return
        (_grid, _block, _stream, src, src_w, src_h, pitch, swap, _xt, _yt, _nw, _nh, _l, _t, dst, dst_w, dst_h,
         plane, _pixel, *values) = args
        mul, add, pad = tuple(values[0:3]), tuple(values[3:6]), tuple(values[6:9])
        layout = "nchw" if plane != 1 else "nhwc"
        px = PixelArgs(bool(swap), mul, add, pad, layout)  # type: ignore[arg-type]
        raw = cuda.memory.view(int(src))[: src_h * pitch].reshape(src_h, src_w, 3)
        dtype = np.dtype(dtypes[name])
        shape = (1, 3, dst_h, dst_w) if layout == "nchw" else (1, dst_h, dst_w, 3)
        out = cuda.memory.view(int(dst))[: int(np.prod(shape)) * dtype.itemsize].view(dtype).reshape(shape)
        kernel_reference(raw, out, make_plan(src_h, src_w, (dst_h, dst_w)), px)

    cuda.on_launch = launch
