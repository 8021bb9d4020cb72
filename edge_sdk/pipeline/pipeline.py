"""The pipeline, read once: one frame reader, an executor, one place that decodes and publishes.

    capture (one thread per Source, its own bounded queue)
    ->  frame reader (reader.py: fair across cameras, numbered in publishing order, batched)
    ->  executor (executors/: CPU workers on `Engine.infer`, or the CUDA-stream runner; chosen by the engine)
    ->  [queue]  ->  decode + publish in sequence order (one thread: decoder, sink, hooks, stats)

Every executor hands over the same records (`executors.base.Inferred`); decoding, publishing and the stats
(`stats.py` says what each figure means) happen here once. Results are published in the order frames were
taken, which per camera is capture order. Queues are bounded (`pipeline.queue_size`, and each source's own), so
a slow stage applies back-pressure upstream: files wait; live sources keep only their newest frame and count the
rest as dropped.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from edge_sdk.decode.base import BoundDecoder, DecodeParams, Decoder, Detections
from edge_sdk.engines.base import Engine
from edge_sdk.engines.model_info import ModelMetadata
from edge_sdk.frame import CaptureStatus, FrameResult, ModelTag
from edge_sdk.pipeline.executors.base import Executor, Inferred, Model
from edge_sdk.pipeline.reader import Batch, FrameReader
from edge_sdk.pipeline.stats import STAGES, BatchStats, CameraStats, StageStats
from edge_sdk.preprocess.spec import PreprocessSpec, ultralytics_spec
from edge_sdk.sources.base import Source

log = logging.getLogger(__name__)

_END = object()  # marks, in the queue to the publish thread, that every executor thread has returned


def lower_priority(nice: int, native_id: int | None = None) -> None:
    """Raise the niceness of one thread (Linux: per-thread), so the engine's threads win the CPU.

    On a CPU-bound machine capture, decode and publishing then fill the gaps the engine leaves instead of
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
    on_result: Callable[[FrameResult], None] | None = None  # extra per-result hook (events, tests, bench, daemon)
    # what runs the engine (executors.executor_for); None: CPU workers on `engine`, batches of one frame
    executor: Executor | None = None
    # the model's preprocessing; None: Ultralytics' letterbox at the engine's input size
    preprocess: PreprocessSpec | None = None
    model_name: str | None = None  # what results name the model (ModelTag.name); None: the publisher's default


class Pipeline:
    """Runs the stages until every source has ended, `max_frames` results were produced, or `stop()`."""

    def __init__(self, parts: PipelineParts, *, queue_size: int = 2, max_frames: int | None = None,
                 background_nice: int = 0, batch_timeout_s: float = 0.0) -> None:
        self.parts = parts
        self.background_nice = background_nice
        self.max_frames = max_frames
        self.spec = parts.preprocess or ultralytics_spec(parts.engine.info.input_hw)
        self.input_hw = self.spec.size
        if parts.executor is None:
            from edge_sdk.pipeline.executors.cpu import CpuExecutor

            parts.executor = CpuExecutor(parts.engine, self.spec)
        self.executor: Executor = parts.executor
        self._results_q: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()  # stop capturing; stages drain what is queued
        self._abort = threading.Event()  # stop everything now
        self.finished = threading.Event()
        self.first_result = threading.Event()
        self._engine_cond = threading.Condition()  # guards the engine, its model, in-flight count, swapping
        self._in_flight = 0
        self._swapping = False
        self.reader = FrameReader(parts.sources, stopped=self._stop.is_set, on_end=_log_source_end,
                                  batch_timeout_s=batch_timeout_s)
        self._feed = _Feed(self)
        self._threads_done = 0
        self._done_lock = threading.Lock()
        self._current: Model | None = None  # decoder + tag of parts.engine, rebuilt after a swap
        self.stats = {name: StageStats(name) for name in STAGES}
        self.cameras = CameraStats()
        self.batches = BatchStats()
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
        for _ in range(self.executor.threads):
            self._spawn("infer", self._execute)
        self._spawn("decode-publish", self._publish_loop)
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
                    metadata: ModelMetadata | None = None, preprocess: PreprocessSpec | None = None,
                    name: str | None = None) -> Engine:
        """Replace the engine (and with it the decoder, thresholds, class labels and the model's name) between two
        inferences; returns the old engine (the caller closes it). Frames inferred before the swap are still decoded and
        labelled by the model that inferred them. The new model may take another batch (it is fed as it takes
        them); its preprocessing must otherwise be the running one's.

        Not where the executor refuses it (the CUDA runner owns per-slot contexts of its engine: restart instead)."""
        why = self.executor.refuses_swap(engine)
        if why:
            raise ValueError(why)
        spec = preprocess or ultralytics_spec(engine.info.input_hw)
        if spec.with_changes(batch=self.spec.batch) != self.spec:
            raise ValueError(f"the new model's preprocessing ({spec.describe()}) differs from the running one's "
                             f"({self.spec.describe()})")
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
            if name is not None:
                self.parts.model_name = name
            self._current = None
            self._swapping = False
            self._engine_cond.notify_all()
        return old

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

    @property
    def camera_results(self) -> dict[str, int]:
        """Results published per camera."""
        return {s.camera: self.cameras.results(s.camera) for s in self.parts.sources}

    def snapshot(self) -> dict[str, Any]:
        """Figures for the stats topic: per-stage and per-camera fps and latency, batching, engine info."""
        info = self.parts.engine.info
        return {
            "uptime_s": round(time.monotonic() - self.started_mono, 1) if self.started_mono else 0.0,
            "results": self.results,
            "stages": {name: s.snapshot() for name, s in self.stats.items()},
            "batches": self.batches.snapshot(),
            "sources": [{**s.snapshot_health().as_dict(), **self.cameras.snapshot(s.camera)}
                        for s in self.parts.sources],
            "engine": {"type": info.type, "device": info.device, "precision": info.precision,
                       "model_sha256": info.model_sha256[:16], "workers": self.executor.threads,
                       **self.executor.describe()},
        }

    # -- the executor's side ---------------------------------------------------------------------
    def _model(self) -> Model:
        """The current engine's decoder, thresholds and tag (call with the engine lock held)."""
        if self._current is None:
            p = self.parts
            self._current = Model(p.engine, p.decoder, p.decode_params, ModelTag(p.engine.info, p.metadata.label,
                                                                                      p.model_name))
        return self._current

    def _lease(self) -> Model:
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

    def _take(self, max_frames: int, wait_s: float) -> Batch | None:
        if self._abort.is_set():
            return None
        batch = self.reader.take(max_frames, wait_s)
        if batch is not None:
            self.batches.record(len(batch.frames), batch.waited_s)
        return batch

    def _hand_over(self, inferred: Inferred) -> bool:
        while not self._abort.is_set():
            try:
                self._results_q.put(inferred, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    # -- threads ---------------------------------------------------------------------------------
    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        def guarded() -> None:
            if name != "infer":
                lower_priority(self.background_nice)
            try:
                target()
            except BaseException as exc:  # surface stage failures to the daemon instead of hanging
                log.exception("pipeline stage %s failed", name)
                self.error = exc
                self.abort()
                self.finished.set()

        t = threading.Thread(target=guarded, name=name, daemon=True)
        self._threads.append(t)
        t.start()

    def _execute(self) -> None:
        """One of the executor's threads; the last one to return tells the publish thread."""
        try:
            self.executor.work(self._feed)
        finally:
            with self._done_lock:
                self._threads_done += 1
                last = self._threads_done == self.executor.threads
            if last:
                self._hand_over(_END)  # type: ignore[arg-type]

    def _publish_loop(self) -> None:
        """Decodes and publishes in sequence order (executor threads may finish batches out of order)."""
        pending: dict[int, Inferred] = {}
        next_seq = 0
        try:
            while not self._abort.is_set():
                try:
                    entry = self._results_q.get(timeout=0.1)
                except queue.Empty:
                    continue
                if entry is _END:
                    break
                pending[entry.batch.seq] = entry
                while next_seq in pending:
                    inferred = pending.pop(next_seq)
                    next_seq += len(inferred.batch.frames)
                    if not self._publish_batch(inferred):
                        self.stop()
                        self._abort.set()  # max_frames reached: let upstream stages finish without publishing more
                        return
        finally:
            self.finished.set()

    def _publish_batch(self, inferred: Inferred) -> bool:
        """Record the batch's stats, decode and publish its frames; False once `max_frames` results are out."""
        n = len(inferred.batch.frames)
        for seconds in inferred.preprocess_s:
            self.stats["preprocess"].record(seconds)
        self.stats["infer"].record(inferred.infer_s, n)
        for i in range(n):
            self._emit(self._decode(inferred, i))
            if self.max_frames is not None and self.results >= self.max_frames:
                return False
        return True

    def _decode(self, inferred: Inferred, i: int) -> FrameResult:
        model, info, frame = inferred.model, inferred.letterboxes[i], inferred.batch.frames[i]
        t0 = time.perf_counter()
        outputs = inferred.outputs_of(i)
        decoder = model.decoder
        dets: Detections = (decoder(outputs, model.params, info) if isinstance(decoder, BoundDecoder)
                            else decoder(outputs, model.params))
        dets.boxes = info.to_original(dets.boxes)
        dt = time.perf_counter() - t0
        self.stats["decode"].record(dt)
        timings = {"infer": inferred.infer_s, "decode": dt}
        if i < len(inferred.preprocess_s):
            timings["preprocess"] = inferred.preprocess_s[i]
        return FrameResult(frame, dets, info, timings, model.tag)

    def _emit(self, result: FrameResult) -> None:
        t1 = time.perf_counter()
        if self.parts.sink is not None:
            self.parts.sink.publish_result(result)
        if self.parts.on_result is not None:
            self.parts.on_result(result)
        self.stats["publish"].record(time.perf_counter() - t1)
        latency = time.monotonic() - result.frame.t_capture_mono
        self.stats["total"].record(latency)
        self.cameras.record(result.frame.camera, latency)
        self.results += 1
        self.last_result_mono = time.monotonic()
        if self.first_result_mono is None:
            self.first_result_mono = self.last_result_mono
        self.first_result.set()


class _Feed:
    """The pipeline as its executor sees it (executors.base.Feed)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self._p = pipeline

    @property
    def done(self) -> bool:
        return self._p.reader.done or self._p._abort.is_set()

    def take(self, max_frames: int, wait_s: float) -> Batch | None:
        return self._p._take(max_frames, wait_s)

    def lease(self) -> Model:
        return self._p._lease()

    def unlease(self) -> None:
        self._p._unlease()

    def emit(self, inferred: Inferred) -> bool:
        return self._p._hand_over(inferred)
