"""A subscriber's network thread ends with its owner: `close()` (and leaving `with`) stops and joins paho's loop,
whatever that thread is doing then (reconnecting to a broker that went away, waiting on a full queue), so nothing
it does (a "connection lost" log line, a callback) happens after its owner is gone. Real Mosquitto."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.subscriber import DetectionSubscriber
from tests.publish.helpers import frame_result, open_test_publisher, publisher_settings
from tests.support.broker import MosquittoBroker

pytestmark = pytest.mark.broker


def _network_threads(client_id: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"paho-mqtt-client-{client_id}"]


def test_close_while_reconnecting_to_a_stopped_broker_ends_the_thread(broker: MosquittoBroker,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    sub = DetectionSubscriber(BrokerSettings(port=broker.port), client_id="lifetime-a", max_reconnect_delay_s=1).open()
    assert len(_network_threads("lifetime-a")) == 1
    with caplog.at_level(logging.INFO, logger="edge_sdk.publish.subscriber"):
        broker.stop()  # the thread notices, says so once and keeps trying
        deadline = time.monotonic() + 10
        while sub.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not sub.connected
        sub.close()
        assert _network_threads("lifetime-a") == [], "close() returned with the network thread still running"
    assert sum("connection to" in r.getMessage() for r in caplog.records) == 1


def test_leaving_with_while_the_thread_waits_on_a_full_queue_ends_it(broker: MosquittoBroker, tmp_path: Path) -> None:
    with DetectionSubscriber(BrokerSettings(port=broker.port), client_id="lifetime-b", max_queue=1) as sub:
        with open_test_publisher(publisher_settings(broker.port, tmp_path / "s.sqlite")) as pub:
            for i in range(5):
                pub.publish_result(frame_result("cam0", i))
            pub.flush(20)
        deadline = time.monotonic() + 10
        while sub._queue.qsize() < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sub._queue.full()  # the network thread now waits for room (the broker keeps the rest)
    assert _network_threads("lifetime-b") == []
