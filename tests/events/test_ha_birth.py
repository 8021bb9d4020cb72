"""Home Assistant's birth message makes the device send its discovery again (real Mosquitto): a broker that lost
its retained messages gets them back when Home Assistant comes online; a retained `online` and `offline` are not
births; the watcher's network thread ends with the layer."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_sdk.events.layer import EventLayer
from tests.events.helpers import METADATA
from tests.publish.helpers import open_test_publisher, publisher_settings
from tests.support.broker import MosquittoBroker

pytestmark = [pytest.mark.broker]


class Retained:
    """What a fresh subscriber to homeassistant/# sees: the retained discovery configs, and any later ones."""

    def __init__(self, port: int) -> None:
        self.topics: list[str] = []
        self._lock = threading.Lock()
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="ha-watch")
        self.c.on_connect = lambda cl, *_: cl.subscribe("homeassistant/+/+/+/config", qos=1)
        self.c.on_message = self._got
        self.c.connect("127.0.0.1", port)
        self.c.loop_start()

    def _got(self, _c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.topics.append(msg.topic)

    def count(self) -> int:
        with self._lock:
            return len(self.topics)

    def wait(self, n: int, timeout: float = 20) -> int:
        deadline = time.monotonic() + timeout
        while self.count() < n and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.count()

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _ha_publish(port: int, payload: bytes, retain: bool = False, topic: str = "homeassistant/status") -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="home-assistant")
    c.connect("127.0.0.1", port)
    c.loop_start()
    c.publish(topic, payload, qos=1, retain=retain).wait_for_publish(10)
    c.disconnect()
    c.loop_stop()


def _clear_retained(port: int, topics: list[str]) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="cleaner")
    c.connect("127.0.0.1", port)
    c.loop_start()
    for t in topics:
        c.publish(t, b"", qos=1, retain=True).wait_for_publish(10)
    c.disconnect()
    c.loop_stop()


def _wait(predicate: object, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_discovery_is_sent_again_when_home_assistant_comes_online(tmp_path: Path, broker: MosquittoBroker,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.events import homeassistant

    sent: set[str] = set()  # every discovery topic the layer publishes (what a subscriber must find retained)
    original = homeassistant.discovery_messages

    def recording(**kwargs: Any) -> list[tuple[str, Any]]:
        messages = list(original(**kwargs))
        sent.update(topic for topic, _ in messages)
        return messages

    monkeypatch.setattr(homeassistant, "discovery_messages", recording)

    cfg = AppConfig.model_validate({"device_id": "dev1", "state_dir": str(tmp_path / "state"),
                                    "sources": [{"name": "cam0", "uri": "file://x.mp4"}],
                                    "mqtt": {"host": "127.0.0.1", "port": broker.port},
                                    "events": {}, "homeassistant": {"enabled": True}})
    pub = open_test_publisher(publisher_settings(broker.port, tmp_path / "spool.sqlite"))
    try:
        with EventLayer(cfg, METADATA, pub) as layer:
            watcher = layer.birth_watcher
            assert watcher is not None and watcher.subscribed.wait(20)
            assert pub.flush(20)  # the discovery sent at start is on the broker, retained
            configs = sorted(sent)
            assert configs, "no discovery was sent at start"
            first = Retained(broker.port)  # all of them retained (a wait for the first one alone raced the rest)
            assert first.wait(len(configs)) >= len(configs) and sorted(set(first.topics)) == configs
            first.close()
            # The broker loses its retained messages: Home Assistant, restarting now, would find no entity ...
            _clear_retained(broker.port, configs)
            gone = Retained(broker.port)
            _ha_publish(broker.port, b"offline")  # Home Assistant's will: not a birth
            _ha_publish(broker.port, b"online")  # ... it comes online: its birth, delivered after the will
            assert _wait(lambda: watcher.births + watcher.ignored == 2), "the will and the birth did not arrive"
            assert (watcher.births, watcher.ignored) == (1, 1), "the will (offline) was taken for a birth"
            assert pub.flush(20)
            assert gone.wait(len(configs)) == len(configs) and sorted(set(gone.topics)) == configs
            gone.close()
            again = Retained(broker.port)  # retained again: a Home Assistant that subscribes later sees them
            assert again.wait(len(configs)) == len(configs)
            again.close()
        assert [t for t in threading.enumerate() if t.name == "paho-mqtt-client-edge-sdk-dev1-ha"] == [], \
            "the watcher's network thread outlived the layer"
    finally:
        pub.close()


def test_a_retained_online_is_not_a_birth(broker: MosquittoBroker) -> None:
    """Home Assistant may be set to retain its birth: every (re)subscribe then gets `online` again, which is not
    Home Assistant coming online (the daemon sent its discovery at start)."""
    from edge_sdk.events.ha_birth import BirthWatcher
    from edge_sdk.publish.settings import BrokerSettings

    _ha_publish(broker.port, b"online", retain=True)
    births: list[int] = []
    watcher = BirthWatcher(BrokerSettings(port=broker.port), "homeassistant/status", "w", lambda: births.append(1))
    watcher.start()
    try:
        assert watcher.subscribed.wait(20)
        _ha_publish(broker.port, b"online")  # a live birth after the retained copy (same topic: in order)
        assert _wait(lambda: watcher.births + watcher.ignored == 2)  # the retained copy, then the live one
        assert births == [1] and (watcher.births, watcher.ignored) == (1, 1)
    finally:
        watcher.close()
