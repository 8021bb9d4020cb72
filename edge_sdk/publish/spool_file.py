"""The spool's SQLite file and what goes wrong with it, for spool.py: a full disk, a damaged file, a file that
cannot be written at all.

`SpoolFile.guarded(op)` runs one read or transaction of the spool and handles the file's failures the way
spool.py's docstring promises: on a full disk the reserve (spool_disk.Reserve) is given back so checkpoints and
deletes can still be written, and `SpoolFull` names where and what to do; a damaged file is moved aside, what can
be read is salvaged into a fresh file (spool_salvage.rebuild) and the counts are loaded again; when not even a
fresh file can be made, `broken` says so (the daemon's watchdog stops). Called under the spool's lock.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from edge_sdk.publish.spool_disk import CORRUPT, FULL, PAGE, Reserve, classify, connect, free_bytes, human, journal_headroom
from edge_sdk.publish.spool_salvage import Damage, rebuild
from edge_sdk.publish.spool_table import MessageTable
from edge_sdk.publish.spool_types import SpoolFull

log = logging.getLogger(__name__)

T = TypeVar("T")


class SpoolFile:
    def __init__(self, conn: sqlite3.Connection, path: Path | None, pages: int, damage: Damage | None,
                 reloaded: Callable[[], None]) -> None:
        self.table = MessageTable(conn)
        self.path = path
        self.pages = pages
        self.damage = damage  # the last damaged file moved aside since start
        self.broken: str | None = None  # set when the spool cannot be written at all
        self._reserve = Reserve(path, journal_headroom(pages)) if path is not None else None
        self._reloaded = reloaded  # called after the table was loaded from a rebuilt file

    def guarded(self, op: Callable[[], T], *, grows: bool = False) -> T:
        """Run `op`; a damaged file is rebuilt (spool_salvage) and `op` tried once more; on a full disk the reserve
        is given back (spool_disk.Reserve) and, unless `op` adds messages (`grows`: the reserve is for checkpoints
        and deletes, never for new messages), tried once more; still full: `SpoolFull` naming where and what to do."""
        try:
            result = op()
        except (sqlite3.Error, OSError) as exc:
            kind = classify(exc)
            if kind == FULL:
                released = self._reserve is not None and self._reserve.release()
                self.checkpoint()
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

    def checkpoint(self) -> None:
        """Copy the WAL into the file where possible (frees the WAL for reuse); failures are expected here."""
        try:
            self.table.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            log.debug("spool checkpoint: %s", exc)

    def check_room(self, nbytes: int) -> None:
        """While the reserve is given back (the disk was full): new messages only into room that leaves it free
        (free disk beyond the reserve's size, or pages the spool freed itself), so the next checkpoint and the
        deletes that free the disk can always be written."""
        if self._reserve is None or self._reserve.held:
            return
        free = free_bytes(self._reserve.path.parent)
        if free is None:
            return
        try:
            reusable = int(self.table.conn.execute("PRAGMA freelist_count").fetchone()[0]) * PAGE
        except sqlite3.Error:
            reusable = 0
        if free - self._reserve.size + reusable < 2 * nbytes:
            raise SpoolFull(f"disk full: the spool {self.path} keeps its last {human(self._reserve.size)} for SQLite's "
                            f"checkpoints and deletes ({human(free)} free there); fix: free space on that file "
                            "system, or lower mqtt.spool.max_mb so the spool's own bound drops the oldest messages "
                            "before the disk fills")

    def _full(self, exc: BaseException) -> SpoolFull:
        free = free_bytes(self.path.parent) if self.path is not None else None
        return SpoolFull(f"disk full: the spool {self.path} cannot grow ({exc}; {human(free or 0)} free there); "
                         "fix: free space on that file system, or lower mqtt.spool.max_mb so the spool's own bound "
                         "drops the oldest messages before the disk fills")

    def _rebuild(self, reason: str) -> None:
        """Replace a damaged file by a fresh spool holding what could be salvaged."""
        if self.path is None:  # an in-memory spool is never damaged on disk
            return
        try:
            self.table.conn.close()
        except sqlite3.Error:
            pass
        try:
            conn, self.damage = rebuild(self.path, self.pages, reason)
        except (sqlite3.Error, OSError) as exc:
            self.broken = (f"the spool {self.path} is damaged and no fresh one can be made there ({exc}); "
                           "messages are kept in memory only until the service restarts")
            log.error("%s", self.broken)
            self.table = MessageTable(connect(None))
            raise
        self.table = MessageTable(conn)
        self._reloaded()  # recorded acknowledgements stay: those of rows not salvaged delete nothing
