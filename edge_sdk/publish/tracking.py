"""Gap and duplicate tracking per camera stream, from the messages' sequence numbers, safe against what
anyone who can publish to the broker can send.

The publisher numbers each camera's messages 1, 2, 3, ... and never reuses a number (it keeps the
last one in its spool), so a consumer can tell:

- a gap: the seq jumps (messages missing, so far);
- a late arrival: a seq that was missing arrives after a higher one (the gap is filled, order broken);
- a duplicate: a seq seen before, or a message id seen before (QoS 1 redelivery after a reconnect); drop it;
- a restart: seq 1 again with a new message id (the publisher lost its spool file). Each epoch keeps the id
  of its seq 1, so seq 1 delivered again however late (a QoS 1 redelivery from a broker that was SIGKILLed
  and restored an old session from its autosave, hundreds of messages after `recent_ids` forgot it) is a
  duplicate, not a restart.

Bounded whatever arrives:
- Each stream keeps its numbering in epochs. A seq within `window` of an epoch continues it (the one last used
  if the seq lies just ahead of it, else the nearest); a seq farther from every epoch starts a new one, so one
  spoofed number (`"seq": 9e15`) cannot make the real stream's next messages look like duplicates: they
  continue their own epoch. A restart (seq 1, new id) starts one too. At most `max_epochs` per stream (the
  least recently used goes).
- Gaps are kept as ranges, at most `max_gaps` per epoch, and only within `window` below the newest seq; what
  falls out is still counted as missing, just no longer waited for.
- At most `max_streams` streams (device, camera); the least recently seen goes (counted in `evicted`), so 10 000
  fake camera names cost a bounded amount of memory.
"""

from __future__ import annotations

import bisect
import collections
import enum
from dataclasses import dataclass, field


class Verdict(enum.Enum):
    NEW = "new"
    LATE = "late"
    DUPLICATE = "duplicate"
    RESTART = "restart"


@dataclass
class Epoch:
    """One run of numbering: the seqs seen from `first` to `last`, with the gaps still open as ranges."""

    first: int
    last: int
    gaps: list[list[int]] = field(default_factory=list)  # sorted, disjoint [lo, hi] inclusive
    forgotten: int = 0  # missing seqs no longer tracked one by one (too many gaps, or too far behind)
    first_id: str | None = None  # the message id of seq 1 in this epoch, once seen

    def distance(self, seq: int) -> int:
        return 0 if self.first <= seq <= self.last else min(abs(seq - self.first), abs(seq - self.last))

    def open_gap(self, lo: int, hi: int, max_gaps: int, window: int) -> None:
        self.gaps.append([lo, hi])
        while len(self.gaps) > max_gaps or (self.gaps and self.gaps[0][1] < self.last - window):
            a, b = self.gaps.pop(0)
            self.forgotten += b - a + 1

    def extend_down(self, seq: int, max_gaps: int) -> None:
        """`seq` below `first` arrived: the epoch starts there, what lies between is a gap."""
        if seq + 1 < self.first:
            self.gaps.insert(0, [seq + 1, self.first - 1])
            while len(self.gaps) > max_gaps:
                a, b = self.gaps.pop(0)
                self.forgotten += b - a + 1
        self.first = seq

    def fill(self, seq: int) -> bool:
        """Take `seq` out of the gaps; False if it was not missing."""
        i = bisect.bisect_right(self.gaps, [seq, float("inf")]) - 1
        if i < 0 or not (self.gaps[i][0] <= seq <= self.gaps[i][1]):
            return False
        lo, hi = self.gaps[i]
        parts = [p for p in ([lo, seq - 1], [seq + 1, hi]) if p[0] <= p[1]]
        self.gaps[i:i + 1] = parts
        return True

    @property
    def missing(self) -> int:
        return sum(b - a + 1 for a, b in self.gaps) + self.forgotten


@dataclass
class StreamStats:
    received: int = 0  # every message, duplicates included
    unique: int = 0
    first_seq: int | None = None
    last_seq: int = 0  # the highest of the current epoch
    duplicates: int = 0
    late: int = 0
    restarts: int = 0  # new epochs: the publisher's numbering restarted, or jumped far (spoofed or a lost spool)
    epochs: collections.OrderedDict[int, Epoch] = field(default_factory=collections.OrderedDict)  # id -> epoch, LRU
    dropped_missing: int = 0  # missing seqs of epochs that were evicted
    recent_ids: collections.OrderedDict[str, None] = field(default_factory=collections.OrderedDict)

    @property
    def missing_count(self) -> int:
        return sum(e.missing for e in self.epochs.values()) + self.dropped_missing

    def as_dict(self) -> dict[str, int | None]:
        return {"received": self.received, "unique": self.unique, "first_seq": self.first_seq,
                "last_seq": self.last_seq, "missing": self.missing_count, "duplicates": self.duplicates,
                "late": self.late, "restarts": self.restarts}


class SequenceTracker:
    """Per (device_id, camera) stream statistics. Not thread-safe: feed it from one thread."""

    def __init__(self, *, window: int = 100_000, max_streams: int = 256, max_gaps: int = 256, max_epochs: int = 4,
                 max_recent_ids: int = 256) -> None:
        if min(window, max_streams, max_gaps, max_epochs, max_recent_ids) < 1:
            raise ValueError("tracker bounds must be >= 1")
        self.window = window
        self.max_streams = max_streams
        self.max_gaps = max_gaps
        self.max_epochs = max_epochs
        self.max_recent_ids = max_recent_ids
        self.streams: collections.OrderedDict[tuple[str, str], StreamStats] = collections.OrderedDict()
        self.evicted = 0  # streams forgotten to stay within max_streams
        self._next_epoch = 0

    def observe(self, device_id: str, camera: str, seq: int, message_id: str) -> Verdict:
        s = self._stream((device_id, camera))
        s.received += 1
        if message_id in s.recent_ids or (seq == 1 and any(e.first_id == message_id for e in s.epochs.values())):
            s.duplicates += 1
            return Verdict.DUPLICATE
        if s.first_seq is None:
            s.first_seq = s.last_seq = seq
            self._new_epoch(s, seq, message_id)
            return self._new(s, message_id)
        epoch_id, epoch = self._epoch_for(s, seq)
        if epoch.distance(seq) > self.window:  # far from every epoch: a new numbering (or a spoofed number)
            return self._restart(s, seq, message_id, Verdict.NEW)
        s.epochs.move_to_end(epoch_id)
        if seq > epoch.last:
            if seq > epoch.last + 1:
                epoch.open_gap(epoch.last + 1, seq - 1, self.max_gaps, self.window)
            epoch.last = seq
            self._follow(s, epoch)
            return self._new(s, message_id)
        if epoch.fill(seq):
            s.late += 1
            self._follow(s, epoch)
            return self._new(s, message_id, Verdict.LATE)
        if seq == 1:  # numbering started again and the id is new: the publisher lost its spool
            return self._restart(s, seq, message_id, Verdict.RESTART)
        if seq < epoch.first:  # older than the first we saw (we joined late; a persistent session's backlog)
            epoch.extend_down(seq, self.max_gaps)
            s.late += 1
            return self._new(s, message_id, Verdict.LATE)
        s.duplicates += 1
        return Verdict.DUPLICATE

    # -- bookkeeping -----------------------------------------------------------------------------------
    def _epoch_for(self, s: StreamStats, seq: int) -> tuple[int, Epoch]:
        """The epoch `seq` belongs to: the one last used if `seq` continues it, else the nearest."""
        last_id, last = next(reversed(s.epochs.items()))
        if last.last < seq <= last.last + self.window:
            return last_id, last
        return min(s.epochs.items(), key=lambda kv: kv[1].distance(seq))

    def _stream(self, key: tuple[str, str]) -> StreamStats:
        s = self.streams.get(key)
        if s is None:
            s = self.streams[key] = StreamStats()
            while len(self.streams) > self.max_streams:
                self.streams.popitem(last=False)
                self.evicted += 1
        else:
            self.streams.move_to_end(key)
        return s

    def _new_epoch(self, s: StreamStats, seq: int, message_id: str) -> Epoch:
        epoch = Epoch(seq, seq, first_id=message_id if seq == 1 else None)
        s.epochs[self._next_epoch] = epoch
        self._next_epoch += 1
        while len(s.epochs) > self.max_epochs:
            _, old = s.epochs.popitem(last=False)
            s.dropped_missing += old.missing
        return epoch

    def _restart(self, s: StreamStats, seq: int, message_id: str, verdict: Verdict) -> Verdict:
        s.restarts += 1
        self._follow(s, self._new_epoch(s, seq, message_id))
        self._new(s, message_id)
        return verdict

    @staticmethod
    def _follow(s: StreamStats, epoch: Epoch) -> None:
        s.last_seq = epoch.last

    def _new(self, s: StreamStats, message_id: str, verdict: Verdict = Verdict.NEW) -> Verdict:
        s.unique += 1
        s.recent_ids[message_id] = None
        if len(s.recent_ids) > self.max_recent_ids:
            s.recent_ids.popitem(last=False)
        return verdict

    def summary(self) -> dict[str, dict[str, int | None]]:
        return {f"{dev}/{cam}": s.as_dict() for (dev, cam), s in sorted(self.streams.items())}

    def summary_lines(self) -> list[str]:
        lines = []
        for (dev, cam), s in sorted(self.streams.items()):
            lines.append(f"{dev}/{cam}: {s.received} received, {s.unique} unique (seq {s.first_seq}..{s.last_seq}), "
                         f"{s.missing_count} missing, {s.duplicates} duplicate(s), {s.late} late"
                         + (f", {s.restarts} restart(s)" if s.restarts else ""))
        if self.evicted:
            lines.append(f"{self.evicted} stream(s) no longer tracked (more than {self.max_streams} device/camera pairs)")
        return lines
