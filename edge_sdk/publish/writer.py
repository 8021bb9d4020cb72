"""The spool writer: turns handed-over results into messages and commits them to the spool, off the
pipeline's thread.

`put` is a queue append (microseconds, never touches the disk, never waits on a lock the disk holds).
The writer thread takes everything queued, numbers it per camera (seq), encodes the JSON and commits the
whole batch in one transaction, then wakes the sender. So the pipeline never waits for SQLite, fsync or
the network, and a burst costs one commit, not one per message.

`batch_s` (config `mqtt.batch_ms`) groups messages on purpose: after the first message of a group the writer
waits that long for more, then commits them together, and the sender publishes the group in one pass. Each
group costs one SQLite transaction and one wake-up of the writer, the sender, the broker and every
subscriber instead of one per message; where the engine saturates the cores those wake-ups are taken from
it. Measured on the 2-core CI machine (demo, ~33 fps, 3 runs of 3 pairs each): writer + sender 0.76 ms of
CPU per frame with no groups, 0.53 with 50 ms groups, 0.32 with 100 ms; pipeline / engine-only, median pair,
0.938 / 0.960 / 0.946 (pairs spread +-3%); the engine's share of the CPU 0.958 / 0.963 / 0.967;
capture-to-broker latency p50 +35 / +70 ms. 0 (the default) commits each message as soon as the writer gets
to it. `stop` and `wait_committed` do not wait out a group: they make the writer commit it at once.

What a SIGKILL can lose: only results handed over and not yet committed (normally well under a
millisecond's worth, with groups up to `batch_ms`; the pipeline's own queues lose more). `close` commits
everything. On a full disk, numbered messages wait in memory (backlog.py: bounded, the oldest dropped and
counted beyond it) and are written when space returns.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge_sdk.publish.backlog import Backlog
from edge_sdk.publish.message import ModelRef, ResultSnapshot
from edge_sdk.publish.spool import Spool, SpoolEntry

log = logging.getLogger(__name__)

_STOP = object()
_BATCH = 512  # at most this many messages per transaction
_RETRY_S = 1.0  # while messages wait for disk space, try again this often


@dataclass(frozen=True)
class PendingResult:
    """A result handed to the publisher, waiting to be numbered, encoded and written."""

    snapshot: ResultSnapshot
    model: ModelRef
    label: Callable[[int], str] = str  # class id -> name, of the model that produced the result
    retain = False

    @property
    def stream(self) -> str:
        """The sequence-number stream: the camera."""
        return self.snapshot.camera


@dataclass(frozen=True)
class PendingMessage:
    """Any other message (events, retained state): `build(seq)` makes its payload on the writer thread.

    `stream` names its own sequence-number stream (e.g. "cam0/events", never a camera's detections
    stream): the writer numbers it like detections, so consumers see gaps and duplicates. `stream=None`
    is not numbered (`build(None)`): retained state, where only the latest value matters."""

    topic: str
    build: Callable[[int | None], bytes]
    stream: str | None = None
    retain: bool = False


Pending = PendingResult | PendingMessage


class SpoolWriter:
    """`put` results from any thread; `encode(item, seq) -> (topic, payload)` runs on the writer thread."""

    def __init__(self, spool: Spool, qos: int, encode: Callable[[PendingResult, int], tuple[str, bytes]],
                 on_committed: Callable[[], None], *, batch_s: float = 0.0) -> None:
        self.spool = spool
        self.qos = qos
        self.batch_s = max(0.0, batch_s)
        self._hurry = threading.Event()  # set by stop / wait_committed: commit the group now
        self._encode = encode
        self._on_committed = on_committed
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._seqs = spool.last_sequences()
        self._pending = 0  # handed over, not yet committed (or failed)
        self._pending_lock = threading.Lock()
        self._idle = threading.Condition(self._pending_lock)
        self.backlog = Backlog(spool, self._written)
        self.errors = 0  # messages that could not be encoded
        self._next_error_log = 0.0
        self._thread = threading.Thread(target=self._run, name="mqtt-spool-writer", daemon=True)
        self._thread.start()

    def put(self, item: Pending) -> None:
        with self._pending_lock:
            self._pending += 1
        self._queue.put(item)

    @property
    def pending(self) -> int:
        return self._pending

    def wait_committed(self, timeout: float) -> bool:
        """Wait until everything put so far is in the spool (or failed); False on timeout."""
        deadline = time.monotonic() + timeout
        self._hurry.set()
        with self._idle:
            while self._pending:
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._idle.wait(left)
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Commit everything queued, then end the thread."""
        self._hurry.set()
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("the spool writer did not finish within %.0f s; %d message(s) may be lost", timeout, self._pending)

    @property
    def commits(self) -> int:
        """Spool transactions that stored messages so far (one per group, more while the disk is full)."""
        return self.backlog.commits

    def _written(self, n: int) -> None:
        """`n` messages left the writer: committed (the sender is woken) or dropped."""
        with self._idle:
            self._pending -= n
            self._idle.notify_all()
        self._on_committed()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=_RETRY_S if len(self.backlog) else None)
            except queue.Empty:
                self.backlog.flush()  # messages wait for disk space: try again
                continue
            batch = [first]
            if self.batch_s and batch[0] is not _STOP and self._hurry.wait(self.batch_s):
                self._hurry.clear()  # a waiter asked for this group; the next groups wait again
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if any(item is _STOP for item in batch):
                stopping = True
                batch = [item for item in batch if item is not _STOP]
            if batch:
                self._commit(batch)
        self.backlog.flush()
        self.backlog.abandon()

    def _commit(self, batch: list[Pending]) -> None:
        entries = []
        for item in batch:
            stream = item.stream
            seq = None if stream is None else self._seqs.get(stream, 0) + 1
            try:
                if isinstance(item, PendingMessage):
                    topic, payload = item.topic, item.build(seq)
                else:
                    topic, payload = self._encode(item, seq or 0)
            except Exception:  # a bug, never the input's fault: the message is lost, numbering goes on
                self._error("cannot encode a message", None)
                continue
            if stream is not None and seq is not None:
                self._seqs[stream] = seq
            entries.append(SpoolEntry(topic, payload, self.qos, item.retain, stream, seq))
        if len(entries) < len(batch):
            with self._idle:
                self._pending -= len(batch) - len(entries)
                self._idle.notify_all()
        self.backlog.add(entries)  # stored now, or kept while the disk is full (backlog.py)

    def _error(self, what: str, exc: BaseException | None) -> None:
        self.errors += 1
        now = time.monotonic()
        if now >= self._next_error_log:
            self._next_error_log = now + 10.0
            if exc is None:
                log.exception("%s (%d error(s) so far)", what, self.errors)
            else:
                log.error("%s: %s (%d error(s) so far)", what, exc, self.errors)
