"""The spool file's tables and the counts kept beside them, for spool.py.

`messages` (id, created, topic, payload, qos, retain, size), `sequences` (each camera's last number) and
`counters` (`dropped_total`, which survives restarts). `MessageTable` keeps the number and bytes of stored
messages in memory so the bounds need no COUNT(*) per write, and reads them from the file again whenever a
transaction failed (`recount`) or the file was replaced (`load`). Every method runs inside the caller's
transaction, under the spool's lock; nothing here begins, commits or rolls back.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from edge_sdk.publish.spool_types import SpoolEntry

CHUNK = 500  # ids per DELETE statement (older SQLite allows 999 parameters)


class MessageTable:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.count = 0  # stored messages (acknowledged ones not yet deleted included)
        self.bytes = 0
        self.dropped_total = 0

    def load(self) -> int:
        """Counts and the lifetime drop count from the file; returns the newest id."""
        last_id = int(self.conn.execute("SELECT COALESCE(MAX(id), 0) FROM messages").fetchone()[0])
        self.recount()
        row = self.conn.execute("SELECT value FROM counters WHERE name='dropped_total'").fetchone()
        self.dropped_total = int(row[0]) if row else 0
        return last_id

    def recount(self) -> None:
        count, total = self.conn.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages").fetchone()
        self.count, self.bytes = int(count), int(total)

    def insert(self, entries: list[SpoolEntry], now: float, ids: list[int]) -> None:
        """Store `entries` in order (their ids appended to `ids`) with each camera's last sequence number."""
        c = self.conn
        seqs = {}
        for e in entries:
            size = e.size
            cur = c.execute("INSERT INTO messages (created, topic, payload, qos, retain, size) "
                            "VALUES (?,?,?,?,?,?)", (now, e.topic, e.payload, e.qos, int(e.retain), size))
            ids.append(int(cur.lastrowid or 0))
            self.count += 1
            self.bytes += size
            if e.camera is not None and e.seq is not None:
                seqs[e.camera] = e.seq
        c.executemany("INSERT INTO sequences (camera, last) VALUES (?, ?) "
                      "ON CONFLICT(camera) DO UPDATE SET last=excluded.last", list(seqs.items()))

    def delete(self, ids: list[int]) -> int:
        """Delete these messages (ids no longer stored are ignored); returns how many were deleted."""
        rows: list[tuple[int]] = []
        for i in range(0, len(ids), CHUNK):
            part = ids[i:i + CHUNK]
            marks = ",".join("?" * len(part))
            rows += self.conn.execute(f"DELETE FROM messages WHERE id IN ({marks}) RETURNING size", part).fetchall()
        self.count -= len(rows)
        self.bytes -= sum(r[0] for r in rows)
        return len(rows)

    def oldest(self, nbytes: int, max_rows: int) -> list[int]:
        """Ids of the oldest messages holding at least `nbytes` (at least one; at most `max_rows`)."""
        rows = self.conn.execute("SELECT id, size FROM messages ORDER BY id LIMIT ?", (CHUNK,)).fetchall()
        ids: list[int] = []
        freed = 0
        for msg_id, size in rows:
            if (freed >= nbytes and ids) or len(ids) >= max_rows:
                break
            ids.append(int(msg_id))
            freed += int(size)
        return ids

    def drop_beyond(self, max_bytes: int) -> int:
        """Delete the oldest messages while more than `max_bytes` are stored (the newest always stays)."""
        dropped = 0
        while self.bytes > max_bytes and self.count > 1:
            excess = self.bytes - max_bytes
            rows = self.conn.execute("SELECT id, size FROM messages ORDER BY id LIMIT ?",
                                     (min(CHUNK, self.count - 1),)).fetchall()
            ids: list[int] = []
            freed = 0
            for msg_id, size in rows:
                ids.append(msg_id)
                freed += size
                if freed >= excess:
                    break
            deleted = self.delete(ids)
            dropped += deleted
            if not deleted:
                break
        return dropped

    def drop_expired(self, cutoff: float) -> int:
        """Delete messages created before `cutoff`, oldest first (ids follow creation, so this reads only
        the expired rows and one more, never the whole table)."""
        dropped = 0
        while True:
            rows = self.conn.execute("SELECT id, created FROM messages ORDER BY id LIMIT ?", (CHUNK,)).fetchall()
            ids = [msg_id for msg_id, created in rows if created < cutoff]
            if ids:
                dropped += self.delete(ids)
            if len(ids) < CHUNK:
                return dropped

    def count_drops(self, dropped: int) -> None:
        """Add `dropped` to the lifetime count, in the file."""
        if dropped:
            self.dropped_total += dropped
            self.conn.execute("INSERT INTO counters (name, value) VALUES ('dropped_total', ?) "
                              "ON CONFLICT(name) DO UPDATE SET value=excluded.value", (self.dropped_total,))

    def rows_after(self, after_id: int, limit: int) -> list[Any]:
        return self.conn.execute("SELECT id, created, topic, payload, qos, retain FROM messages WHERE id > ? "
                                 "ORDER BY id LIMIT ?", (after_id, limit)).fetchall()

    def oldest_created(self) -> float | None:
        row = self.conn.execute("SELECT created FROM messages ORDER BY id LIMIT 1").fetchone()
        return float(row[0]) if row else None

    def sequences(self) -> dict[str, int]:
        return {str(cam): int(last) for cam, last in self.conn.execute("SELECT camera, last FROM sequences").fetchall()}
