"""The MQTT publisher: results handed over on the caller's thread, written to the spool by the writer
thread (writer.py), sent to the broker by the sender thread (sender.py). Open it with `open_publisher(cfg)`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from edge_sdk.engines.base import EngineInfo
from edge_sdk.frame import FrameResult
from edge_sdk.publish.base import Publisher
from edge_sdk.publish.message import (
    ModelRef,
    ResultSnapshot,
    camera_status_message,
    camera_status_topic,
    detections_message,
    detections_topic,
    encode,
    stats_message,
)
from edge_sdk.publish.sender import SpoolSender
from edge_sdk.publish.settings import PublisherSettings
from edge_sdk.publish.spool import Spool
from edge_sdk.publish.writer import PendingMessage, PendingResult, SpoolWriter
from edge_sdk.sources.status import CameraStatus

log = logging.getLogger(__name__)


class MqttPublisher(Publisher):
    """Publishes detection messages with per-camera sequence numbers through a disk spool.

    `publish_result` copies what the message needs (a few short lists) and queues it: microseconds on
    the calling thread, no disk, no network (see tools/bench_mqtt.py). The writer thread numbers,
    encodes and commits it to the spool within milliseconds; from then on it survives a crash of the
    process and is sent, in order, whenever the broker is reachable.
    """

    def __init__(self, settings: PublisherSettings, *, engine_info: EngineInfo | None = None,
                 label: Callable[[int], str] = str) -> None:
        self.settings = settings
        self._engine_info = engine_info
        self._label = label
        self._spool = Spool.open(settings.spool_path, max_bytes=settings.spool_max_bytes,
                                 max_age_s=settings.spool_max_age_s)
        self._models: dict[int, tuple[EngineInfo, ModelRef]] = {}
        self._topics: dict[str, str] = {}
        self._closed = False
        self._sender = SpoolSender(settings, self._spool, self._stats_payload)
        self._writer = SpoolWriter(self._spool, settings.qos, self._encode, self._sender.message_added,
                                   batch_s=settings.batch_s)

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
        self._writer.stop()  # everything handed over is committed before the sender drains
        self._sender.stop(self.settings.drain_timeout_s)
        left = len(self._spool)
        self._spool.close()
        if left:
            log.info("MQTT publisher closed; %d message(s) remain spooled for the next start", left)

    # -- publishing ----------------------------------------------------------------------------------
    def publish_result(self, result: FrameResult, engine_info: EngineInfo | None = None,
                       label: Callable[[int], str] | None = None, model_name: str | None = None) -> None:
        if self._closed:
            raise RuntimeError("publish_result after close")
        ref = self._model_ref(engine_info or self._engine_info, model_name or self.settings.model_name)
        self._writer.put(PendingResult(ResultSnapshot.of(result), ref, label or self._label))

    def publish_message(self, topic: str, build: Callable[[int | None], bytes], *, stream: str | None = None,
                        retain: bool = False) -> None:
        """Queue any other message (events, retained state) through the same spool, QoS and sender as the
        detections: microseconds here, committed by the writer thread, never lost while the broker is down.
        `build(seq)` makes the payload on the writer thread, with the next number of `stream` (None: not
        numbered). The topic is used as given (see `topic`)."""
        if self._closed:
            raise RuntimeError("publish_message after close")
        self._writer.put(PendingMessage(topic, build, stream, retain))

    def topic(self, *parts: str) -> str:
        """`<prefix>/<device_id>/<parts...>`: where this publisher's messages go."""
        return "/".join((self.settings.topic_prefix, self.settings.device_id, *parts))

    def _encode(self, item: PendingResult, seq: int) -> tuple[str, bytes]:
        """On the writer thread: the topic and JSON of one result numbered `seq`."""
        camera = item.snapshot.camera
        topic = self._topics.get(camera)
        if topic is None:
            topic = self._topics[camera] = detections_topic(self.settings.topic_prefix, self.settings.device_id, camera)
        return topic, encode(detections_message(item.snapshot, device_id=self.settings.device_id, seq=seq,
                                                model=item.model, label=item.label))

    def publish_stats(self, figures: Mapping[str, Any]) -> None:
        if not self._closed:
            self._sender.post_stats(dict(figures))

    def publish_camera_status(self, status: CameraStatus) -> None:
        if not self._closed:
            s = self.settings
            self._sender.post_state(camera_status_topic(s.topic_prefix, s.device_id, status.camera),
                                    encode(camera_status_message(s.device_id, status)))

    def wait_spooled(self, timeout: float) -> bool:
        """Wait until every result handed over so far is committed to the spool; False on timeout."""
        return self._writer.wait_committed(timeout)

    def flush(self, timeout: float) -> bool:
        """Wait until every message handed over has been acknowledged by the broker; False on timeout."""
        deadline = time.monotonic() + timeout
        if not self._writer.wait_committed(timeout):
            return False
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
        """Messages handed over and not yet acknowledged (in the spool, or about to be written to it)."""
        return len(self._spool) + self._writer.pending

    def stats(self) -> dict[str, Any]:
        """The publisher's own figures, as the stats topic carries them under `mqtt`."""
        backlog = self._writer.backlog
        spool: dict[str, object] = {}
        if not self._closed:
            st = self._spool.stats()
            spool = st.as_dict()
            spool["dropped"] = st.dropped + backlog.dropped  # the oldest, dropped from memory on a full disk too
            spool["dropped_disk_full"] = st.dropped_disk_full + backlog.dropped
        spool["replayed"] = self._sender.replayed
        spool["errors"] = self._writer.errors + backlog.errors
        spool["writes"] = self._writer.commits
        spool["disk_full"] = backlog.disk_full
        spool["waiting_in_memory"] = len(backlog)  # numbered messages the full disk keeps out of the spool
        return {"connected": self._sender.connected, "broker": self.settings.broker.url,
                "client_id": self.settings.client_id, "qos": self.settings.qos, "sent": self._sender.sent,
                "rejected": self._sender.rejected, "reconnects": self._sender.reconnects,
                "last_error": self._sender.last_error, "spool": spool}

    def problem(self) -> str | None:
        """The spool cannot be written at all (damaged beyond a fresh start, or failing writes): the service is
        unhealthy (its watchdog stops). A full disk is not a problem: the oldest messages are dropped, counted."""
        return self._spool.problem() or self._writer.backlog.problem()

    def _stats_payload(self, figures: Any) -> bytes:
        return encode(stats_message(self.settings.device_id, figures, self.stats()))

    def _model_ref(self, info: EngineInfo | None, name: str) -> ModelRef:
        if info is None:
            raise ValueError("publish_result needs engine_info (give it here or to open_publisher)")
        cached = self._models.get(id(info))
        if cached is not None and cached[0] is info and cached[1].name == name:
            return cached[1]
        ref = ModelRef(name, info.model_sha256, info.precision, info.type)
        self._models[id(info)] = (info, ref)
        return ref
