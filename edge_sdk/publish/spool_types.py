"""What goes into the spool and what comes out: entries to store, rows to send, the figures, the full-disk error.

The spool itself is spool.py (its contract is that module's docstring); these types are re-exported there.
"""

from __future__ import annotations

from dataclasses import dataclass

ROW_OVERHEAD = 48  # bytes counted per message besides payload and topic (ids, times, flags)


class SpoolFull(Exception):
    """The spool's file system has no room for this write; the message says where and what to do."""


@dataclass(frozen=True)
class SpoolEntry:
    """A message to store: topic, payload, QoS, and the camera sequence number it carries (if any)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool = False
    camera: str | None = None
    seq: int | None = None

    @property
    def size(self) -> int:
        """The bytes it counts for against the spool's size bound."""
        return len(self.payload) + len(self.topic) + ROW_OVERHEAD


@dataclass(frozen=True)
class SpoolRow:
    id: int
    created: float
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass(frozen=True)
class SpoolStats:
    queued: int  # messages waiting for an acknowledgement
    queued_bytes: int
    dropped: int  # dropped by the size/age bounds or a full disk since this process opened the spool
    dropped_total: int  # ... over the life of the spool file
    oldest_age_s: float | None
    path: str  # ":memory:" when the spool is not on disk
    dropped_disk_full: int = 0  # of `dropped`: to make room on a full disk
    free_bytes: int | None = None  # on the spool's file system
    damaged: dict[str, object] | None = None  # the last damaged spool moved aside (spool_salvage.Damage)

    def as_dict(self) -> dict[str, object]:
        return {"queued": self.queued, "queued_bytes": self.queued_bytes, "dropped": self.dropped,
                "dropped_total": self.dropped_total,
                "oldest_age_s": None if self.oldest_age_s is None else round(self.oldest_age_s, 3),
                "dropped_disk_full": self.dropped_disk_full, "free_bytes": self.free_bytes, "damaged": self.damaged}
