"""Numbered, encoded messages on their way into the spool, held in memory while the disk is full.

The writer hands every group of messages to `Backlog.add`, which writes them to the spool at once when it can
(the normal case: the backlog is empty again right away). When the spool's file system is full (`SpoolFull`):
- the messages wait here, in order, and are retried every second in ever smaller transactions (a small one fits
  in the WAL SQLite already has, and in pages the sender's acknowledgements free), so with the broker up a full
  disk delays messages but loses none;
- once more than `max_bytes` wait, room is made by dropping the OLDEST messages: first those stored in the
  spool (`Spool.make_room`), and only when there is none, or not even a delete can be written, the oldest
  waiting here; every one counted (`dropped`, `dropped_disk_full` on the stats topic), never silently;
- the first failure says, once, that the disk is full, where, and what to do; the return of space is said too.
What waits here is lost by a crash (it is not on disk yet): at most `max_bytes`, and only while the disk is full.
"""

from __future__ import annotations

import collections
import itertools
import logging
import time
from collections.abc import Callable

from edge_sdk.publish.spool import Spool, SpoolEntry, SpoolFull
from edge_sdk.publish.spool_disk import human

log = logging.getLogger(__name__)

MAX_BYTES = 8 << 20  # ~8000 detection messages: minutes of a camera's output
_CHUNK = 512  # messages per transaction while the disk has room
_PROBLEM_AFTER_S = 10.0  # a spool that fails (not full) this long is a problem for the service's health


def _size(e: SpoolEntry) -> int:
    return len(e.payload) + len(e.topic)


class Backlog:
    """Used from the writer thread only (figures may be read from any thread)."""

    def __init__(self, spool: Spool, on_written: Callable[[int], None], max_bytes: int | None = None) -> None:
        self.spool = spool
        self.max_bytes = MAX_BYTES if max_bytes is None else max_bytes
        self._on_written = on_written  # called with the number of messages committed or dropped
        self._entries: collections.deque[SpoolEntry] = collections.deque()
        self._bytes = 0
        self._chunk = _CHUNK
        self.commits = 0
        self.dropped = 0  # dropped from memory (the spool had nothing left to drop, or could not be written)
        self.errors = 0
        self.full_since: float | None = None
        self.failing_since: float | None = None  # a write error other than a full disk, unresolved
        self.last_error: str | None = None
        self._next_error_log = 0.0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def disk_full(self) -> bool:
        return self.full_since is not None

    def problem(self) -> str | None:
        """Set while writes fail for another reason than a full disk for more than a few seconds."""
        if self.failing_since is not None and time.monotonic() - self.failing_since > _PROBLEM_AFTER_S:
            return (f"the spool cannot be written: {self.last_error} at {self.spool.path} (check the disk: dmesg; "
                    "its file system may have turned read-only)")
        return None

    def add(self, entries: list[SpoolEntry]) -> None:
        self._entries.extend(entries)
        self._bytes += sum(_size(e) for e in entries)
        self.flush()

    def flush(self) -> None:
        """Write what waits, in order; on a full disk keep it (bounded) and return. Never raises."""
        while self._entries:
            if self._write_chunk():
                continue
            if self._bytes <= self.max_bytes:
                return  # wait for space (the writer calls again within a second)
            if self.spool.make_room(self._bytes - self.max_bytes):
                continue
            self._drop_oldest(self._bytes - self.max_bytes)
            return

    def _write_chunk(self) -> bool:
        chunk: list[SpoolEntry] = []
        nbytes = 0
        for e in itertools.islice(self._entries, self._chunk):
            if chunk and nbytes + _size(e) > self.spool.max_transaction_bytes:
                break  # a transaction larger than the WAL's working size would grow it on a small disk
            chunk.append(e)
            nbytes += _size(e)
        try:
            self.spool.append_many(chunk)
        except SpoolFull as exc:
            self._chunk = max(1, self._chunk // 4)  # a small transaction fits where a large one does not
            if self.full_since is None:
                self.full_since = time.monotonic()
                log.error("spool: %s. Meanwhile messages wait in memory (up to %s, then the oldest messages are "
                          "dropped, counted as dropped_disk_full) and are written as soon as there is room.",
                          exc, human(self.max_bytes))
            return False
        except Exception as exc:  # an I/O error, a spool that cannot be rebuilt: keep the messages, retry
            self.errors += 1
            self.last_error = str(exc)
            if self.failing_since is None:
                self.failing_since = time.monotonic()
            now = time.monotonic()
            if now >= self._next_error_log:
                self._next_error_log = now + 10.0
                log.error("spool: cannot write %d message(s): %s; they wait in memory and are retried (%d error(s) "
                          "so far)", len(chunk), exc, self.errors)
            return False
        for _ in chunk:
            self._entries.popleft()
        self._bytes -= sum(_size(e) for e in chunk)
        self.commits += 1
        self._chunk = min(_CHUNK, self._chunk * 2)
        self.failing_since = None
        if self.full_since is not None and not self._entries:
            log.info("spool: space is back after %.0f s; every message that waited in memory is written",
                     time.monotonic() - self.full_since)
            self.full_since = None
        self._on_written(len(chunk))
        return True

    def _drop_oldest(self, nbytes: int) -> None:
        dropped = freed = 0
        while self._entries and freed < nbytes:
            e = self._entries.popleft()
            freed += _size(e)
            dropped += 1
        self._bytes -= freed
        self.dropped += dropped
        log.warning("spool: disk full and nothing left in the spool to drop: dropped the %d oldest message(s) "
                    "waiting in memory (%d so far)", dropped, self.dropped)
        self._on_written(dropped)

    def abandon(self) -> int:
        """At exit: what still waits is lost (the disk stayed full); returns how many, and says so."""
        n = len(self._entries)
        if n:
            why = "the disk stayed full" if self.full_since is not None else f"the spool failed: {self.last_error}"
            log.error("spool: %d message(s) could not be written before exit (%s) and are lost", n, why)
            self._entries.clear()
            self._bytes = 0
            self._on_written(n)
        return n
