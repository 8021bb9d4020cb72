"""Shared subscriptions: N consumers split a fleet's messages, together exactly once (real Mosquitto)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from edge_sdk.cli.main import main
from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.subscriber import DetectionSubscriber, topic_filters
from tests.publish.helpers import frame_result, open_test_publisher, publisher_settings
from tests.support.broker import MosquittoBroker

pytestmark = pytest.mark.broker


def test_share_group_topics() -> None:
    assert topic_filters("+", None, ["cam0"], "workers") == ["$share/workers/+/+/cam0/detections"]
    with pytest.raises(ValueError, match="share group"):
        DetectionSubscriber(BrokerSettings(), share_group="a/b")
    with pytest.raises(ValueError, match="need MQTT 5"):
        DetectionSubscriber(BrokerSettings(protocol="3.1.1"), share_group="g")


def test_three_members_split_two_devices_with_no_gap_and_no_duplicate(broker: MosquittoBroker, tmp_path: Path) -> None:
    b = BrokerSettings(port=broker.port)
    members = [DetectionSubscriber(b, share_group="g", client_id=f"m{i}", persistent=True).open() for i in range(3)]
    try:
        for dev in ("d1", "d2"):
            with open_test_publisher(publisher_settings(broker.port, tmp_path / f"{dev}.sqlite", device_id=dev)) as pub:
                for i in range(60):
                    pub.publish_result(frame_result("cam0", i))
                assert pub.flush(20)
        got: list[list[tuple[str, int]]] = [[] for _ in members]
        deadline = time.monotonic() + 30
        while sum(map(len, got)) < 120 and time.monotonic() < deadline:
            for m, seen in zip(members, got):
                while (msg := m.get(timeout=0.01)) is not None:
                    seen.append((msg.device_id, msg.seq))
        union = Counter(x for seen in got for x in seen)
        assert set(union) == {(d, s) for d in ("d1", "d2") for s in range(1, 61)}
        assert max(union.values()) == 1, "a message went to two members"
        assert all(len(seen) >= 10 for seen in got), [len(s) for s in got]  # the broker really shares
        # each member's own tracker sees the others' messages as gaps, as documented
        assert sum(s.missing_count for m in members for s in m.tracker.streams.values()) > 0
    finally:
        for m in members:
            m.close()


def test_cli_share_needs_mqtt5_and_a_plain_group_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["subscribe", "--share", "g", "--protocol", "3.1.1", "--timeout", "1"]) == 2
    assert "--share needs MQTT 5" in capsys.readouterr().err
    assert main(["subscribe", "--share", "a+b", "--timeout", "1"]) == 2
    assert "share group 'a+b'" in capsys.readouterr().err
