"""A damaged spool: moved aside, what can be read salvaged, a fresh one made in its place.

A torn page (`database disk image is malformed`) or a file that is not a database at all (random bytes,
`file is not a database`) would otherwise lose every message from then on, or keep the service from starting.
`move_aside` renames the file (with its WAL and index) to `<spool>.damaged-<UTC time>`, kept for a person to
look at (at most `KEEP` of them: older ones are deleted, so a failing disk cannot fill up with copies);
`salvage` reads from it every message row, sequence number and counter it still can, chunk by chunk, jumping
over what cannot be read, within a time bound.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

KEEP = 3  # damaged copies kept beside the spool
SALVAGE_S = 20.0  # at most this long reading a damaged file
_CHUNK = 200

Row = tuple[int, float, str, bytes, int, int, int]  # id, created, topic, payload, qos, retain, size


@dataclass
class Salvage:
    rows: list[Row] = field(default_factory=list)
    sequences: dict[str, int] = field(default_factory=dict)
    dropped_total: int = 0
    unreadable: int = 0  # chunks that could not be read (their rows are lost)
    error: str | None = None  # why nothing at all could be read


def move_aside(path: Path, now: float | None = None) -> Path:
    """Rename the spool (and its -wal, -shm) to `<name>.damaged-<UTC time>`; returns the new path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    for suffix in ("", "-wal", "-shm"):
        src = Path(f"{path}{suffix}")
        if src.exists():
            src.rename(Path(f"{target}{suffix}"))
    old = sorted(p for p in path.parent.glob(f"{path.name}.damaged-*") if not p.name.endswith(("-wal", "-shm")))
    for stale in old[:-KEEP]:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{stale}{suffix}").unlink(missing_ok=True)
    return target


def salvage(damaged: Path, deadline_s: float = SALVAGE_S) -> Salvage:
    """Every row that can still be read from the damaged spool file (see the module docstring)."""
    out = Salvage()
    try:
        conn = sqlite3.connect(str(damaged), timeout=1.0)
    except sqlite3.Error as exc:
        out.error = str(exc)
        return out
    try:
        _read_rows(conn, out, time.monotonic() + deadline_s)
        try:
            out.sequences = {str(c): int(v) for c, v in conn.execute("SELECT camera, last FROM sequences")}
        except sqlite3.Error:
            if out.rows:
                log.warning("spool salvage: the sequence numbers of %s cannot be read; taken from the messages",
                            damaged)
        try:
            row = conn.execute("SELECT value FROM counters WHERE name='dropped_total'").fetchone()
            out.dropped_total = int(row[0]) if row else 0
        except sqlite3.Error:
            pass
    finally:
        conn.close()
    return out


def _read_rows(conn: sqlite3.Connection, out: Salvage, deadline: float) -> None:
    """Rows in id order; a chunk that cannot be read is read again in smaller chunks down to single rows, and a
    single row that cannot be read is jumped over (further each time it fails again in a row)."""
    try:
        top = conn.execute("SELECT MAX(id) FROM messages").fetchone()[0]
    except sqlite3.Error as exc:
        top = None
        out.error = str(exc)
    cursor, step, limit, misses = 0, 1, _CHUNK, 0
    while time.monotonic() < deadline and (top is None or cursor < int(top)):
        try:
            rows = conn.execute("SELECT id, created, topic, payload, qos, retain, size FROM messages WHERE id > ? "
                                "ORDER BY id LIMIT ?", (cursor, limit)).fetchall()
        except sqlite3.Error:
            if limit > 1:
                limit = max(1, limit // 4)
                continue
            out.unreadable += 1
            misses += 1
            if misses > 64 and not out.rows and top is None:
                break  # nothing readable at all: not a database, or no table left
            cursor += step
            step = min(step * 2, 256)
            continue
        if not rows:
            break
        out.error = None
        misses, step, limit = 0, 1, min(_CHUNK, limit * 4)
        out.rows += [(int(r[0]), float(r[1]), str(r[2]), bytes(r[3]), int(r[4]), int(r[5]), int(r[6])) for r in rows]
        cursor = int(rows[-1][0])


@dataclass(frozen=True)
class Damage:
    """What happened to a damaged spool, for the log and the stats topic."""

    at: float  # wall clock
    reason: str
    moved_to: str
    salvaged: int
    unreadable_chunks: int

    def as_dict(self) -> dict[str, object]:
        return {"at": round(self.at, 3), "reason": self.reason, "moved_to": self.moved_to, "salvaged": self.salvaged,
                "unreadable_chunks": self.unreadable_chunks}


def rebuild(path: Path, pages: int, reason: str) -> tuple[sqlite3.Connection, Damage]:
    """Move the damaged spool aside, salvage it into a fresh spool at `path` (ids, order, sequence numbers and
    counters kept), and say so loudly. Raises sqlite3.Error/OSError when not even a fresh spool can be made."""
    from edge_sdk.publish.spool_disk import connect

    moved = move_aside(path)
    found = salvage(moved)
    sequences = found.sequences or _sequences_from(found.rows)
    conn = connect(path, pages)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO messages (id, created, topic, payload, qos, retain, size) VALUES (?,?,?,?,?,?,?)",
                         found.rows)
        conn.executemany("INSERT INTO sequences (camera, last) VALUES (?, ?)", list(sequences.items()))
        conn.execute("INSERT INTO counters (name, value) VALUES ('dropped_total', ?)", (found.dropped_total,))
        conn.execute("COMMIT")
    except BaseException:
        conn.close()
        raise
    damage = Damage(time.time(), reason, str(moved), len(found.rows), found.unreadable)
    log.error("SPOOL DAMAGED: %s (%s). Moved it aside to %s and salvaged %d unsent message(s) into a fresh spool%s; "
              "messages that could not be read are lost (consumers see a gap in seq). The copy is kept for a "
              "look (at most %d are kept); if this repeats, check the storage (dmesg, smartctl).", path, reason,
              moved, len(found.rows), f" ({found.unreadable} unreadable part(s) skipped)" if found.unreadable else "",
              KEEP)
    return conn, damage


def _sequences_from(rows: list[Row]) -> dict[str, int]:
    """Each camera's last sequence number, from salvaged detection messages (when the sequences table is lost)."""
    import json

    out: dict[str, int] = {}
    for row in rows:
        if not row[2].endswith("/detections"):
            continue
        try:
            msg = json.loads(row[3])
            camera, seq = str(msg["camera"]), int(msg["seq"])
        except (ValueError, KeyError, TypeError):
            continue
        out[camera] = max(out.get(camera, 0), seq)
    return out
