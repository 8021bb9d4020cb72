"""Subscribing to detections: the SDK side for consumers (`edge-sdk subscribe`, apps/).

    broker = BrokerSettings(host="127.0.0.1", port=1883)
    with DetectionSubscriber(broker, cameras=["cam0"], classes=["person"]) as sub:
        while (msg := sub.get(timeout=5.0)) is not None:
            print(msg.camera, msg.seq, [(d.label, d.score) for d in msg.detections])
    print(sub.tracker.summary_lines())

- Filters: `devices`, `cameras` (topic filters; None = all) and `classes` (names or ids: a message is
  delivered only if one of its detections matches, and carries only the matching ones).
- Every message is tracked per (device, camera) by sequence number (gaps, duplicates, late arrivals),
  also those a class filter hides; duplicates are not delivered unless `drop_duplicates=False` (or `manual_ack`).
- `persistent=True` with a fixed `client_id` and QoS 1 keeps a session on the broker: messages
  published while this subscriber is away are delivered when it comes back (within the session expiry).
- The first connection is checked: an unreachable broker, TLS trust or refused credentials raise
  `PublishError`. After that, paho reconnects by itself (and we subscribe again on every connect).

A message is acknowledged to the broker once it is parsed and queued here, unless `manual_ack=True`: then
the consumer acknowledges with `ack()` once what it did with the messages `get` returned is safe (written to
disk, say), and a consumer that crashes before gets them again from its persistent session (at least once:
it must recognise those it had already stored, e.g. by (device, camera, seq); apps/line_counter.py does).
Acknowledgements go out in the order the messages came (MQTT 4.6); messages the filters drop are acknowledged
at once. Duplicates are delivered too (`verdict` DUPLICATE; skip them): a copy redelivered after a reconnect
is then acknowledged only after the first copy, which came before it. The broker stops sending after its
in-flight limit of unacknowledged messages (Mosquitto's max_inflight_messages, 20 by default): acknowledge
at least that often.

At most `max_queue` messages wait for `get`; beyond that the network thread waits (and the broker keeps the
rest) instead of memory growing.

Anyone who can publish to the broker can send anything: every message goes through one guard (guard.py):
parsed with bounds (size, depth, no NaN/Infinity, typed and ranged fields), its device and camera checked
against its topic, then tracked (tracking.py: a far-off seq starts a new epoch instead of silencing the real
stream; streams, epochs and gaps are bounded). A bad message is counted (`invalid`, `rejections.by_source`)
and logged once per source, never fatal: with a persistent session the broker redelivers it, and it is
rejected again, quietly.

Shared subscriptions (MQTT 5, `share_group="g"`: topics `$share/g/<prefix>/<device>/<camera>/detections`):
N consumer processes with the same group split the messages between them; the broker gives each message to
one member of the group. What a member sees, and what it does not:
- A subset of every device's stream (Mosquitto deals messages round-robin; EMQX can stick a device to one
  member with its `hash_topic` strategy). Its own tracker therefore counts the other members' messages as
  gaps: per member, `missing` means "went to someone else", not "lost". No gaps and no duplicates per device
  are a property of the group: the union of the (device, camera, seq) the members received.
- Duplicates it receives itself are dropped as usual. A message that was in flight to a member when that
  member's connection dropped may be redelivered to it when it comes back (persistent session) or, by the
  broker's choice, to another member (MQTT 5, 4.8.2): the second copy is a duplicate the group must drop by
  message_id or (device, camera, seq) across members; one member alone cannot see it.
- Use a fixed `client_id` per member with `persistent=True`, so a member that restarts gets the messages the
  broker kept for it.
- A restarted Mosquitto (2.0.11) brings the member's session back without its `$share/...` subscription: what
  arrives before the member has connected and subscribed again (done on every connect) goes to no one. See
  docs/fleet.md ("A restart of a central Mosquitto").
"""

from __future__ import annotations

import collections
import logging
import queue
import threading
import time
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, TypeVar

from edge_sdk.publish.connection import (
    ConnectFailure,
    connect_args,
    explain_closed,
    explain_connack,
    explain_exception,
    make_client,
)
from edge_sdk.publish.guard import (
    MAX_SEQ,
    InvalidMessage,
    Rejections,
    check_envelope,
    check_schema_version,
    field_dict,
    field_float,
    field_int,
    field_list,
    field_str,
    load_json,
)
from edge_sdk.publish.message import SCHEMA_VERSION
from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.tracking import SequenceTracker, Verdict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Detection:
    class_id: int
    label: str
    score: float
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of the original frame
    box_norm: tuple[float, float, float, float]  # the same in 0..1


@dataclass(frozen=True)
class DetectionMessage:
    topic: str
    device_id: str
    camera: str
    frame_id: int
    seq: int
    message_id: str
    capture_time: float
    publish_time: float
    width: int
    height: int
    model: dict[str, Any]
    detections: tuple[Detection, ...]
    raw: dict[str, Any]
    received_time: float
    verdict: Verdict = Verdict.NEW

    @classmethod
    def parse(cls, topic: str, payload: bytes, received_time: float | None = None) -> DetectionMessage:
        """Parse and check a detection message (guard.py); `InvalidMessage` (a ValueError) if it is not one."""
        raw = load_json(payload)
        if raw.get("type") != "detections":
            raise InvalidMessage(f"not a detection message (type {raw.get('type')!r:.40})")
        check_schema_version(raw, SCHEMA_VERSION)
        image = field_dict(raw, "image")
        dets = tuple(_detection(d) for d in field_list(raw, "detections", MAX_DETECTIONS))
        return cls(topic=topic, device_id=field_str(raw, "device_id", 64), camera=field_str(raw, "camera", 64),
                   frame_id=field_int(raw, "frame_id", 0, MAX_SEQ), seq=field_int(raw, "seq", 1, MAX_SEQ),
                   message_id=field_str(raw, "message_id", 128), capture_time=field_float(raw, "capture_time"),
                   publish_time=field_float(raw, "publish_time"), width=field_int(image, "width", 1, 1 << 20),
                   height=field_int(image, "height", 1, 1 << 20), model=field_dict(raw, "model"), detections=dets,
                   raw=raw, received_time=time.time() if received_time is None else received_time)

    def only(self, classes: ClassFilter) -> DetectionMessage:
        """This message with only the detections of `classes` (in `detections` and in `raw`)."""
        keep = [classes.match(d) for d in self.detections]
        raw = dict(self.raw)
        raw["detections"] = [r for r, k in zip(self.raw["detections"], keep) if k]
        return replace(self, detections=tuple(d for d, k in zip(self.detections, keep) if k), raw=raw)


MAX_DETECTIONS = 10_000  # decode.max_det's bound


def _detection(d: Any) -> Detection:
    if not isinstance(d, dict):
        raise InvalidMessage(f"a detection must be an object, got {type(d).__name__}")
    return Detection(field_int(d, "class_id", 0, 1 << 31), field_str(d, "label", 256), field_float(d, "score"),
                     _box(d, "box"), _box(d, "box_norm"))


def _box(d: dict[str, Any], key: str) -> tuple[float, float, float, float]:
    v = d.get(key)
    if not isinstance(v, list) or len(v) != 4:
        raise InvalidMessage(f"{key} must be a list of 4 numbers")
    x1, y1, x2, y2 = (field_float({"x": x}, "x") for x in v)
    return (x1, y1, x2, y2)


class ClassFilter:
    """Classes by label or id; `"2"` matches class id 2 as well as a label "2"."""

    def __init__(self, classes: Collection[str | int]) -> None:
        self.labels = {str(c) for c in classes}
        self.ids = {int(c) for c in classes if isinstance(c, int) or str(c).isdigit()}

    def match(self, d: Detection) -> bool:
        return d.class_id in self.ids or d.label in self.labels


def topic_filters(prefix: str, devices: Collection[str] | None, cameras: Collection[str] | None,
                  share_group: str | None = None, kind: str = "detections") -> list[str]:
    """The subscriptions; `share_group` makes each one a shared subscription `$share/<group>/...`.
    `prefix` may be `+` (every site of a fleet, behind a bridge: `<site>/<device>/...`)."""
    head = f"$share/{share_group}/" if share_group else ""
    return [f"{head}{prefix}/{d}/{c}/{kind}" for d in (sorted(devices) if devices else ["+"])
            for c in (sorted(cameras) if cameras else ["+"])]


def check_share_group(group: str) -> str:
    """A shared-subscription group name: non-empty, without '/', '+' or '#' (MQTT 5, 4.8.2)."""
    if not group or any(c in group for c in "/+#") or group.strip() != group:
        raise ValueError(f"share group {group!r} must be non-empty, without '/', '+', '#' or surrounding spaces")
    return group


_Sub = TypeVar("_Sub", bound="DetectionSubscriber")


@dataclass
class _AckEntry:
    mid: int
    qos: int
    done: bool = False


class _Acks:
    """Manual acknowledgements, sent in the order the messages arrived (paho's thread and the consumer's)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._pending: collections.deque[_AckEntry] = collections.deque()

    def received(self, mid: int, qos: int) -> _AckEntry | None:
        if qos == 0:  # nothing to acknowledge
            return None
        entry = _AckEntry(mid, qos)
        with self._lock:
            self._pending.append(entry)
        return entry

    def done(self, entries: list[_AckEntry | None]) -> None:
        with self._lock:
            for e in entries:
                if e is not None:
                    e.done = True
            while self._pending and self._pending[0].done:
                e = self._pending.popleft()
                self._client.ack(e.mid, e.qos)

    def reset(self) -> None:
        """A new connection: packet ids of the old one mean nothing to the broker now."""
        with self._lock:
            self._pending.clear()


class DetectionSubscriber:
    """Receives detection messages from a broker; a context manager (see the module docstring).

    Subclasses receive other per-camera message kinds (`edge_sdk.events.subscriber.EventSubscriber`): they
    set `KIND` (the last topic level) and override `parse` and `keep`."""

    KIND = "detections"

    def __init__(self, broker: BrokerSettings, *, topic_prefix: str = "edge", devices: Collection[str] | None = None,
                 cameras: Collection[str] | None = None, classes: Collection[str | int] | None = None,
                 client_id: str | None = None, qos: int = 1, persistent: bool = False,
                 drop_duplicates: bool = True, max_reconnect_delay_s: int = 5, share_group: str | None = None,
                 max_queue: int = 10_000, manual_ack: bool = False) -> None:
        if qos not in (0, 1, 2):
            raise ValueError("qos must be 0, 1 or 2")
        if persistent and not client_id:
            raise ValueError("a persistent session needs a fixed client_id")
        if share_group is not None:
            check_share_group(share_group)
            if broker.protocol != "5":
                raise ValueError("shared subscriptions ($share/...) need MQTT 5 (protocol '5')")
        self.broker = broker
        self.share_group = share_group
        self.topics = topic_filters(topic_prefix, devices, cameras, share_group, self.KIND)
        self.classes = ClassFilter(classes) if classes else None
        self.client_id = client_id or f"edge-sdk-sub-{uuid.uuid4().hex[:12]}"
        self.qos = qos
        self.persistent = persistent
        self.drop_duplicates = drop_duplicates
        self.tracker = SequenceTracker()
        self.rejections = Rejections()
        self.connects = 0
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._client = make_client(broker, self.client_id, persistent=persistent, reconnect=True, manual_ack=manual_ack)
        self._acks = _Acks(self._client) if manual_ack else None
        self._taken: list[_AckEntry | None] = []  # consumer thread: returned by `get`, not yet acknowledged
        self._client.reconnect_delay_set(1, max(1, max_reconnect_delay_s))
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect
        self._client.on_log = self._on_log
        self._ready = threading.Event()
        self._failure: ConnectFailure | None = None
        self._last_log_error = ""
        self._connected = False
        self._started = False

    # -- life cycle ----------------------------------------------------------------------------------
    def __enter__(self: _Sub) -> _Sub:
        return self.open()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def open(self: _Sub, timeout: float | None = None) -> _Sub:
        """Connect and subscribe; PublishError if the broker cannot be reached or refuses us."""
        wait = timeout if timeout is not None else self.broker.connect_timeout_s + 5.0
        try:
            self._client.connect(**connect_args(self.broker, persistent=self.persistent))
        except Exception as exc:
            raise explain_exception(exc, self.broker).error(self.broker) from exc
        self._client.loop_start()
        self._started = True
        try:
            ready = self._ready.wait(wait)
        except BaseException:  # Ctrl-C while connecting: `with` will not call close, so do it here
            self.close()
            raise
        if not ready or self._failure is not None:
            failure = self._failure or ConnectFailure("no answer", f"no CONNACK/SUBACK within {wait:g} s", True)
            self.close()
            raise failure.error(self.broker)
        return self

    def close(self) -> None:
        if self._started:
            self._started = False
            self._client.disconnect()
            self._client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected

    # -- receiving -----------------------------------------------------------------------------------
    def get(self, timeout: float | None = None) -> Any:
        """The next message, or None after `timeout` seconds (None: wait forever)."""
        try:
            message, entry = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if self._acks is not None:
            self._taken.append(entry)
        return message

    def ack(self) -> None:
        """With `manual_ack`: acknowledge every message `get` has returned so far (call it once they are safe).
        Without, it does nothing (messages are acknowledged as they arrive)."""
        if self._acks is not None:
            taken, self._taken = self._taken, []
            self._acks.done(taken)

    def parse(self, topic: str, payload: bytes) -> Any:
        """The message of one MQTT payload (it has device_id, camera, seq, message_id); ValueError if invalid."""
        return DetectionMessage.parse(topic, payload)

    def keep(self, m: Any) -> Any:
        """The message to deliver after the class filter (None: none of it matches)."""
        if self.classes is None:
            return m
        m = m.only(self.classes)
        return m if m.detections else None

    def __iter__(self) -> Iterator[Any]:
        while True:
            msg = self.get()
            if msg is not None:
                yield msg

    # -- paho callbacks (paho's thread) --------------------------------------------------------------
    def _on_connect(self, client: Any, _u: Any, flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self._failure = explain_connack(reason, self.broker)
            if not self._ready.is_set():
                self._ready.set()
            else:
                log.error("broker %s refused the reconnect: %s", self.broker.url, self._failure.detail)
            return
        self._connected = True
        self.connects += 1
        if self._acks is not None:  # what the last connection did not acknowledge, the broker sends again
            self._acks.reset()
        if self.connects > 1:
            log.info("reconnected to %s (session %s)", self.broker.url,
                     "resumed" if flags.session_present else "new")
        client.subscribe([(t, self.qos) for t in self.topics])

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, reasons: list[Any], _props: Any) -> None:
        refused = [str(r) for r in reasons if r.is_failure]
        granted = [int(r.value) for r in reasons if not r.is_failure]
        if granted and min(granted) < self.qos and not self._ready.is_set():
            log.warning("the broker granted QoS %d, not the QoS %d asked for: delivery is weaker than requested",
                        min(granted), self.qos)
        if refused and not self._ready.is_set():
            self._failure = ConnectFailure("subscription refused", f"{', '.join(refused)} for {self.topics}", True,
                                           "check the broker's ACL for this user")
        self._ready.set()

    def _on_disconnect(self, _c: Any, _u: Any, _flags: Any, reason: Any, _props: Any) -> None:
        was, self._connected = self._connected, False
        if not self._ready.is_set() and self._failure is None:
            failure = explain_closed(self._last_log_error, self.broker)
            self._failure = replace(failure, fatal=True)  # to a person at a terminal, say it now
            self._ready.set()
        elif was and self._started:
            why = self._last_log_error or ("the broker closed the connection" if reason.is_failure else str(reason))
            log.warning("connection to %s lost (%s); reconnecting", self.broker.url, why)

    def _on_log(self, _c: Any, _u: Any, level: int, buf: str) -> None:
        from paho.mqtt.enums import LogLevel

        if level == LogLevel.MQTT_LOG_ERR:
            self._last_log_error = buf

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        """The guard: whatever a message holds, nothing it does escapes into paho's network thread."""
        entry = self._acks.received(msg.mid, msg.qos) if self._acks is not None else None
        queued = False
        try:
            queued = self._receive(str(msg.topic), bytes(msg.payload), entry)
        except Exception as exc:  # counted and logged once per source; the thread and the session go on
            self.rejections.add(str(msg.topic), exc)
        finally:
            if self._acks is not None and not queued:
                self._acks.done([entry])

    def _receive(self, topic: str, payload: bytes, entry: _AckEntry | None = None) -> bool:
        """Whether the message was queued for `get`."""
        m = self.parse(topic, payload)
        check_envelope(topic, m)
        verdict = self.tracker.observe(m.device_id, m.camera, m.seq, m.message_id)
        if verdict is Verdict.DUPLICATE and self.drop_duplicates and self._acks is None:
            return False
        if verdict is not Verdict.NEW:
            m = replace(m, verdict=verdict)
        m = self.keep(m)
        return m is not None and self._put((m, entry))

    def _put(self, item: tuple[Any, _AckEntry | None]) -> bool:
        """Queue for `get`; when the consumer is `max_queue` behind, wait (the broker holds the rest: QoS 1
        messages are acknowledged only once queued here) rather than grow without bound or drop."""
        while True:
            try:
                self._queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                if not self._started:
                    return False

    @property
    def invalid(self) -> int:
        """Messages rejected by the guard (not valid messages of this kind, or not matching their topic)."""
        return self.rejections.total
