"""The disk spool: every outgoing message is written here first and deleted once the broker acknowledged it.

SQLite in WAL mode with `synchronous=NORMAL`: a commit is a write into the WAL without fsync, so it
survives a crash of the process (SIGKILL, OOM); a power cut can lose the last moments but never corrupts
the file (every commit is atomic). Checkpoints (the fsyncs) happen automatically inside commits; only the
publisher's background threads (writer, sender) write, never the pipeline's.

Bounds: the stored messages (payload + topic bytes) never exceed `max_bytes`, and none is older than
`max_age_s`; beyond either the OLDEST are dropped and counted (`dropped`, and `dropped_total` which
survives restarts). Per-camera sequence numbers live in the same file and are written in the same
transaction as the messages, so after a restart numbering continues above every stored message.

Acknowledgements are applied lazily: `ack` only records the ids, and they are deleted inside the next
write transaction (the writer's next append, the sender's once-a-second `expire`, `stats`, `close`, or
when 500 are waiting). At camera rate that halves the transactions per message (one, not an insert and a
delete), at a price paid only on a crash: messages acknowledged in the last moments (at most about a
second when idle) are sent again after the restart, as duplicates consumers drop by seq/message_id,
never as losses. `len()` and `peek` already leave them out.

Thread safety: one connection guarded by a lock; any thread may call any method.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_sdk.errors import PublishError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sequences (camera TEXT PRIMARY KEY, last INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_ROW_OVERHEAD = 48  # bytes counted per message besides payload and topic (ids, times, flags)
_CHUNK = 500  # ids per DELETE statement (older SQLite allows 999 parameters)


@dataclass(frozen=True)
class SpoolEntry:
    """A message to store: topic, payload, QoS, and the camera sequence number it carries (if any)."""

    topic: str
    payload: bytes
    qos: int
    retain: bool = False
    camera: str | None = None
    seq: int | None = None


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
    dropped: int  # dropped by the size/age bounds since this process opened the spool
    dropped_total: int  # ... over the life of the spool file
    oldest_age_s: float | None
    path: str  # ":memory:" when the spool is not on disk

    def as_dict(self) -> dict[str, object]:
        return {"queued": self.queued, "queued_bytes": self.queued_bytes, "dropped": self.dropped,
                "dropped_total": self.dropped_total,
                "oldest_age_s": None if self.oldest_age_s is None else round(self.oldest_age_s, 3)}


class Spool:
    """Messages not yet acknowledged, in order. Open with `Spool.open`; `close` when done."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None, *, max_bytes: int, max_age_s: float) -> None:
        self._conn = conn
        self.path = path
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._closed = False
        self.dropped = 0
        self._next_age_check = 0.0
        self._next_drop_log = 0.0
        self._unlogged_drops = 0
        self._acked: list[int] = []  # acknowledged, not yet deleted (see the module docstring)
        # the newest committed id (written by the appending thread, read lock-free by the sender)
        self.last_id = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0])
        count, total = conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages").fetchone()
        self._count, self._bytes = int(count), int(total)
        row = conn.execute("SELECT value FROM counters WHERE name='dropped_total'").fetchone()
        self._dropped_total = int(row[0]) if row else 0

    @classmethod
    def open(cls, path: Path | None, *, max_bytes: int, max_age_s: float) -> Spool:
        """Open (or create) the spool at `path`; `None` keeps it in memory (lost on exit)."""
        if max_bytes < 1 or max_age_s <= 0:
            raise ValueError("max_bytes must be >= 1 and max_age_s > 0")
        where = str(path) if path is not None else ":memory:"
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(where, check_same_thread=False, isolation_level=None, timeout=10.0)
            if path is not None:
                mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise sqlite3.DatabaseError(f"journal_mode WAL refused (got {mode})")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA journal_size_limit=8388608")
            conn.executescript(_SCHEMA)
            spool = cls(conn, path, max_bytes=max_bytes, max_age_s=max_age_s)
        except (sqlite3.Error, OSError) as exc:
            raise PublishError(f"cannot open the MQTT spool: {exc}", where=where,
                               fix="check that the state directory is writable; if the file is corrupt, move it "
                                   "away (its unsent messages are then lost)") from exc
        if spool._count:
            log.info("spool %s holds %d unsent message(s) from before; they are sent first", where, spool._count)
        return spool

    # -- writing (any thread) ----------------------------------------------------------------------
    def append(self, topic: str, payload: bytes, qos: int, *, retain: bool = False,
               camera: str | None = None, seq: int | None = None) -> int:
        """Store one message (and the camera's last sequence number, atomically); returns its id."""
        return self.append_many([SpoolEntry(topic, payload, qos, retain, camera, seq)])[0]

    def append_many(self, entries: list[SpoolEntry]) -> list[int]:
        """Store messages in order in one transaction, with each camera's last sequence number; their ids."""
        now = time.time()
        ids: list[int] = []

        def insert() -> int:
            c = self._conn
            seqs = {}
            for e in entries:
                size = len(e.payload) + len(e.topic) + _ROW_OVERHEAD
                cur = c.execute("INSERT INTO messages (created, topic, payload, qos, retain, size) "
                                "VALUES (?,?,?,?,?,?)", (now, e.topic, e.payload, e.qos, int(e.retain), size))
                ids.append(int(cur.lastrowid or 0))
                self._count += 1
                self._bytes += size
                if e.camera is not None and e.seq is not None:
                    seqs[e.camera] = e.seq
            c.executemany("INSERT INTO sequences (camera, last) VALUES (?, ?) "
                          "ON CONFLICT(camera) DO UPDATE SET last=excluded.last", list(seqs.items()))
            return self._enforce_bounds(now)

        with self._lock:
            self._check_open()
            dropped = self._transaction(insert)
            if ids:
                self.last_id = max(self.last_id, ids[-1])  # after the commit: a rolled-back id is given again
        if dropped:
            self._log_drops(f"spool full ({self.max_bytes} bytes)", dropped)
        return ids

    def _log_drops(self, why: str, n: int) -> None:
        """Warn at the first drop, then at most every 10 s with the count since the last warning."""
        self._unlogged_drops += n
        now = time.monotonic()
        if now >= self._next_drop_log:
            self._next_drop_log = now + 10.0
            log.warning("%s: dropped the %d oldest message(s) (%d since start, %d held)", why, self._unlogged_drops,
                        self.dropped, self._count)
            self._unlogged_drops = 0

    def _enforce_bounds(self, now: float) -> int:
        """Drop the oldest beyond the size bound, and the expired; inside the caller's transaction."""
        dropped = 0
        c = self._conn
        if now >= self._next_age_check:
            self._next_age_check = now + 0.5
            dropped += self._drop_expired(now - self.max_age_s)
        while self._bytes > self.max_bytes and self._count > 1:
            excess = self._bytes - self.max_bytes
            rows = c.execute("SELECT id, size FROM messages ORDER BY id LIMIT ?", (min(_CHUNK, self._count - 1),)).fetchall()
            ids, freed = [], 0
            for msg_id, size in rows:
                ids.append(msg_id)
                freed += size
                if freed >= excess:
                    break
            deleted = self._delete(ids)
            dropped += self._forget(deleted)
            if not deleted:
                break
        if dropped:
            self.dropped += dropped
            self._dropped_total += dropped
            c.execute("INSERT INTO counters (name, value) VALUES ('dropped_total', ?) "
                      "ON CONFLICT(name) DO UPDATE SET value=excluded.value", (self._dropped_total,))
        return dropped

    def _drop_expired(self, cutoff: float) -> int:
        """Delete messages created before `cutoff`, oldest first (ids follow creation, so this reads only
        the expired rows and one more, never the whole table)."""
        dropped = 0
        while True:
            rows = self._conn.execute("SELECT id, created FROM messages ORDER BY id LIMIT ?", (_CHUNK,)).fetchall()
            ids = [msg_id for msg_id, created in rows if created < cutoff]
            if ids:
                dropped += self._forget(self._delete(ids))
            if len(ids) < _CHUNK:
                return dropped

    def _forget(self, rows: list[tuple[int]]) -> int:
        self._count -= len(rows)
        self._bytes -= sum(r[0] for r in rows)
        return len(rows)

    def _delete(self, ids: list[int]) -> list[tuple[int]]:
        out: list[tuple[int]] = []
        for i in range(0, len(ids), _CHUNK):
            part = ids[i:i + _CHUNK]
            marks = ",".join("?" * len(part))
            out += self._conn.execute(f"DELETE FROM messages WHERE id IN ({marks}) RETURNING size", part).fetchall()
        return out

    def _recount(self) -> None:
        count, total = self._conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages").fetchone()
        self._count, self._bytes = int(count), int(total)

    # -- reading and acknowledging (the network thread) --------------------------------------------
    def peek(self, after_id: int, limit: int) -> list[SpoolRow]:
        """Up to `limit` unacknowledged messages with id > `after_id`, oldest first."""
        with self._lock:
            self._check_open()
            if self._acked and max(self._acked) > after_id:  # a replay from the start: delete them first
                self._delete_acked()
            rows = self._conn.execute("SELECT id, created, topic, payload, qos, retain FROM messages WHERE id > ? "
                                      "ORDER BY id LIMIT ?", (after_id, limit)).fetchall()
        return [SpoolRow(int(r[0]), float(r[1]), str(r[2]), bytes(r[3]), int(r[4]), bool(r[5])) for r in rows]

    def ack(self, ids: list[int]) -> None:
        """Record acknowledged messages; they are deleted with the next write (ids already dropped are
        ignored then). Cheap: no disk access, unless 500 are waiting."""
        if not ids:
            return
        with self._lock:
            self._check_open()
            self._acked += ids
            if len(self._acked) >= _CHUNK:
                self._delete_acked()

    def expire(self) -> int:
        """Apply the age bound now, and the recorded acknowledgements (the network thread calls this while
        idle, about once a second)."""
        with self._lock:
            self._check_open()
            self._next_age_check = 0.0
            dropped = self._transaction(lambda: self._enforce_bounds(time.time()))
        if dropped:
            self._log_drops(f"spool: messages older than {self.max_age_s:g} s", dropped)
        return dropped

    def _delete_acked(self) -> None:
        """Under the lock: delete the recorded acknowledgements now (a transaction of their own)."""
        if self._acked:
            self._transaction(lambda: 0)

    def _transaction(self, work: Callable[[], int]) -> int:
        """Under the lock: one write transaction that applies the recorded acknowledgements, then `work`."""
        self._conn.execute("BEGIN IMMEDIATE")
        acked, self._acked = self._acked, []
        try:
            if acked:  # first: the bounds below must never count an acknowledged row as dropped
                self._forget(self._delete(acked))
            result = work()
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            self._acked = acked + self._acked
            self._recount()
            raise
        return result

    def last_sequences(self) -> dict[str, int]:
        """The last sequence number given to each camera (continue at +1)."""
        with self._lock:
            self._check_open()
            return {str(cam): int(last) for cam, last in self._conn.execute("SELECT camera, last FROM sequences")}

    def stats(self) -> SpoolStats:
        with self._lock:
            oldest = None
            if not self._closed:
                self._delete_acked()
            if not self._closed and self._count:
                row = self._conn.execute("SELECT created FROM messages ORDER BY id LIMIT 1").fetchone()
                oldest = max(0.0, time.time() - float(row[0])) if row else None
            return SpoolStats(self._count, self._bytes, self.dropped, self._dropped_total, oldest,
                              str(self.path) if self.path is not None else ":memory:")

    @property
    def pending_acks(self) -> int:
        """Acknowledged messages not yet deleted."""
        return len(self._acked)

    def __len__(self) -> int:
        """Messages not yet acknowledged."""
        return max(0, self._count - len(self._acked))

    # -- housekeeping ------------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._delete_acked()
                if self.path is not None:
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                log.warning("spool final checkpoint failed: %s", exc)
            self._conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the spool is closed")
