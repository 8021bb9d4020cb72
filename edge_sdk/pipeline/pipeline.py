"""Threaded pipeline: capture, inference and publishing overlap; results are published in frame order.

    capture (one thread per Source, its own bounded queue)
    ->  infer workers (`engine.concurrency` threads on the one engine; each takes the next frame
        round-robin over the sources, letterboxes it into its own input tensor, infers and decodes)
    ->  [queue]  ->  publish in frame order (one thread: sink, hooks, stats)

GPU branch: one thread drives the CUDA-stream runner (upload, infer and download overlap, see gpu.py) and
the publish thread decodes. Queues are bounded (`pipeline.queue_size`, and each source's own), so a slow
stage applies back-pressure upstream: files wait; live sources keep only their newest frame and count the
rest as dropped.
"""

from __future__ import annotations

import collections
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from edge_sdk.decode.base import BoundDecoder, DecodeParams, Decoder, Detections
from edge_sdk.engines.base import Engine
from edge_sdk.engines.model_info import ModelMetadata
from edge_sdk.frame import CaptureStatus, Frame, FrameResult, ModelTag
from edge_sdk.pipeline.gpu import RunnerFactory, round_robin_frames, run_gpu_stage
from edge_sdk.pipeline.stats import StageStats
from edge_sdk.preprocess.apply import preprocess_into
from edge_sdk.preprocess.geometry import LetterboxInfo
from edge_sdk.preprocess.spec import PreprocessSpec, ultralytics_spec
from edge_sdk.sources.base import Source
from edge_sdk.sources.round_robin import RoundRobin

log = logging.getLogger(__name__)

_END = object()  # marks the end of one source's stream in the queues


def lower_priority(nice: int, native_id: int | None = None) -> None:
    """Raise the niceness of one thread (Linux: per-thread), so the engine's threads win the CPU.

    On a CPU-bound machine capture, letterbox and decode then fill the gaps the engine leaves instead of
    preempting its worker threads (a preempted worker stalls the whole parallel operator).
    """
    if nice <= 0:
        return
    try:
        tid = native_id if native_id is not None else threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except (OSError, AttributeError):  # not Linux, or not permitted: run at normal priority
        log.debug("could not lower the priority of thread %s", native_id)


def _log_source_end(src: Source, status: CaptureStatus) -> None:
    if status is CaptureStatus.ERROR:
        log.error("camera %s: source failed: %s", src.camera, src.health.last_error)


class ResultSink(Protocol):
    """Where results go (the MQTT publisher, a test collector, ...). Must not block for long."""

    def publish_result(self, result: FrameResult) -> None: ...


@dataclass
class PipelineParts:
    engine: Engine
    decoder: Decoder
    decode_params: DecodeParams
    metadata: ModelMetadata
    sources: Sequence[Source]
    sink: ResultSink | None = None
    on_result: Callable[[FrameResult], None] | None = None  # extra per-result hook (tests, bench, daemon)
    # GPU branch: when set, a CUDA-stream runner replaces the preprocess and infer stages (see gpu.py)
    make_runner: RunnerFactory | None = None
    # the model's preprocessing; None: Ultralytics' letterbox at the engine's input size
    preprocess: PreprocessSpec | None = None


@dataclass
class _Item:
    frame: Frame
    info: LetterboxInfo
    timings: dict[str, float] = field(default_factory=dict)
    model: _Model | None = None  # the engine, decoder and labels that handled it (set by the infer stage)


@dataclass(frozen=True)
class _Model:
    engine: Engine
    decoder: Decoder
    params: DecodeParams
    tag: ModelTag


class Pipeline:
    """Runs the stages until every source has ended, `max_frames` results were produced, or `stop()`."""

    def __init__(self, parts: PipelineParts, *, queue_size: int = 2, max_frames: int | None = None,
                 background_nice: int = 0) -> None:
        self.parts = parts
        self.background_nice = background_nice
        self.max_frames = max_frames
        self.spec = parts.preprocess or ultralytics_spec(parts.engine.info.input_hw)
        self.input_hw = self.spec.size
        self._decode_q: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()  # stop capturing; stages drain what is queued
        self._abort = threading.Event()  # stop everything now
        self.finished = threading.Event()
        self.first_result = threading.Event()
        self._engine_cond = threading.Condition()  # guards the engine, its model, in-flight count, swapping
        self._in_flight = 0
        self._swapping = False
        self._take_lock = threading.Lock()  # infer workers take frames and sequence numbers one at a time
        self._seq = 0
        self._workers = max(1, parts.engine.concurrency) if parts.make_runner is None else 1
        if parts.make_runner is not None and parts.engine.concurrency > 1:
            log.info("engine.workers=%d does not apply on the GPU: the CUDA-stream runner keeps frames in flight "
                     "itself (engine slots)", parts.engine.concurrency)
        # sources still streaming, taken in turn by the infer workers; a silent camera holds up no other
        self._frames = RoundRobin(parts.sources, on_end=_log_source_end)
        self.camera_results: collections.Counter[str] = collections.Counter()  # results published per camera
        self._workers_done = 0
        self._current: _Model | None = None  # decoder + tag of parts.engine, rebuilt after a swap
        self.stats = {name: StageStats(name) for name in ("preprocess", "infer", "decode", "publish", "total")}
        self.results = 0
        self.first_result_mono: float | None = None
        self.last_result_mono: float | None = None
        self.error: BaseException | None = None
        self._threads: list[threading.Thread] = []
        self.started_mono = 0.0

    # -- control ---------------------------------------------------------------------------------
    def start(self) -> Pipeline:
        self.started_mono = time.monotonic()
        self.lower_source_priority()
        if self.parts.make_runner is not None:
            self._spawn("infer", self._gpu_loop, self.parts.make_runner)
        else:
            for _ in range(self._workers):
                self._spawn("infer", self._infer_loop)
        self._spawn("decode-publish", self._decode_loop)
        return self

    def lower_source_priority(self) -> None:
        """Give capture threads the same lower priority as the other non-engine stages."""
        for src in self.parts.sources:
            thread_id = src.capture_thread_id
            if thread_id is not None:
                lower_priority(self.background_nice, thread_id)

    def stop(self) -> None:
        """Stop taking new frames; what is already in the pipeline is still inferred and published."""
        self._stop.set()

    def abort(self) -> None:
        self._stop.set()
        self._abort.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the pipeline has drained. Returns False on timeout."""
        return self.finished.wait(timeout)

    def join(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def swap_engine(self, engine: Engine, decoder: Decoder | None = None, decode_params: DecodeParams | None = None,
                    metadata: ModelMetadata | None = None, preprocess: PreprocessSpec | None = None) -> Engine:
        """Replace the engine (and with it the decoder, thresholds and class labels) between two inferences;
        returns the old engine (the caller closes it). Frames inferred before the swap are still decoded and
        labelled by the model that inferred them.

        Not on the GPU branch: the CUDA runner owns per-slot contexts of its engine (restart instead)."""
        if self.parts.make_runner is not None:
            raise ValueError("the engine of a GPU pipeline cannot be swapped live; restart the service")
        spec = preprocess or ultralytics_spec(engine.info.input_hw)
        if spec != self.spec:
            raise ValueError(f"the new model's preprocessing ({spec.describe()}) differs from the running one's "
                             f"({self.spec.describe()})")
        if max(1, engine.concurrency) != self._workers:
            raise ValueError(f"engine.workers changed ({self._workers} -> {engine.concurrency}); the running "
                             "pipeline keeps its number of infer workers")
        with self._engine_cond:
            self._swapping = True
            while self._in_flight:
                self._engine_cond.wait()
            old, self.parts.engine = self.parts.engine, engine
            if decoder is not None:
                self.parts.decoder = decoder
            if decode_params is not None:
                self.parts.decode_params = decode_params
            if metadata is not None:
                self.parts.metadata = metadata
            self._current = None
            self._swapping = False
            self._engine_cond.notify_all()
        return old

    def _model(self) -> _Model:
        """The current engine's decoder, thresholds and tag (call with the engine lock held)."""
        if self._current is None:
            p = self.parts
            self._current = _Model(p.engine, p.decoder, p.decode_params, ModelTag(p.engine.info, p.metadata.label))
        return self._current

    def steady_fps(self) -> float:
        """Results per second from the first result to the last: throughput without the start-up (engine
        load, first inference, CUDA graph capture), comparable with an engine-only measurement."""
        first, last = self.first_result_mono, self.last_result_mono
        if first is None or last is None or last <= first:
            return 0.0
        return (self.results - 1) / (last - first)

    def frames_flowing(self, max_age_s: float) -> bool:
        """True if a result came out within `max_age_s` (used for the systemd watchdog)."""
        last = self.last_result_mono
        return last is not None and (time.monotonic() - last) <= max_age_s

    def snapshot(self) -> dict[str, Any]:
        """Figures for the stats topic: per-stage fps and latency, per-source health, engine info."""
        info = self.parts.engine.info
        return {
            "uptime_s": round(time.monotonic() - self.started_mono, 1) if self.started_mono else 0.0,
            "results": self.results,
            "stages": {name: s.snapshot() for name, s in self.stats.items()},
            "sources": [{**s.snapshot_health().as_dict(), "results": self.camera_results[s.camera]}
                        for s in self.parts.sources],
            "engine": {"type": info.type, "device": info.device, "precision": info.precision,
                       "model_sha256": info.model_sha256[:16], "workers": self._workers},
        }

    # -- stages ----------------------------------------------------------------------------------
    def _spawn(self, name: str, target: Callable[..., None], *args: Any) -> None:
        def guarded() -> None:
            if name != "infer":
                lower_priority(self.background_nice)
            try:
                target(*args)
            except BaseException as exc:  # surface stage failures to the daemon instead of hanging
                log.exception("pipeline stage %s failed", name)
                self.error = exc
                self.abort()
                self.finished.set()

        t = threading.Thread(target=guarded, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def _put(self, q: queue.Queue[Any], item: Any) -> bool:
        while not self._abort.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _gpu_loop(self, make_runner: RunnerFactory) -> None:
        def emit(frame: Frame, info: LetterboxInfo, outputs: list[np.ndarray], timings: dict[str, float]) -> bool:
            self.stats["infer"].record(timings["infer"])
            seq, self._seq = self._seq, self._seq + 1  # the runner returns frames in order
            return self._put(self._decode_q, (seq, (_Item(frame, info, timings), outputs)))  # decoded in order

        frames = round_robin_frames(self._frames, self._stop.is_set)
        run_gpu_stage(make_runner, frames, emit)
        self._put(self._decode_q, _END)

    def _lease(self) -> _Model:
        """The current engine and its model for one inference; `_unlease` when it is done. A swap waits
        until every in-flight inference on the old engine has finished."""
        with self._engine_cond:
            while self._swapping:
                self._engine_cond.wait()
            self._in_flight += 1
            return self._model()

    def _unlease(self) -> None:
        with self._engine_cond:
            self._in_flight -= 1
            self._engine_cond.notify_all()

    def _next_frame(self) -> tuple[int, Frame] | None:
        """The next frame for an infer worker, round-robin over the sources still streaming, and its sequence
        number (the publishing order); None once every source has ended or the pipeline is stopping."""
        with self._take_lock:  # read and number together: frame order = sequence order
            while self._frames.active and not self._stop.is_set():
                frame = self._frames.next(0.25)
                if frame is None:
                    continue
                seq, self._seq = self._seq, self._seq + 1
                return seq, frame
        return None

    def _infer_loop(self) -> None:
        """One infer worker (`engine.concurrency` of them run at once on the same engine): takes a frame,
        letterboxes it into its own input tensor, infers, decodes, and hands the result over for publishing.
        Doing it all on one thread saves a hand-off per stage: on a small CPU the engine saturates, the
        other stages' CPU and wake-ups are taken from the engine."""
        spec = self.spec
        tensor = spec.blank()  # reused: the letterbox border is written once (other batch slots hold padding)
        previous: LetterboxInfo | None = None
        try:
            while not self._abort.is_set() and (taken := self._next_frame()) is not None:
                seq, frame = taken
                t0 = time.perf_counter()
                info = previous = preprocess_into(frame.image, tensor, spec, previous)
                t1 = time.perf_counter()
                model = self._lease()
                try:
                    outputs = model.engine.infer(tensor)
                    if spec.batch > 1:  # a model with a fixed batch: the frame is in slot 0
                        outputs = [o[:1] if o.ndim and o.shape[0] == spec.batch else o for o in outputs]
                finally:
                    self._unlease()
                t2 = time.perf_counter()
                self.stats["preprocess"].record(t1 - t0)
                self.stats["infer"].record(t2 - t1)
                item = _Item(frame, info, {"preprocess": t1 - t0, "infer": t2 - t1}, model)
                if not self._put(self._decode_q, (seq, self._decode(item, outputs))):
                    return
        finally:
            with self._take_lock:
                self._workers_done += 1
                last = self._workers_done == self._workers
            if last:
                self._put(self._decode_q, _END)

    def _decode_loop(self) -> None:
        """Publishes results in sequence order (infer workers may finish out of order)."""
        # seq -> the decoded result (CPU workers), or the raw outputs to decode here (the GPU branch)
        pending: dict[int, FrameResult | tuple[_Item, list[np.ndarray]]] = {}
        next_seq = 0
        try:
            while not self._abort.is_set():
                try:
                    entry = self._decode_q.get(timeout=0.1)
                except queue.Empty:
                    continue
                if entry is _END:
                    break
                seq, done = entry
                pending[seq] = done
                while next_seq in pending:
                    done = pending.pop(next_seq)
                    next_seq += 1
                    self._emit(done if isinstance(done, FrameResult) else self._decode(*done))
                    if self.max_frames is not None and self.results >= self.max_frames:
                        self.stop()
                        self._drain_rest()
                        return
        finally:
            self.finished.set()

    def _drain_rest(self) -> None:
        """After max_frames: let upstream stages finish without publishing more."""
        self._abort.set()

    def _decode(self, item: _Item, outputs: list[np.ndarray]) -> FrameResult:
        if item.model is None:  # the GPU branch: its engine is never swapped
            with self._engine_cond:
                item.model = self._model()
        t0 = time.perf_counter()
        decoder = item.model.decoder
        dets: Detections = (decoder(outputs, item.model.params, item.info) if isinstance(decoder, BoundDecoder)
                            else decoder(outputs, item.model.params))
        dets.boxes = item.info.to_original(dets.boxes)
        dt = time.perf_counter() - t0
        self.stats["decode"].record(dt)
        item.timings["decode"] = dt
        return FrameResult(item.frame, dets, item.info, item.timings, item.model.tag)

    def _emit(self, result: FrameResult) -> None:
        t1 = time.perf_counter()
        if self.parts.sink is not None:
            self.parts.sink.publish_result(result)
        if self.parts.on_result is not None:
            self.parts.on_result(result)
        self.stats["publish"].record(time.perf_counter() - t1)
        self.stats["total"].record(time.monotonic() - result.frame.t_capture_mono)
        self.results += 1
        self.camera_results[result.frame.camera] += 1
        self.last_result_mono = time.monotonic()
        if self.first_result_mono is None:
            self.first_result_mono = self.last_result_mono
        self.first_result.set()
