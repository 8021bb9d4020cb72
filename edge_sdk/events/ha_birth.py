"""Home Assistant's birth message: discovery is sent again each time Home Assistant comes online.

Home Assistant's MQTT integration publishes its birth message, `online` on `<discovery_prefix>/status` (QoS 0,
not retained, by default), when it (re)connects to the broker, and its documentation asks devices to send their
discovery configs again then: a broker that lost its retained messages (no persistence, a new broker, retained
messages cleared) would otherwise leave Home Assistant with no edge-sdk entities until the daemon restarts.

    watcher = BirthWatcher(broker, "homeassistant/status", "edge-sdk-box-1-ha", on_birth=layer.send_discovery)
    watcher.start(); ...; watcher.close()

The watcher owns one MQTT client (a clean session: a birth missed while disconnected is not worth replaying, the
discovery sent at start already covers that time). A retained `online` (Home Assistant configured to retain its
birth) arrives on every subscribe and is not a new birth: ignored, the daemon sent its discovery at start. Anything
else than `online` (`offline`, Home Assistant's will) is ignored too. `on_birth` runs on the client's network thread
(it only hands messages to the publisher's queue); an exception in it is logged, never fatal. `close()` stops and
joins the network thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from edge_sdk.publish.settings import BrokerSettings

log = logging.getLogger(__name__)

BIRTH_PAYLOAD = b"online"


class BirthWatcher:
    def __init__(self, broker: BrokerSettings, topic: str, client_id: str, on_birth: Callable[[], None]) -> None:
        self.broker = broker
        self.topic = topic
        self.client_id = client_id
        self.on_birth = on_birth
        self.births = 0  # births answered
        self.ignored = 0  # other messages on the topic: retained copies, `offline`
        self.subscribed = threading.Event()  # set once the broker acknowledged the subscription (each connection)
        self._client: Any = None

    def start(self) -> BirthWatcher:
        from edge_sdk.publish.connection import connect_args, make_client

        client = make_client(self.broker, self.client_id, persistent=False, reconnect=True)
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_a: self.subscribed.set()
        client.on_message = self._on_message
        client.connect_async(**connect_args(self.broker, persistent=False))  # a broker down now: paho retries
        client.loop_start()
        self._client = client
        return self

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.disconnect()
            client.loop_stop()

    # -- paho's network thread ------------------------------------------------------------------------
    def _on_connect(self, client: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            log.warning("Home Assistant birth watcher: broker %s refused the connection (%s)", self.broker.url, reason)
            return
        self.subscribed.clear()
        client.subscribe(self.topic, qos=1)

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        if msg.retain or bytes(msg.payload).strip() != BIRTH_PAYLOAD:
            self.ignored += 1
            return
        try:
            self.on_birth()
        except Exception:  # the network thread goes on: the next birth tries again
            log.exception("Home Assistant came online, and sending the discovery again failed")
            return
        self.births += 1
