"""DetectionSubscriber(manual_ack=True): a message is acknowledged only when the consumer says so, so a consumer
that goes away before gets it again from its persistent session (a real Mosquitto); what it acknowledged never
comes back; messages its filter drops do not hold the others up."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.subscriber import DetectionSubscriber
from edge_sdk.publish.tracking import Verdict
from tests.publish.helpers import frame_result, open_test_publisher, publisher_settings
from tests.support.broker import MosquittoBroker

pytestmark = [pytest.mark.broker]


def _subscriber(port: int) -> DetectionSubscriber:
    # frame_result(cam, k, n_dets=1) detects class k % 3: every third frame has a car
    return DetectionSubscriber(BrokerSettings(port=port), client_id="acker", persistent=True, manual_ack=True,
                               classes=["car"]).open()


def _publish(port: int, spool: Path, frames: range) -> None:
    with open_test_publisher(publisher_settings(port, spool)) as pub:
        for k in frames:
            pub.publish_result(frame_result("cam0", k, n_dets=1))
        assert pub.flush(10)


def test_what_was_not_acknowledged_comes_again_and_what_was_never_does(broker: MosquittoBroker, tmp_path: Path) -> None:
    _subscriber(broker.port).close()  # the session exists: what is published next is kept for it
    _publish(broker.port, tmp_path / "s.sqlite", range(30))  # 10 cars among 30 frames

    sub = _subscriber(broker.port)
    first = [sub.get(timeout=10) for _ in range(4)]
    sub.close()  # gone without acknowledging: the broker keeps those 4 (and the rest)
    assert all(m is not None for m in first)

    sub = _subscriber(broker.port)
    again = [sub.get(timeout=10) for _ in range(10)]
    assert [m.message_id for m in again[:4]] == [m.message_id for m in first]  # the same messages, first
    assert [m.frame_id for m in again] == list(range(1, 30, 3)) and all(m.verdict is Verdict.NEW for m in again)
    sub.ack()
    sub.close()

    _publish(broker.port, tmp_path / "s.sqlite", range(30, 33))  # one more car: frame 31
    sub = _subscriber(broker.port)
    try:
        nxt = sub.get(timeout=10)
        assert nxt is not None and nxt.frame_id == 31, "acknowledged messages never come again"
    finally:
        sub.close()
