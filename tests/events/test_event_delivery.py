"""Events go through the durable publisher: numbered per camera in their own stream, spooled while the broker
is down (a real Mosquitto, SIGKILLed and restarted), and every one arrives at a persistent subscriber."""

from __future__ import annotations

import time
from pathlib import Path

import jsonschema
import pytest

from edge_sdk.events.layer import EventLayer
from edge_sdk.events.subscriber import EventMessage, EventSubscriber
from edge_sdk.publish.settings import BrokerSettings
from tests.events.helpers import EVENT_SCHEMA, METADATA
from tests.publish.helpers import frame_result, open_test_publisher, publisher_settings, wait_until
from tests.support.broker import MosquittoBroker

pytestmark = [pytest.mark.broker]


def _layer(tmp_path: Path, pub: object) -> EventLayer:
    from edge_sdk.config.app import AppConfig

    cfg = AppConfig.model_validate({"device_id": "dev1", "state_dir": str(tmp_path / "state"),
                                    "sources": [{"name": "cam0", "uri": "file://x.mp4"}],
                                    "events": {"update_interval_s": 0.2, "tracker": {"track_buffer": 1}}})
    return EventLayer(cfg, METADATA, pub)  # type: ignore[arg-type]


def _frames(layer: EventLayer, start: int, n: int) -> None:
    """A person appearing every 10 frames and staying for 8 (new, updates and end events), at 20 fps."""
    for k in range(start, start + n):
        r = frame_result("cam0", k, n_dets=1 if k % 10 < 8 else 0)
        x = 100 * ((k // 10) % 5) + 3 * (k % 10)  # each visit somewhere else: a new person
        r.detections.boxes[:] = [[x, 100, x + 60, 260]]
        r.detections.class_ids[:] = 0
        r.frame.t_capture_wall = 1_700_000_000.0 + k / 20
        layer.on_result(r)
        time.sleep(0.01)


def test_events_published_while_the_broker_is_down_all_arrive(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "broker").start()
    sub = EventSubscriber(BrokerSettings(port=broker.port), devices=["dev1"], client_id="events-sub", persistent=True,
                          max_reconnect_delay_s=1).open()
    assert broker.wait_saved(), "the broker's autosave has the subscriber's session on disk"
    pub = open_test_publisher(publisher_settings(broker.port, tmp_path / "spool.sqlite"))
    layer = _layer(tmp_path, pub)
    got: list[EventMessage] = []

    def drain(expected: int, timeout: float) -> bool:
        def done() -> bool:
            while (m := sub.get(timeout=0.05)) is not None:
                got.append(m)
            return len(got) >= expected
        return wait_until(done, timeout)

    try:
        _frames(layer, 0, 40)
        assert drain(layer.counts.get("new", 0), 10)
        broker.kill()
        before = sum(layer.counts.values())
        _frames(layer, 40, 60)  # 3 s of events with no broker
        during = sum(layer.counts.values()) - before
        assert during >= 10 and pub.queued >= during
        broker.start()
        layer.close()
        total = sum(layer.counts.values())
        assert pub.flush(20)
        assert drain(total, 20), (len(got), total)
    finally:
        layer.close()
        pub.close()
        sub.close()
        broker.stop()
    seqs = sorted({m.seq for m in got})
    assert seqs == list(range(1, total + 1)), "every event exactly once after de-duplication, none missing"
    for m in got:
        jsonschema.validate(m.raw, EVENT_SCHEMA)
        assert m.topic == "edge/dev1/cam0/events"
    kinds = [m.event for m in sorted(got, key=lambda m: m.seq)]
    assert kinds.count("new") == kinds.count("end") == 10
