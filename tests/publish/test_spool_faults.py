"""The spool when its disk fails, with real files: a real 2 MiB tmpfs filled by the spool itself (broker down)
or by another program (broker up), torn pages and random bytes, a real Mosquitto and a persistent subscriber
counting every message. (A disk that cannot be written at all, under the real daemon: tests/daemon.)"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import edge_sdk.publish.backlog as backlog
from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.spool import Spool, SpoolEntry
from edge_sdk.publish.subscriber import DetectionSubscriber
from tests.publish.helpers import PacedStream, frame_result, open_test_publisher, publisher_settings, wait_until
from tests.support.broker import MosquittoBroker
from tests.support.small_fs import fill, small_filesystem


@pytest.fixture()
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    with small_filesystem(tmp_path / "disk", "2m") as disk:
        yield disk


def _received(sub: DetectionSubscriber, want: int, timeout: float = 30.0) -> set[int]:
    got: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        m = sub.get(timeout=0.2)
        if m is not None:
            got.add(m.seq)
    return got


def _rows_in_file(path: Path) -> int:
    conn = sqlite3.connect(str(path))
    try:
        return int(conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
    finally:
        conn.close()


@pytest.mark.broker
def test_a_full_disk_with_the_broker_down_drops_the_oldest_counted_and_loses_nothing_else(
        tmp_path: Path, tiny_disk: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backlog, "MAX_BYTES", 300_000)  # memory bound beyond the full disk: small, to reach it
    broker = MosquittoBroker(tmp_path / "broker").start()
    sub = DetectionSubscriber(BrokerSettings(port=broker.port), client_id="full-disk", persistent=True).open()
    broker.stop()
    spool = tiny_disk / "spool.sqlite"
    n = 1500  # ~4.4 MB of messages on a 2 MiB disk
    try:
        with caplog.at_level(logging.INFO, logger="edge_sdk.publish"), \
                open_test_publisher(publisher_settings(broker.port, spool)) as pub:
            for i in range(n):
                pub.publish_result(frame_result("cam0", i, n_dets=20))
            waiting = pub._writer.backlog
            assert wait_until(lambda: pub._writer.pending == len(waiting) and waiting._bytes <= waiting.max_bytes, 30)
            st = pub.stats()["spool"]  # at rest: all taken in, the oldest dropped down to the bounds
            assert st["queued"] == _rows_in_file(spool), "after a failed commit the counts come from the file"
            held = st["queued"] + st["waiting_in_memory"]
            assert st["dropped"] == st["dropped_disk_full"] == n - held > 0
            broker.start()  # space returns as the broker takes the messages
            got = _received(sub, held)
            assert pub.flush(30)
            final = pub.stats()["spool"]
    finally:
        sub.close()
        broker.stop()
    assert st["disk_full"] and got == set(range(n - held + 1, n + 1)), "the oldest were dropped, the rest arrived"
    assert final["queued"] == 0 and not final["disk_full"] and final["dropped"] == n - held
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "free on its file system, less than mqtt.spool.max_mb" in text, "the start says the spool does not fit"
    assert f"disk full: the spool {spool}" in text and "fix: free space on that file system" in text
    assert "cannot rollback" not in text and "space is back" in text


@pytest.mark.broker
def test_a_disk_filled_by_another_program_delays_messages_and_loses_none(tmp_path: Path, tiny_disk: Path) -> None:
    broker = MosquittoBroker(tmp_path / "broker").start()
    sub = DetectionSubscriber(BrokerSettings(port=broker.port), client_id="filled", persistent=True).open()
    try:
        with open_test_publisher(publisher_settings(broker.port, tiny_disk / "spool.sqlite")) as pub:
            stream = PacedStream(pub, cameras=("cam0",), fps=30).start()
            assert wait_until(lambda: stream.published["cam0"] > 30, 10)
            filler = fill(tiny_disk)
            assert os.statvfs(tiny_disk).f_bavail == 0
            t_full = stream.published["cam0"]
            assert wait_until(lambda: stream.published["cam0"] > t_full + 90, 20)  # 3 s of frames on a full disk
            filler.unlink()
            t_free = stream.published["cam0"]
            assert wait_until(lambda: stream.published["cam0"] > t_free + 30, 10)
            stream.stop()
            assert pub.flush(30)
            st = pub.stats()["spool"]
        n = stream.published["cam0"]
        got = _received(sub, n)
    finally:
        sub.close()
        broker.stop()
    assert got == set(range(1, n + 1)) and st["dropped"] == 0


def test_random_bytes_are_moved_aside_and_a_fresh_spool_opens(tmp_path: Path) -> None:
    path = tmp_path / "spool.sqlite"
    path.write_bytes(os.urandom(100_000))
    spool = Spool.open(path, max_bytes=1 << 20, max_age_s=3600)
    spool.append("t/x", b"after", 1, camera="cam0", seq=1)
    st = spool.stats()
    spool.close()
    damaged = list(tmp_path.glob("spool.sqlite.damaged-*"))
    assert len(damaged) == 1 and damaged[0].stat().st_size == 100_000
    assert st.queued == 1 and st.damaged is not None and st.damaged["salvaged"] == 0
    assert "not a database" in str(st.damaged["reason"])


def test_torn_pages_found_while_running_are_salvaged_into_a_fresh_spool(tmp_path: Path,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "spool.sqlite"
    spool = Spool.open(path, max_bytes=1 << 30, max_age_s=3600)
    for seq in range(1, 301):
        spool.append_many([SpoolEntry("edge/d/cam0/detections",
                                      json.dumps({"camera": "cam0", "seq": seq, "pad": "x" * 1500}).encode(), 1,
                                      False, "cam0", seq)])
    spool._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with open(path, "r+b") as f:  # three pages of the table torn, as a power cut on cheap flash can do
        for page in (40, 41, 90):
            f.seek(page * 4096)
            f.write(os.urandom(4096))
    spool._conn.execute("PRAGMA shrink_memory")  # the connection must read the pages from the file again
    with caplog.at_level(logging.ERROR):
        rows = spool.peek(0, 1000)
    ids = [r.id for r in rows]
    assert 250 <= len(rows) < 300 and ids == sorted(ids) and ids[0] == 1  # ids (and so order) kept
    assert spool.last_sequences() == {"cam0": 300}  # numbering continues above every message
    new_id = spool.append("edge/d/cam0/detections", b"{}", 1, camera="cam0", seq=301)
    assert new_id > 300 and spool.problem() is None
    assert "SPOOL DAMAGED" in caplog.text and "damaged-" in caplog.text
    assert spool.stats().damaged is not None
    spool.close()
