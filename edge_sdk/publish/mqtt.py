"""The MQTT publisher: detection messages into the spool on the caller's thread, out to the broker
from the sender thread (see sender.py). Open it with `open_publisher(cfg)`."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from edge_sdk.engines.base import EngineInfo
from edge_sdk.frame import FrameResult
from edge_sdk.publish.base import Publisher
from edge_sdk.publish.message import ModelRef, detections_message, detections_topic, encode, stats_message
from edge_sdk.publish.sender import SpoolSender
from edge_sdk.publish.settings import PublisherSettings
from edge_sdk.publish.spool import Spool

log = logging.getLogger(__name__)


class MqttPublisher(Publisher):
    """Publishes detection messages with per-camera sequence numbers through a disk spool.

    `publish_result` costs one JSON encode and one SQLite insert on the calling thread (tens of
    microseconds; see tools/bench_mqtt.py) and never waits for the network. Messages handed over
    survive a crash of the process; they are sent in order once the broker is reachable.
    """

    def __init__(self, settings: PublisherSettings, *, engine_info: EngineInfo | None = None,
                 label: Callable[[int], str] = str) -> None:
        self.settings = settings
        self._engine_info = engine_info
        self._label = label
        self._spool = Spool.open(settings.spool_path, max_bytes=settings.spool_max_bytes,
                                 max_age_s=settings.spool_max_age_s)
        self._seqs = self._spool.last_sequences()
        self._lock = threading.Lock()
        self._models: dict[int, tuple[EngineInfo, ModelRef]] = {}
        self._topics: dict[str, str] = {}
        self._closed = False
        self.spool_errors = 0
        self._next_error_log = 0.0
        self._sender = SpoolSender(settings, self._spool, self._stats_payload)

    # -- life cycle ----------------------------------------------------------------------------------
    def start(self, *, wait: bool = True) -> MqttPublisher:
        """Start the sender and wait (up to the connect timeout) for the first connection attempt.

        Raises PublishError when the broker refuses us for a reason retrying cannot fix (TLS trust,
        hostname, client certificate, credentials). An unreachable broker is not an error: messages
        are spooled and the sender keeps retrying. `wait=False` returns at once (no startup check)."""
        self._sender.start()
        if not wait:
            return self
        b = self.settings.broker
        self._sender.first_outcome.wait(b.connect_timeout_s + 1.0)
        failure = self._sender.first_failure
        if failure is not None and failure.fatal:
            self.close()
            raise failure.error(b)
        if not self._sender.connected:
            why = f"{failure.cause}: {failure.detail}" if failure else "no answer yet"
            log.warning("MQTT broker %s not reachable at startup (%s); detections are spooled to %s and sent "
                        "once it is; retrying with backoff up to %.0f s", b.url, why, self._spool.stats().path,
                        self.settings.reconnect_max_s)
        return self

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._sender.stop(self.settings.drain_timeout_s)
        left = len(self._spool)
        self._spool.close()
        if left:
            log.info("MQTT publisher closed; %d message(s) remain spooled for the next start", left)

    # -- publishing ----------------------------------------------------------------------------------
    def publish_result(self, result: FrameResult, engine_info: EngineInfo | None = None) -> None:
        if self._closed:
            raise RuntimeError("publish_result after close")
        model = self._model_ref(engine_info or self._engine_info)
        camera = result.frame.camera
        topic = self._topics.get(camera)
        if topic is None:
            topic = self._topics[camera] = detections_topic(self.settings.topic_prefix, self.settings.device_id, camera)
        with self._lock:
            seq = self._seqs.get(camera, 0) + 1
            self._seqs[camera] = seq
            payload = encode(detections_message(result, device_id=self.settings.device_id, seq=seq, model=model,
                                                label=self._label))
            try:
                self._spool.append(topic, payload, self.settings.qos, camera=camera, seq=seq)
            except sqlite3.Error as exc:  # disk full, I/O error: the frame is lost, consumers see the gap
                self.spool_errors += 1
                now = time.monotonic()
                if now >= self._next_error_log:
                    self._next_error_log = now + 10.0
                    log.error("cannot spool the detection message of %s seq %d (%s); it is lost (%d so far)",
                              camera, seq, exc, self.spool_errors)
                return
        self._sender.message_added()

    def publish_stats(self, figures: Mapping[str, Any]) -> None:
        if not self._closed:
            self._sender.post_stats(dict(figures))

    def flush(self, timeout: float) -> bool:
        """Wait until every spooled message has been acknowledged; False on timeout (tests, tools)."""
        deadline = time.monotonic() + timeout
        while len(self._spool) or self._sender.inflight:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    # -- figures -------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._sender.connected

    @property
    def first_attempt_done(self) -> bool:
        """Whether the first connection attempt has ended (connected or failed)."""
        return self._sender.first_outcome.is_set()

    @property
    def queued(self) -> int:
        """Messages in the spool, not yet acknowledged."""
        return len(self._spool)

    def stats(self) -> dict[str, Any]:
        """The publisher's own figures, as the stats topic carries them under `mqtt`."""
        spool = self._spool.stats().as_dict() if not self._closed else {}
        spool["replayed"] = self._sender.replayed
        spool["errors"] = self.spool_errors
        return {"connected": self._sender.connected, "broker": self.settings.broker.url,
                "client_id": self.settings.client_id, "qos": self.settings.qos, "sent": self._sender.sent,
                "rejected": self._sender.rejected, "reconnects": self._sender.reconnects,
                "last_error": self._sender.last_error, "spool": spool}

    def _stats_payload(self, figures: Any) -> bytes:
        return encode(stats_message(self.settings.device_id, figures, self.stats()))

    def _model_ref(self, info: EngineInfo | None) -> ModelRef:
        if info is None:
            raise ValueError("publish_result needs engine_info (give it here or to open_publisher)")
        cached = self._models.get(id(info))
        if cached is not None and cached[0] is info:
            return cached[1]
        ref = ModelRef(self.settings.model_name, info.model_sha256, info.precision, info.type)
        self._models[id(info)] = (info, ref)
        return ref
