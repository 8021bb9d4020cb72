"""Gap and duplicate tracking per camera stream, from the messages' sequence numbers.

The publisher numbers each camera's messages 1, 2, 3, ... and never reuses a number (it keeps the
last one in its spool), so a consumer can tell:

- a gap: the seq jumps (messages missing, so far);
- a late arrival: a seq that was missing arrives after a higher one (the gap is filled, order broken);
- a duplicate: a seq seen before (QoS 1 redelivery after a reconnect); drop it;
- a restart: seq 1 again with a new message id (the publisher lost its spool file).
"""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass, field


class Verdict(enum.Enum):
    NEW = "new"
    LATE = "late"
    DUPLICATE = "duplicate"
    RESTART = "restart"


@dataclass
class StreamStats:
    received: int = 0  # every message, duplicates included
    unique: int = 0
    first_seq: int | None = None
    last_seq: int = 0  # the highest seen
    skipped: int = 0  # seq numbers jumped over (some may have arrived late since)
    duplicates: int = 0
    late: int = 0
    restarts: int = 0
    missing: set[int] = field(default_factory=set)
    recent_ids: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=4096))
    missing_overflow: int = 0  # gaps too large to remember seq by seq

    @property
    def missing_count(self) -> int:
        return len(self.missing) + self.missing_overflow

    def as_dict(self) -> dict[str, int | None]:
        return {"received": self.received, "unique": self.unique, "first_seq": self.first_seq,
                "last_seq": self.last_seq, "missing": self.missing_count, "duplicates": self.duplicates,
                "late": self.late, "restarts": self.restarts}


class SequenceTracker:
    """Per (device_id, camera) stream statistics. Not thread-safe: feed it from one thread."""

    def __init__(self, max_missing: int = 100_000) -> None:
        self.max_missing = max_missing
        self.streams: dict[tuple[str, str], StreamStats] = {}

    def observe(self, device_id: str, camera: str, seq: int, message_id: str) -> Verdict:
        s = self.streams.get((device_id, camera))
        if s is None:
            s = self.streams[(device_id, camera)] = StreamStats()
        s.received += 1
        if s.first_seq is None:
            s.first_seq = s.last_seq = seq
            return self._new(s, message_id)
        if seq > s.last_seq:
            skipped = seq - s.last_seq - 1
            if skipped:
                s.skipped += skipped
                room = max(0, self.max_missing - len(s.missing))
                s.missing.update(range(s.last_seq + 1, s.last_seq + 1 + min(skipped, room)))
                s.missing_overflow += max(0, skipped - room)
            s.last_seq = seq
            return self._new(s, message_id)
        if seq in s.missing:
            s.missing.discard(seq)
            s.late += 1
            s.unique += 1
            s.recent_ids.append(message_id)
            return Verdict.LATE
        if seq == 1 and message_id not in s.recent_ids:
            s.restarts += 1
            s.first_seq = s.last_seq = 1
            s.missing.clear()
            s.missing_overflow = 0
            self._new(s, message_id)
            return Verdict.RESTART
        s.duplicates += 1
        return Verdict.DUPLICATE

    @staticmethod
    def _new(s: StreamStats, message_id: str) -> Verdict:
        s.unique += 1
        s.recent_ids.append(message_id)
        return Verdict.NEW

    def summary(self) -> dict[str, dict[str, int | None]]:
        return {f"{dev}/{cam}": s.as_dict() for (dev, cam), s in sorted(self.streams.items())}

    def summary_lines(self) -> list[str]:
        lines = []
        for (dev, cam), s in sorted(self.streams.items()):
            lines.append(f"{dev}/{cam}: {s.received} received, {s.unique} unique (seq {s.first_seq}..{s.last_seq}), "
                         f"{s.missing_count} missing, {s.duplicates} duplicate(s), {s.late} late"
                         + (f", {s.restarts} restart(s)" if s.restarts else ""))
        return lines
