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

Modules: this one (the lock, transactions, acknowledgements, the bounds), spool_file.py (the file's failures:
full, damaged, unwritable), spool_table.py (the tables and the counts kept beside them), spool_types.py
(entries, rows, figures, `SpoolFull`), spool_disk.py (free space, the reserve, how SQLite is opened) and
spool_salvage.py (a damaged file moved aside and salvaged).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from edge_sdk.errors import PublishError
from edge_sdk.publish.spool_disk import CORRUPT, PAGE, check_space, classify, connect, free_bytes, wal_pages
from edge_sdk.publish.spool_file import SpoolFile
from edge_sdk.publish.spool_salvage import Damage, rebuild
from edge_sdk.publish.spool_table import CHUNK, MessageTable
from edge_sdk.publish.spool_types import SpoolEntry, SpoolFull, SpoolRow, SpoolStats

__all__ = ["Spool", "SpoolEntry", "SpoolFull", "SpoolRow", "SpoolStats"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Spool:
    """Messages not yet acknowledged, in order. Open with `Spool.open`; `close` when done."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None, *, max_bytes: int, max_age_s: float,
                 pages: int = 1000, damage: Damage | None = None) -> None:
        self._file = SpoolFile(conn, path, pages, damage, self._load)
        self.path = path
        self.max_bytes = max_bytes
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._closed = False
        self.dropped = 0
        self.dropped_disk_full = 0
        self._next_age_check = 0.0
        self._next_drop_log = 0.0
        self._unlogged_drops = 0
        self._acked: list[int] = []  # acknowledged, not yet deleted (see the module docstring)
        self.last_id = 0  # the newest committed id (written by the appending thread, read lock-free by the sender)
        self._load()

    @property
    def _table(self) -> MessageTable:
        return self._file.table

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._file.table.conn

    @property
    def damage(self) -> Damage | None:
        """The last damaged file moved aside and salvaged since start (spool_salvage), or None."""
        return self._file.damage

    @property
    def max_transaction_bytes(self) -> int:
        """The most message bytes one transaction should hold: half the WAL's working size, so a transaction
        fits in the WAL SQLite has already allocated (spool_disk.py)."""
        return self._file.pages * PAGE // 2

    def _load(self) -> None:
        """Counts, the newest id and the lifetime drop count, from the file (again after a rebuild)."""
        self.last_id = max(self.last_id, self._table.load())

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
            check_space(path, max_bytes, pages, spool._table.bytes)
        if spool._table.count:
            log.info("spool %s holds %d unsent message(s) from before; they are sent first", where, spool._table.count)
        return spool

    # -- the file, guarded -------------------------------------------------------------------------
    def _guarded(self, op: Callable[[], T], *, grows: bool = False) -> T:
        """Under the lock: `op` with the file's failures handled (spool_file.SpoolFile.guarded)."""
        return self._file.guarded(op, grows=grows)

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
            self._table.insert(entries, now, ids)
            return self._enforce_bounds(now)

        with self._lock:
            self._check_open()
            self._file.check_room(sum(e.size for e in entries))
            dropped = self._guarded(lambda: self._transaction(insert), grows=True)
            if ids:
                self.last_id = max(self.last_id, ids[-1])  # after the commit: a rolled-back id is given again
        if dropped:
            self._log_drops(f"spool full ({self.max_bytes} bytes)", dropped)
        return ids

    def make_room(self, nbytes: int) -> int:
        """The disk is full: drop the oldest stored messages, at least `nbytes` of them (at least one), counted
        in `dropped` and `dropped_disk_full`. Returns how many; 0 when there is nothing to drop or not even a
        delete can be written."""
        def drop() -> int:
            dropped = self._table.delete(self._table.oldest(nbytes, self._tx_rows))
            self._count_drops(dropped)
            return dropped

        with self._lock:
            self._check_open()
            self._file.checkpoint()
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
                        self.dropped, self._table.count)
            self._unlogged_drops = 0

    def _enforce_bounds(self, now: float) -> int:
        """Drop the oldest beyond the size bound, and the expired; inside the caller's transaction."""
        dropped = 0
        if now >= self._next_age_check:
            self._next_age_check = now + 0.5
            dropped += self._table.drop_expired(now - self.max_age_s)
        dropped += self._table.drop_beyond(self.max_bytes)
        self._count_drops(dropped)
        return dropped

    def _count_drops(self, dropped: int) -> None:
        """Inside the caller's transaction: add `dropped` to the counters (the lifetime one in the file)."""
        if dropped:
            self.dropped += dropped
            self._table.count_drops(dropped)

    # -- reading and acknowledging (the network thread) --------------------------------------------
    def peek(self, after_id: int, limit: int) -> list[SpoolRow]:
        """Up to `limit` unacknowledged messages with id > `after_id`, oldest first."""
        with self._lock:
            self._check_open()
            if self._acked and max(self._acked) > after_id:  # a replay from the start: delete them first
                self._apply_acks()
            rows = self._guarded(lambda: self._table.rows_after(after_id, limit))
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
            if len(self._acked) >= CHUNK:
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
                self._table.delete(acked)
            result = work()
            self._conn.execute("COMMIT")
        except BaseException:
            self._acked = acked + self._acked
            try:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                self._table.recount()
            except sqlite3.Error as exc:  # a damaged file: the caller rebuilds it, which counts again
                log.debug("spool: rollback/recount failed: %s", exc)
            raise
        return result

    def last_sequences(self) -> dict[str, int]:
        """The last sequence number given to each camera (continue at +1)."""
        with self._lock:
            self._check_open()
            return self._guarded(self._table.sequences)

    def stats(self) -> SpoolStats:
        with self._lock:
            oldest = None
            if not self._closed:
                try:
                    self._apply_acks()
                    created = self._table.oldest_created()
                    oldest = max(0.0, time.time() - created) if created is not None else None
                except (sqlite3.Error, OSError) as exc:  # figures must never fail; the next write meets it
                    log.debug("spool stats: %s", exc)
            free = free_bytes(self.path.parent) if self.path is not None else None
            t = self._table
            return SpoolStats(t.count, t.bytes, self.dropped, t.dropped_total, oldest,
                              str(self.path) if self.path is not None else ":memory:", self.dropped_disk_full, free,
                              self.damage.as_dict() if self.damage is not None else None)

    def problem(self) -> str | None:
        """Why the spool cannot be written at all (its file is damaged and no fresh one can be made), or None."""
        return self._file.broken

    @property
    def pending_acks(self) -> int:
        """Acknowledged messages not yet deleted."""
        return len(self._acked)

    def __len__(self) -> int:
        """Messages not yet acknowledged."""
        return max(0, self._table.count - len(self._acked))

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
