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


def _seqs_until(member: DetectionSubscriber, last: int, timeout: float) -> list[int]:
    """The seqs `member` receives until it has `last` (or `timeout` passed)."""
    got: list[int] = []
    deadline = time.monotonic() + timeout
    while last not in got and time.monotonic() < deadline:
        if (m := member.get(timeout=0.1)) is not None:
            got.append(m.seq)
    return got


def test_a_restarted_mosquitto_forgets_shared_subscriptions_until_members_resubscribe(
        broker: MosquittoBroker, tmp_path: Path) -> None:
    """What docs/fleet.md says of a central Mosquitto restart: the member's persistent session comes back, its
    `$share/...` subscription does not (Mosquitto 2.0.11), so a message published after the restart and before
    the member subscribes again reaches nobody; DetectionSubscriber subscribes again on every connect, so what is
    published after that arrives. (The fleet test therefore cuts the uplink, not the central broker.)"""
    member = DetectionSubscriber(BrokerSettings(port=broker.port), share_group="g", client_id="m0", persistent=True,
                                 max_reconnect_delay_s=1).open()
    try:
        member.close()  # away while the broker restarts and a message is published
        broker.stop()
        broker.start()
        with open_test_publisher(publisher_settings(broker.port, tmp_path / "d1.sqlite", device_id="d1")) as pub:
            pub.publish_result(frame_result("cam0", 0))
            assert pub.flush(20)  # the broker acknowledged seq 1 ...
            member = DetectionSubscriber(BrokerSettings(port=broker.port), share_group="g", client_id="m0",
                                         persistent=True, max_reconnect_delay_s=1).open()
            pub.publish_result(frame_result("cam0", 1))
            assert pub.flush(20)
            got = _seqs_until(member, 2, timeout=20)
        assert got == [2], "... and routed it to no one: the session came back without its shared subscription"
    finally:
        member.close()
