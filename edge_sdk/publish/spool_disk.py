"""The spool's disk: what a SQLite error means, how much space there is, and a WAL sized to the file system.

SQLite keeps committed writes in the WAL (`<spool>-wal`) until a checkpoint copies them into the database
file. A WAL that was already allocated is reused from its start after each checkpoint, so small transactions
(acknowledgements, an append into pages freed by them) keep working on a file system that is 100% full; only
growth fails. The WAL is therefore never truncated below its working size (`journal_size_limit`), and on a small
file system it is kept small (`wal_autocheckpoint`: a sixteenth of the free space, 64 to 1000 pages) so it
cannot take the disk from the messages. `journal_headroom` is that working size: what `check_space` adds to
`mqtt.spool.max_mb` when it says at start whether the spool fits.

A full disk can still wedge SQLite: a checkpoint that must grow the database file cannot finish, so the WAL
cannot restart, so not even a delete (of acknowledged messages) can be written, and the disk never frees up.
`Reserve` prevents that: a file of the journal's working size beside the spool (`<spool>.reserve`), given back
the moment the disk is full, so the checkpoint and the deletes that free the disk always have room; it is
taken again once there is room to spare.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)

FULL = "full"  # SQLITE_FULL, ENOSPC: no room to grow
CORRUPT = "corrupt"  # SQLITE_CORRUPT, SQLITE_NOTADB: a torn page, or not a database at all
IO = "io"  # SQLITE_IOERR, SQLITE_READONLY, SQLITE_CANTOPEN: cannot be written at all
PAGE = 4096

SCHEMA = """
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


def connect(path: Path | None, pages: int = 1000) -> sqlite3.Connection:
    """A connection to the spool at `path` (None: in memory), in WAL mode with the WAL sized by `pages`, with
    the schema in place. Raises sqlite3.Error (classify it) or OSError."""
    conn = sqlite3.connect(str(path) if path is not None else ":memory:", check_same_thread=False,
                           isolation_level=None, timeout=10.0)
    try:
        if path is not None:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.DatabaseError(f"journal_mode WAL refused (got {mode})")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")
            conn.execute(f"PRAGMA journal_size_limit={journal_headroom(pages)}")  # keep the WAL's working size
        conn.executescript(SCHEMA)
    except BaseException:
        conn.close()
        raise
    return conn


def classify(exc: BaseException) -> str | None:
    """FULL, CORRUPT or IO for an error of the spool's file (None: something else, e.g. a bug)."""
    if isinstance(exc, OSError):
        return FULL if exc.errno in (errno.ENOSPC, errno.EDQUOT) else IO
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        primary = code & 0xFF
        if primary == sqlite3.SQLITE_FULL:
            return FULL
        if primary in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
            return CORRUPT
        if primary in (sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
            return IO
    text = str(exc).lower()
    if "disk is full" in text or "no space left" in text:
        return FULL
    if "malformed" in text or "not a database" in text:
        return CORRUPT
    return None


def free_bytes(folder: Path) -> int | None:
    """Bytes an unprivileged writer can still use on `folder`'s file system (None where it cannot be asked)."""
    try:
        st = os.statvfs(folder)
    except OSError:
        return None
    return int(st.f_bavail * st.f_frsize)


def wal_pages(free: int | None) -> int:
    """The WAL's checkpoint threshold in pages: 1000 (SQLite's default, 4 MiB) where there is room, less on a
    small file system, never below 64."""
    if free is None:
        return 1000
    return max(64, min(1000, free // PAGE // 16))


def journal_headroom(pages: int) -> int:
    """Bytes the WAL and its index need besides the messages (the WAL grows a little past its threshold before
    the checkpoint that follows a commit)."""
    return 2 * pages * PAGE + 64 * 1024


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


def check_space(path: Path, max_bytes: int, pages: int, held: int) -> int | None:
    """At start: say (log) whether the spool's bound and the SQLite journal fit the free space; returns it.
    `held`: bytes the spool holds already (they need no new room)."""
    free = free_bytes(path.parent)
    if free is None:
        return None
    headroom = journal_headroom(pages)
    fix = "free space there, move mqtt.spool.path to a larger file system, or lower mqtt.spool.max_mb"
    if free < headroom:
        log.error("spool %s: only %s free on its file system; SQLite needs about %s for its journal besides the "
                  "messages, so messages may be dropped from the start (the oldest first, counted); fix: %s",
                  path, human(free), human(headroom), fix)
    elif free + held < max_bytes + headroom:
        log.warning("spool %s: %s free on its file system, less than mqtt.spool.max_mb (%s) plus %s of SQLite "
                    "journal: if the broker stays away long enough, the disk fills first and the oldest messages "
                    "are dropped then (counted as dropped_disk_full); fix: %s", path, human(free), human(max_bytes),
                    human(headroom), fix)
    return free


class Reserve:
    """A file of `size` bytes beside the spool, released when the disk is full (see the module docstring)."""

    CHECK_S = 10.0

    def __init__(self, spool_path: Path, size: int) -> None:
        self.path = spool_path.with_name(spool_path.name + ".reserve")
        self.size = size
        self._next_check = 0.0

    @property
    def held(self) -> bool:
        return self.path.exists()

    def release(self) -> bool:
        """Give the space back; True if there was a reserve to give."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            log.debug("spool reserve %s: %s", self.path, exc)
            return False
        self._next_check = time.monotonic() + self.CHECK_S
        log.warning("spool: the disk is full; released the %s reserved beside the spool so SQLite can finish its "
                    "checkpoint and delete messages (taken again when there is room)", human(self.size))
        return True

    def ensure(self) -> None:
        """Take the reserve if it is not held and the disk has twice its size free (checked every 10 s)."""
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self.CHECK_S
        if self.held:
            return
        free = free_bytes(self.path.parent)
        if free is None or free < 2 * self.size:
            return
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                os.posix_fallocate(fd, 0, self.size)
            finally:
                os.close(fd)
        except OSError as exc:  # no fallocate here, or the space went meanwhile: try again later
            self.path.unlink(missing_ok=True)
            log.debug("spool reserve %s not taken: %s", self.path, exc)
