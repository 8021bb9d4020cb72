"""The publisher process killed (SIGKILL) and restarted while the broker is down: what the first process
had spooled is delivered by the second once both are back, before the second one's own messages, and
sequence numbers continue upward across the restart."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.subscriber import DetectionMessage, DetectionSubscriber
from tests.publish.helpers import wait_until
from tests.support.broker import MosquittoBroker

pytestmark = pytest.mark.broker


def test_spool_written_before_a_kill_is_sent_after_the_restart(tmp_path: Path, publisher_process) -> None:  # type: ignore[no-untyped-def]
    spool = tmp_path / "state" / "spool.sqlite"
    broker = MosquittoBroker(tmp_path / "broker").start()
    sub = DetectionSubscriber(BrokerSettings(port=broker.port), client_id="restart-sub", persistent=True,
                              max_reconnect_delay_s=1).open()
    assert broker.wait_saved(), "the broker saved the subscriber's session"
    try:
        first = publisher_process("--port", str(broker.port), "--spool", str(spool))
        assert first.wait_for(lambda p: len(p.published) >= 30, 20), first.stderr()
        assert wait_until(lambda: (s := sub.tracker.streams.get(("dev1", "cam0"))) is not None and s.last_seq >= 30, 10)
        broker.kill()
        n_before = len(first.published)
        assert first.wait_for(lambda p: len(p.published) >= n_before + 45, 20)
        first.kill()  # SIGKILL while the broker is down: no clean shutdown, no flush
        reported = [f for _cam, f in first.published]
        with sqlite3.connect(spool) as db:  # what the dead process left on disk
            left = db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
            last_seq = db.execute("SELECT last FROM sequences WHERE camera='cam0'").fetchone()[0]
        assert left >= 45 and last_seq >= len(reported)

        second = publisher_process("--port", str(broker.port), "--spool", str(spool), "--frames", "60",
                                   "--first-frame", "10000")
        assert second.wait_for(lambda p: len(p.published) >= 15, 20), second.stderr()  # spooling, broker down
        broker.start()
        assert second.wait_for(lambda p: "closed" in p.lines, 30), second.stderr()  # drained and said offline
        received: list[DetectionMessage] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (not received or received[-1].frame_id != 10059):
            msg = sub.get(timeout=0.2)
            if msg is not None:
                received.append(msg)
    finally:
        sub.close()
        broker.stop()

    frames = [m.frame_id for m in received]
    first_run = [f for f in frames if f < 10000]
    second_run = [f for f in frames if f >= 10000]
    # Everything the first process reported as published arrived (a frame committed in the instant
    # between the spool write and the print may come on top), in order, before the second run's.
    assert first_run[: len(reported)] == reported
    assert first_run == list(range(len(first_run))) and len(first_run) == last_seq
    assert second_run == list(range(10000, 10060))
    assert frames == first_run + second_run
    assert [m.seq for m in received] == list(range(1, last_seq + 61))  # seq continues upward, no gap
    assert sub.tracker.summary()["dev1/cam0"]["missing"] == 0
