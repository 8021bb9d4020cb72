"""The MQTT publisher against a real Mosquitto: delivery, protocols and QoS, availability, stats, and an
unreachable broker at startup."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import jsonschema
import pytest

from edge_sdk.publish.message import load_schema
from edge_sdk.publish.mqtt import MqttPublisher
from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.subscriber import DetectionSubscriber
from tests.publish.conftest import retained
from tests.publish.helpers import ENGINE, frame_result, open_test_publisher, publisher_settings, wait_until
from tests.support.broker import MosquittoBroker

pytestmark = pytest.mark.broker


def _drain(sub: DetectionSubscriber, expected: int, timeout: float = 10.0) -> list:  # type: ignore[type-arg]
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < expected and time.monotonic() < deadline:
        msg = sub.get(timeout=0.1)
        if msg is not None:
            out.append(msg)
    return out


def test_every_frame_arrives_in_order_with_status_and_stats(broker: MosquittoBroker, tmp_path: Path,
                                                            collector_factory) -> None:  # type: ignore[no-untyped-def]
    stats = collector_factory(broker.port, "edge/dev1/stats")
    with DetectionSubscriber(BrokerSettings(port=broker.port), devices=["dev1"]) as sub:
        pub = open_test_publisher(publisher_settings(broker.port, tmp_path / "spool.sqlite"))
        with pub:
            assert pub.connected
            assert retained(broker.port, "edge/dev1/status") == b"online"
            for i in range(40):
                for cam in ("cam0", "cam1"):
                    pub.publish_result(frame_result(cam, i, n_dets=i % 4))  # also frames with no detection
            pub.publish_stats({"results": 80, "stages": {"infer": {"fps": 30.0}}})
            assert pub.flush(10)
            msgs = _drain(sub, 80)
            assert wait_until(lambda: stats.json(), 5)
        assert retained(broker.port, "edge/dev1/status") == b"offline"  # clean shutdown says offline
    detection_schema = jsonschema.Draft202012Validator(load_schema("detection"))
    for m in msgs:
        detection_schema.validate(m.raw)
    for cam in ("cam0", "cam1"):
        got = [(m.frame_id, m.seq) for m in msgs if m.camera == cam]
        assert got == [(i, i + 1) for i in range(40)]
    assert sum(len(m.detections) for m in msgs) == 2 * sum(i % 4 for i in range(40))
    s = stats.json()[0]
    jsonschema.validate(s, load_schema("stats"))
    assert s["results"] == 80 and s["mqtt"]["connected"] is True and s["mqtt"]["spool"]["dropped"] == 0
    assert sub.tracker.summary()["dev1/cam0"]["missing"] == 0


@pytest.mark.parametrize(("protocol", "qos"), [("3.1.1", 1), ("5", 0), ("5", 2), ("3.1.1", 2)])
def test_protocols_and_qos_levels(broker: MosquittoBroker, tmp_path: Path, protocol: str, qos: int) -> None:
    b = BrokerSettings(port=broker.port, protocol=protocol)  # type: ignore[arg-type]
    settings = publisher_settings(broker.port, tmp_path / "s.sqlite", broker=b, qos=qos)
    with DetectionSubscriber(b, qos=qos) as sub, open_test_publisher(settings) as pub:
        for i in range(30):
            pub.publish_result(frame_result("cam0", i))
        assert pub.flush(10)
        msgs = _drain(sub, 30)
    assert [m.frame_id for m in msgs] == list(range(30))
    assert all(m.raw["seq"] == m.frame_id + 1 for m in msgs)


def test_grouped_messages_are_stored_and_sent_together(broker: MosquittoBroker, tmp_path: Path) -> None:
    """mqtt.batch_ms: results handed over within one group are committed in one spool transaction and all
    arrive, in order; flush and close do not wait out a group (here 60 s, far above the test's timeouts)."""
    with DetectionSubscriber(BrokerSettings(port=broker.port)) as sub:
        pub = open_test_publisher(publisher_settings(broker.port, tmp_path / "s.sqlite", batch_s=1.0))
        with pub:
            for i in range(20):
                pub.publish_result(frame_result("cam0", i))
            msgs = _drain(sub, 20)
            assert [m.frame_id for m in msgs] == list(range(20))
            assert [m.seq for m in msgs] == list(range(1, 21))
            assert pub.stats()["spool"]["writes"] == 1  # one group, one transaction
        late = open_test_publisher(publisher_settings(broker.port, tmp_path / "s.sqlite", batch_s=60.0))
        with late:
            for i in range(20, 25):
                late.publish_result(frame_result("cam0", i))
            assert late.flush(10)  # hurries the open group instead of waiting 60 s
            late.publish_result(frame_result("cam0", 25))
        # ... and close committed the last one at once: it is in the spool or already delivered
        msgs = _drain(sub, 6)
    assert [m.frame_id for m in msgs] == list(range(20, 26))
    assert [m.seq for m in msgs] == list(range(21, 27))


def test_sequence_numbers_continue_upward_after_a_restart(broker: MosquittoBroker, tmp_path: Path) -> None:
    spool = tmp_path / "s.sqlite"
    with DetectionSubscriber(BrokerSettings(port=broker.port)) as sub:
        for _run in range(2):
            with open_test_publisher(publisher_settings(broker.port, spool)) as pub:
                for i in range(5):
                    pub.publish_result(frame_result("cam0", i))  # frame ids restart with the daemon...
                assert pub.flush(10)
        msgs = _drain(sub, 10)
    assert [m.frame_id for m in msgs] == [0, 1, 2, 3, 4] * 2
    assert [m.seq for m in msgs] == list(range(1, 11))  # ...sequence numbers do not
    assert sub.tracker.summary()["dev1/cam0"]["duplicates"] == 0


def test_unreachable_broker_at_startup_is_not_fatal(tmp_path: Path) -> None:
    """The daemon starts without its broker, spools, and delivers once the broker is up. The subscriber's
    persistent session exists before (the broker saved it when it was stopped cleanly)."""
    broker = MosquittoBroker(tmp_path / "broker").start()
    sub = DetectionSubscriber(BrokerSettings(port=broker.port), client_id="late-sub", persistent=True,
                              max_reconnect_delay_s=1).open()
    try:
        broker.stop()
        pub = open_test_publisher(publisher_settings(broker.port, tmp_path / "s.sqlite"))  # must not raise
        with pub:
            assert not pub.connected
            for i in range(25):
                pub.publish_result(frame_result("cam0", i))
            assert pub.queued == 25
            broker.start()
            assert pub.flush(15)
            msgs = _drain(sub, 25, timeout=15)
            assert pub.stats()["spool"]["replayed"] == 25
    finally:
        sub.close()
        broker.stop()
    assert [m.frame_id for m in msgs] == list(range(25))


def test_publish_result_does_not_wait_for_the_network(tmp_path: Path) -> None:
    """A 'broker' that accepts TCP but never answers CONNECT keeps the sender connecting for 30 s; meanwhile
    every publish_result has returned and its message was committed to the spool."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        settings = publisher_settings(port, tmp_path / "s.sqlite", drain_timeout_s=0.5,
                                      broker=BrokerSettings(port=port, connect_timeout_s=30.0))
        with MqttPublisher(settings, engine_info=ENGINE).start(wait=False) as pub:
            for i in range(100):
                pub.publish_result(frame_result("cam0", i))
            assert pub.wait_spooled(10)
            assert pub.queued == 100 and not pub.connected and not pub.first_attempt_done


def test_last_will_says_offline_when_the_publisher_process_dies(broker: MosquittoBroker, tmp_path: Path,
                                                                publisher_process) -> None:  # type: ignore[no-untyped-def]
    proc = publisher_process("--port", str(broker.port), "--spool", str(tmp_path / "s.sqlite"))
    assert proc.wait_for(lambda p: len(p.published) >= 5, 15), proc.stderr()
    assert retained(broker.port, "edge/dev1/status") == b"online"
    proc.kill()
    assert wait_until(lambda: retained(broker.port, "edge/dev1/status", timeout=0.5) == b"offline", 10)
