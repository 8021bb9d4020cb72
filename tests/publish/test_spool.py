"""The SQLite spool: order, acknowledgement, size and age bounds with drop-oldest, and what survives a
reopen (messages, sequence numbers, the drop count)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from edge_sdk.errors import PublishError
from edge_sdk.publish.spool import Spool


def _fill(spool: Spool, n: int, size: int = 100, start: int = 0) -> list[int]:
    return [spool.append("t/x", bytes([i % 256]) * size, 1, camera="cam0", seq=start + i + 1) for i in range(n)]


def test_messages_come_back_in_order_and_acks_delete(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path / "s.sqlite", max_bytes=1 << 20, max_age_s=3600)
    ids = _fill(spool, 10)
    assert ids == sorted(ids) and len(spool) == 10
    rows = spool.peek(0, 4)
    assert [r.id for r in rows] == ids[:4] and rows[0].payload == b"\0" * 100 and rows[0].qos == 1
    assert [r.id for r in spool.peek(ids[3], 100)] == ids[4:]
    spool.ack(ids[:3] + [999999])
    assert [r.id for r in spool.peek(0, 100)] == ids[3:]
    assert spool.stats().queued == 7 and spool.last_sequences() == {"cam0": 10}
    spool.close()


def _rows_on_disk(path: Path) -> list[int]:
    """What another process (a restart after a crash) would find in the file."""
    other = sqlite3.connect(path)
    try:
        return [r[0] for r in other.execute("SELECT id FROM messages ORDER BY id")]
    finally:
        other.close()


def test_acks_are_deleted_with_the_next_write_and_a_crash_before_resends_them(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    spool = Spool.open(path, max_bytes=1 << 20, max_age_s=3600)
    ids = _fill(spool, 4)
    spool.ack(ids[:2])
    assert len(spool) == 2 and spool.pending_acks == 2  # acknowledged at once for the counts ...
    assert _rows_on_disk(path) == ids  # ... but still on disk: a crash now sends ids[:2] again (duplicates)
    assert [r.id for r in spool.peek(0, 10)] == ids[2:]  # a replay from the start never resends them
    spool.ack([ids[2]])
    new = spool.append("t/x", b"z", 1, camera="cam0", seq=5)
    assert _rows_on_disk(path) == [ids[3], new] and spool.pending_acks == 0  # deleted in the append's transaction
    spool.ack([ids[3]])
    spool.close()  # close deletes what is still recorded
    assert _rows_on_disk(path) == [new]


def test_acknowledged_rows_are_never_counted_as_dropped(tmp_path: Path) -> None:
    per_msg = 100 + len("t/x") + 48
    spool = Spool.open(tmp_path / "s.sqlite", max_bytes=per_msg * 3, max_age_s=3600)
    ids = _fill(spool, 3)
    spool.ack(ids[:2])
    _fill(spool, 2, start=3)  # 5 rows would not fit, but 2 of them are acknowledged: nothing dropped
    st = spool.stats()
    assert (st.dropped, st.queued) == (0, 3)
    spool.close()


def test_size_bound_drops_the_oldest_and_counts_them(tmp_path: Path) -> None:
    per_msg = 100 + len("t/x") + 48
    spool = Spool.open(tmp_path / "s.sqlite", max_bytes=per_msg * 20, max_age_s=3600)
    ids = _fill(spool, 50)
    assert len(spool) == 20
    assert [r.id for r in spool.peek(0, 100)] == ids[-20:]  # the newest 20 kept, the oldest 30 dropped
    st = spool.stats()
    assert (st.dropped, st.dropped_total, st.queued_bytes) == (30, 30, per_msg * 20)
    spool.close()


def test_age_bound_drops_expired_messages(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path / "s.sqlite", max_bytes=1 << 20, max_age_s=0.3)
    _fill(spool, 5)
    time.sleep(0.6)
    fresh = _fill(spool, 2, start=5)
    assert [r.id for r in spool.peek(0, 100)] == fresh
    assert spool.stats().dropped == 5
    spool.close()


def test_contents_sequences_and_drop_count_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "state" / "spool" / "s.sqlite"
    per_msg = 100 + len("t/x") + 48
    spool = Spool.open(path, max_bytes=per_msg * 5, max_age_s=3600)
    ids = _fill(spool, 8)
    spool.close()
    again = Spool.open(path, max_bytes=per_msg * 5, max_age_s=3600)
    assert [r.id for r in again.peek(0, 100)] == ids[-5:]
    assert again.last_sequences() == {"cam0": 8}
    st = again.stats()
    assert (st.queued, st.dropped, st.dropped_total) == (5, 0, 3)
    new_id = again.append("t/x", b"y", 1)
    assert new_id > ids[-1]
    again.close()


def test_an_uncommitted_crash_leaves_the_committed_messages(tmp_path: Path) -> None:
    """Appends are committed one by one: a second connection (another process after a crash) sees them."""
    path = tmp_path / "s.sqlite"
    spool = Spool.open(path, max_bytes=1 << 20, max_age_s=3600)
    _fill(spool, 3)
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 3
    other.close()
    spool.close()


def test_a_spool_that_cannot_be_made_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file where the state directory should be")
    with pytest.raises(PublishError) as err:
        Spool.open(tmp_path / "file" / "s.sqlite", max_bytes=1 << 20, max_age_s=3600)
    assert "cannot open the MQTT spool" in str(err.value) and err.value.fix


def test_memory_spool_works_the_same(tmp_path: Path) -> None:
    spool = Spool.open(None, max_bytes=1 << 20, max_age_s=3600)
    ids = _fill(spool, 3)
    assert [r.id for r in spool.peek(0, 10)] == ids and spool.stats().path == ":memory:"
    spool.close()
