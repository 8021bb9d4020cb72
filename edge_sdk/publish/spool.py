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

When the disk fails (spool_disk.py, spool_salvage.py):
- Full (SQLITE_FULL): the transaction is rolled back and the counts are read from the file again (never
  trusted from memory after a failed commit). `append_many` raises `SpoolFull` (the message says where and
  what to do); the writer keeps those messages in memory and retries, and calls `make_room`, which drops the
  OLDEST stored messages (counted in `dropped` and `dropped_disk_full`) when memory would otherwise grow past
  its bound. Messages still in the spool are never lost by it: when space returns everything is sent.
  Recorded acknowledgements are kept and applied once a write succeeds again.
- Damaged (SQLITE_CORRUPT, SQLITE_NOTADB: a torn page, random bytes): at open or whenever a read or write
  meets it, the file is moved aside to `<spool>.damaged-<time>`, what can be read is salvaged into a fresh
  spool at the same path (ids, order, sequence numbers kept), and it is said loudly (log, `damaged` in stats).
- Not writable at all (the fresh spool cannot be made, I/O errors): `problem()` says so; the daemon then
  stops feeding the watchdog and systemd restarts it, which tries again from the start.

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
from typing import Any, TypeVar

from edge_sdk.errors import PublishError
from edge_sdk.publish.spool_disk import (
    CORRUPT,
    FULL,
    PAGE,
    Reserve,
    check_space,
    classify,
    connect,
    free_bytes,
    human,
    journal_headroom,
    wal_pages,
)
from edge_sdk.publish.spool_salvage import Damage, rebuild

log = logging.getLogger(__name__)

_ROW_OVERHEAD = 48  # bytes counted per message besides payload and topic (ids, times, flags)
_CHUNK = 500  # ids per DELETE statement (older SQLite allows 999 parameters)
T = TypeVar("T")


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


class Spool:
    """Messages not yet acknowledged, in order. Open with `Spool.open`; `close` when done."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None, *, max_bytes: int, max_age_s: float,
                 pages: int = 1000, damage: Damage | None = None) -> None:
        self._conn = conn
        self.path = path
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._pages = pages
        self._reserve = Reserve(path, journal_headroom(pages)) if path is not None else None
        self._lock = threading.Lock()
        self._closed = False
        self.dropped = 0
        self.dropped_disk_full = 0
        self.damage = damage
        self.broken: str | None = None  # set when the spool cannot be written at all (see `problem`)
        self._next_age_check = 0.0
        self._next_drop_log = 0.0
        self._unlogged_drops = 0
        self._acked: list[int] = []  # acknowledged, not yet deleted (see the module docstring)
        self.last_id = 0  # the newest committed id (written by the appending thread, read lock-free by the sender)
        self._count = self._bytes = self._dropped_total = 0
        self._load()

    @property
    def max_transaction_bytes(self) -> int:
        """The most message bytes one transaction should hold: half the WAL's working size, so a transaction
        fits in the WAL SQLite has already allocated (spool_disk.py)."""
        return self._pages * PAGE // 2

    def _load(self) -> None:
        """Counts, the newest id and the lifetime drop count, from the file."""
        c = self._conn
        self.last_id = max(self.last_id, int(c.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0]))
        self._recount()
        row = c.execute("SELECT value FROM counters WHERE name='dropped_total'").fetchone()
        self._dropped_total = int(row[0]) if row else 0

    @classmethod
    def open(cls, path: Path | None, *, max_bytes: int, max_age_s: float) -> Spool:
        """Open (or create) the spool at `path`; `None` keeps it in memory (lost on exit). A damaged file is
        moved aside and salvaged into a fresh one; a spool that cannot be opened at all raises PublishError."""
        if max_bytes < 1 or max_age_s <= 0:
            raise ValueError("max_bytes must be >= 1 and max_age_s > 0")
        where = str(path) if path is not None else ":memory:"
        try:
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
            pages = wal_pages(free_bytes(path.parent)) if path is not None else 1000
            try:
                spool = cls(connect(path, pages), path, max_bytes=max_bytes, max_age_s=max_age_s, pages=pages)
            except (sqlite3.Error, OSError) as exc:
                if path is None or classify(exc) != CORRUPT:
                    raise
                conn, damage = rebuild(path, pages, str(exc))
                spool = cls(conn, path, max_bytes=max_bytes, max_age_s=max_age_s, pages=pages, damage=damage)
        except (sqlite3.Error, OSError) as exc:
            raise PublishError(f"cannot open the MQTT spool: {exc}", where=where,
                               fix="check that the state directory exists, is writable and has free space") from exc
        if path is not None:
            check_space(path, max_bytes, pages, spool._bytes)
        if spool._count:
            log.info("spool %s holds %d unsent message(s) from before; they are sent first", where, spool._count)
        return spool

    # -- the file, guarded -------------------------------------------------------------------------
    def _guarded(self, op: Callable[[], T], *, grows: bool = False) -> T:
        """Under the lock: run `op`; a damaged file is rebuilt (spool_salvage) and `op` tried once more; on a full
        disk the reserve is given back (spool_disk.Reserve) and, unless `op` adds messages (`grows`: the reserve
        is for checkpoints and deletes, never for new messages), tried once more; still full: `SpoolFull` naming
        where and what to do."""
        try:
            result = op()
        except (sqlite3.Error, OSError) as exc:
            kind = classify(exc)
            if kind == FULL:
                released = self._reserve is not None and self._reserve.release()
                self._checkpoint()
                if grows or not released:
                    raise self._full(exc) from exc
            elif kind == CORRUPT and self.path is not None:
                self._rebuild(str(exc))
            else:
                raise
        else:
            if self._reserve is not None:
                self._reserve.ensure()
            return result
        try:
            return op()
        except (sqlite3.Error, OSError) as exc:
            if classify(exc) == FULL:
                raise self._full(exc) from exc
            raise

    def _checkpoint(self) -> None:
        """Copy the WAL into the file where possible (frees the WAL for reuse); failures are expected here."""
        try:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            log.debug("spool checkpoint: %s", exc)

    def _full(self, exc: BaseException) -> SpoolFull:
        free = free_bytes(self.path.parent) if self.path is not None else None
        return SpoolFull(f"disk full: the spool {self.path} cannot grow ({exc}; {human(free or 0)} free there); "
                         "fix: free space on that file system, or lower mqtt.spool.max_mb so the spool's own bound "
                         "drops the oldest messages before the disk fills")

    def _rebuild(self, reason: str) -> None:
        """Under the lock: replace a damaged file by a fresh spool holding what could be salvaged."""
        if self.path is None:  # an in-memory spool is never damaged on disk
            return
        try:
            self._conn.close()
        except sqlite3.Error:
            pass
        try:
            self._conn, self.damage = rebuild(self.path, self._pages, reason)
        except (sqlite3.Error, OSError) as exc:
            self.broken = (f"the spool {self.path} is damaged and no fresh one can be made there ({exc}); "
                           "messages are kept in memory only until the service restarts")
            log.error("%s", self.broken)
            self._conn = connect(None)
            raise
        self._load()  # recorded acknowledgements stay: those of rows not salvaged delete nothing

    # -- writing (any thread) ----------------------------------------------------------------------
    def append(self, topic: str, payload: bytes, qos: int, *, retain: bool = False,
               camera: str | None = None, seq: int | None = None) -> int:
        """Store one message (and the camera's last sequence number, atomically); returns its id."""
        return self.append_many([SpoolEntry(topic, payload, qos, retain, camera, seq)])[0]

    def append_many(self, entries: list[SpoolEntry]) -> list[int]:
        """Store messages in order in one transaction, with each camera's last sequence number; their ids.
        Raises `SpoolFull` when the disk has no room (nothing is stored then)."""
        now = time.time()
        ids: list[int] = []

        def insert() -> int:
            ids.clear()
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
            self._check_room(sum(len(e.payload) + len(e.topic) + _ROW_OVERHEAD for e in entries))
            dropped = self._guarded(lambda: self._transaction(insert), grows=True)
            if ids:
                self.last_id = max(self.last_id, ids[-1])  # after the commit: a rolled-back id is given again
        if dropped:
            self._log_drops(f"spool full ({self.max_bytes} bytes)", dropped)
        return ids

    def _check_room(self, nbytes: int) -> None:
        """While the reserve is given back (the disk was full): new messages only into room that leaves it free
        (free disk beyond the reserve's size, or pages the spool freed itself), so the next checkpoint and the
        deletes that free the disk can always be written."""
        if self._reserve is None or self._reserve.held:
            return
        free = free_bytes(self._reserve.path.parent)
        if free is None:
            return
        try:
            reusable = int(self._conn.execute("PRAGMA freelist_count").fetchone()[0]) * PAGE
        except sqlite3.Error:
            reusable = 0
        if free - self._reserve.size + reusable < 2 * nbytes:
            raise SpoolFull(f"disk full: the spool {self.path} keeps its last {human(self._reserve.size)} for SQLite's "
                            f"checkpoints and deletes ({human(free)} free there); fix: free space on that file "
                            "system, or lower mqtt.spool.max_mb so the spool's own bound drops the oldest messages "
                            "before the disk fills")

    def make_room(self, nbytes: int) -> int:
        """The disk is full: drop the oldest stored messages, at least `nbytes` of them (at least one), counted
        in `dropped` and `dropped_disk_full`. Returns how many; 0 when there is nothing to drop or not even a
        delete can be written."""
        def drop() -> int:
            rows = self._conn.execute("SELECT id, size FROM messages ORDER BY id LIMIT ?", (_CHUNK,)).fetchall()
            ids: list[int] = []
            freed = 0
            for msg_id, size in rows:
                if (freed >= nbytes and ids) or len(ids) >= self._tx_rows:
                    break
                ids.append(int(msg_id))
                freed += int(size)
            dropped = self._forget(self._delete(ids))
            self._count_drops(dropped)
            return dropped

        with self._lock:
            self._check_open()
            self._checkpoint()
            try:
                dropped = self._guarded(lambda: self._transaction(drop))
            except (SpoolFull, sqlite3.Error, OSError):
                return 0
            self.dropped_disk_full += dropped
        if dropped:
            self._log_drops("disk full", dropped)
        return dropped

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
            ids: list[int] = []
            freed = 0
            for msg_id, size in rows:
                ids.append(msg_id)
                freed += size
                if freed >= excess:
                    break
            deleted = self._delete(ids)
            dropped += self._forget(deleted)
            if not deleted:
                break
        self._count_drops(dropped)
        return dropped

    def _count_drops(self, dropped: int) -> None:
        """Inside the caller's transaction: add `dropped` to the counters (the lifetime one in the file)."""
        if dropped:
            self.dropped += dropped
            self._dropped_total += dropped
            self._conn.execute("INSERT INTO counters (name, value) VALUES ('dropped_total', ?) "
                               "ON CONFLICT(name) DO UPDATE SET value=excluded.value", (self._dropped_total,))

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
        def read() -> list[Any]:
            return self._conn.execute("SELECT id, created, topic, payload, qos, retain FROM messages WHERE id > ? "
                                      "ORDER BY id LIMIT ?", (after_id, limit)).fetchall()

        with self._lock:
            self._check_open()
            if self._acked and max(self._acked) > after_id:  # a replay from the start: delete them first
                self._apply_acks()
            rows = self._guarded(read)
            acked = set(self._acked)
        return [SpoolRow(int(r[0]), float(r[1]), str(r[2]), bytes(r[3]), int(r[4]), bool(r[5]))
                for r in rows if r[0] not in acked]

    def ack(self, ids: list[int]) -> None:
        """Record acknowledged messages; they are deleted with the next write (ids already dropped are
        ignored then). Cheap: no disk access, unless 500 are waiting."""
        if not ids:
            return
        with self._lock:
            self._check_open()
            self._acked += ids
            if len(self._acked) >= _CHUNK:
                self._apply_acks()

    def expire(self) -> int:
        """Apply the age bound now, and the recorded acknowledgements (the network thread calls this while
        idle, about once a second). On a full disk nothing happens (the acknowledgements wait)."""
        with self._lock:
            self._check_open()
            self._next_age_check = 0.0
            try:
                dropped = self._guarded(lambda: self._transaction(lambda: self._enforce_bounds(time.time())))
            except SpoolFull:
                return 0
        if dropped:
            self._log_drops(f"spool: messages older than {self.max_age_s:g} s", dropped)
        return dropped

    def _apply_acks(self) -> None:
        """Under the lock: delete the recorded acknowledgements now (a transaction of their own); on a full
        disk they stay recorded."""
        if self._acked:
            try:
                self._guarded(lambda: self._transaction(lambda: 0))
            except SpoolFull:
                pass

    def _transaction(self, work: Callable[[], int]) -> int:
        """Under the lock: one write transaction that applies the recorded acknowledgements, then `work` (more
        acknowledgements than one transaction should hold go first, in transactions of their own).
        On failure nothing of it stays: rolled back (unless SQLite already did, as it does when a COMMIT finds
        the disk full), the acknowledgements recorded again, and the counts read from the file again."""
        while len(self._acked) > self._tx_rows:
            self._one_transaction(self._tx_rows, lambda: 0)
        return self._one_transaction(len(self._acked), work)

    @property
    def _tx_rows(self) -> int:
        """Rows one delete transaction may touch: each deleted row rewrites about a page into the WAL."""
        return max(8, self.max_transaction_bytes // PAGE)

    def _one_transaction(self, n_acks: int, work: Callable[[], int]) -> int:
        self._conn.execute("BEGIN IMMEDIATE")
        acked, self._acked = self._acked[:n_acks], self._acked[n_acks:]
        try:
            if acked:  # first: the bounds below must never count an acknowledged row as dropped
                self._forget(self._delete(acked))
            result = work()
            self._conn.execute("COMMIT")
        except BaseException:
            self._acked = acked + self._acked
            try:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                self._recount()
            except sqlite3.Error as exc:  # a damaged file: the caller rebuilds it, which counts again
                log.debug("spool: rollback/recount failed: %s", exc)
            raise
        return result

    def last_sequences(self) -> dict[str, int]:
        """The last sequence number given to each camera (continue at +1)."""
        with self._lock:
            self._check_open()
            rows = self._guarded(lambda: self._conn.execute("SELECT camera, last FROM sequences").fetchall())
            return {str(cam): int(last) for cam, last in rows}

    def stats(self) -> SpoolStats:
        with self._lock:
            oldest = None
            if not self._closed:
                try:
                    self._apply_acks()
                    row = self._conn.execute("SELECT created FROM messages ORDER BY id LIMIT 1").fetchone()
                    oldest = max(0.0, time.time() - float(row[0])) if row else None
                except (sqlite3.Error, OSError) as exc:  # figures must never fail; the next write meets it
                    log.debug("spool stats: %s", exc)
            free = free_bytes(self.path.parent) if self.path is not None else None
            return SpoolStats(self._count, self._bytes, self.dropped, self._dropped_total, oldest,
                              str(self.path) if self.path is not None else ":memory:", self.dropped_disk_full, free,
                              self.damage.as_dict() if self.damage is not None else None)

    def problem(self) -> str | None:
        """Why the spool cannot be written at all (its file is damaged and no fresh one can be made), or None."""
        return self.broken

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
                self._apply_acks()
                if self.path is not None:
                    self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except (sqlite3.Error, SpoolFull) as exc:  # the WAL stays beside the file; the next open reads it
                log.info("spool: final checkpoint not done (%s); the WAL stays beside the spool", exc)
            self._conn.close()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("the spool is closed")
