"""Spool bounds: with the broker down longer than the budget allows, the oldest messages are dropped, the
newest delivered, and the drop count reported on the stats topic."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.subscriber import DetectionMessage, DetectionSubscriber
from tests.publish.helpers import frame_result, open_test_publisher, publisher_settings, wait_until
from tests.support.broker import MosquittoBroker

pytestmark = pytest.mark.broker


def _collect(sub: DetectionSubscriber, until_frame: int, timeout: float = 15) -> list[DetectionMessage]:
    out: list[DetectionMessage] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (not out or out[-1].frame_id != until_frame):
        msg = sub.get(timeout=0.2)
        if msg is not None:
            out.append(msg)
    return out


def _stats_with_drops(collector, dropped: int) -> dict | None:  # type: ignore[no-untyped-def, type-arg]
    return next((s for s in collector.json() if s["mqtt"]["spool"]["dropped"] == dropped), None)


def test_size_bound_drops_the_oldest_and_reports_it(tmp_path: Path, collector_factory) -> None:  # type: ignore[no-untyped-def]
    broker = MosquittoBroker(tmp_path / "broker").start()
    stats = collector_factory(broker.port, "edge/dev1/stats")
    sub = DetectionSubscriber(BrokerSettings(port=broker.port), client_id="limits-sub", persistent=True,
                              max_reconnect_delay_s=1).open()
    settings = publisher_settings(broker.port, tmp_path / "s.sqlite", spool_max_bytes=40_000)
    try:
        with open_test_publisher(settings) as pub:
            for i in range(10):
                pub.publish_result(frame_result("cam0", i))
            assert pub.flush(10)
            broker.stop()  # a clean stop: the broker saves the subscriber's session
            for i in range(10, 210):
                pub.publish_result(frame_result("cam0", i))
            assert pub.wait_spooled(10)
            st = pub.stats()["spool"]
            kept, dropped = st["queued"], st["dropped"]
            assert st["queued_bytes"] <= 40_000 and dropped > 100 and kept + dropped == 200
            pub.publish_stats({"results": 210})  # waits for the broker: only the newest stats are kept
            broker.start()
            assert pub.flush(15)
            received = _collect(sub, 209)
            assert wait_until(lambda: _stats_with_drops(stats, dropped) is not None, 10), stats.json()
            assert pub.stats()["spool"]["replayed"] == kept
    finally:
        sub.close()
        broker.stop()
    frames = [m.frame_id for m in received]
    assert frames == list(range(10)) + list(range(210 - kept, 210))  # the newest survived, in order
    report = _stats_with_drops(stats, dropped)
    assert report is not None and report["results"] == 210 and report["mqtt"]["spool"]["dropped_total"] == dropped
    # The subscriber sees the drop as a gap of exactly that many sequence numbers.
    assert sub.tracker.summary()["dev1/cam0"]["missing"] == dropped


def test_age_bound_drops_expired_messages(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "broker").start()
    sub = DetectionSubscriber(BrokerSettings(port=broker.port), client_id="age-sub", persistent=True,
                              max_reconnect_delay_s=1).open()
    # The fresh messages have max_age to reach the broker after it is back: generous, for a busy host.
    settings = publisher_settings(broker.port, tmp_path / "s.sqlite", spool_max_age_s=6.0)
    try:
        with open_test_publisher(settings) as pub:
            broker.stop()
            for i in range(20):
                pub.publish_result(frame_result("cam0", i))
            time.sleep(6.5)  # older than max_age: expired, whatever the load (time only grows)
            for i in range(20, 30):
                pub.publish_result(frame_result("cam0", i))
            broker.start()
            assert pub.flush(15)
            received = _collect(sub, 29)
            assert pub.stats()["spool"]["dropped"] == 20
    finally:
        sub.close()
        broker.stop()
    assert [m.frame_id for m in received] == list(range(20, 30))
