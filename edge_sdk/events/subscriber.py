"""Subscribing to events: the consumer side (apps/class_counter.py, apps/line_counter.py).

    with EventSubscriber(BrokerSettings(port=1883), cameras=["cam0"], events=["cross"]) as sub:
        while (ev := sub.get(timeout=5.0)) is not None:
            print(ev.camera, ev.event, ev.track["label"], ev.line, ev.direction)

Same guarantees as `DetectionSubscriber` (it is one, on `<prefix>/<device>/<camera>/events`): sequence
tracking per camera (gaps, late arrivals), duplicates dropped, persistent sessions with a fixed client id.
Filters: `events` (kinds, e.g. ["enter", "exit"]) and `classes` (labels or class ids of the track).
"""

from __future__ import annotations

import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from edge_sdk.events.messages import EVENT_KINDS, EVENT_SCHEMA_VERSION
from edge_sdk.publish.guard import (
    MAX_SEQ,
    InvalidMessage,
    check_schema_version,
    field_dict,
    field_float,
    field_int,
    field_name,
    field_str,
    load_json,
)
from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.subscriber import DetectionSubscriber
from edge_sdk.publish.tracking import Verdict


@dataclass(frozen=True)
class EventMessage:
    topic: str
    event: str
    device_id: str
    camera: str
    seq: int
    message_id: str
    time: float
    frame_id: int
    track: dict[str, Any]
    zone: str | None
    line: str | None
    direction: str | None
    dwell_s: float | None
    raw: dict[str, Any]
    received_time: float
    verdict: Verdict = Verdict.NEW

    @property
    def label(self) -> str:
        return str(self.track["label"])

    @classmethod
    def parse(cls, topic: str, payload: bytes, received_time: float | None = None) -> EventMessage:
        """Parse and check an event message (publish/guard.py); `InvalidMessage` (a ValueError) if it is not one."""
        raw = load_json(payload)
        if raw.get("type") != "event":
            raise InvalidMessage(f"not an event message (type {raw.get('type')!r:.40})")
        check_schema_version(raw, EVENT_SCHEMA_VERSION)
        event = field_str(raw, "event", 16)
        if event not in EVENT_KINDS:
            raise InvalidMessage(f"unknown event {event!r}; kinds are {list(EVENT_KINDS)}")
        track = field_dict(raw, "track")
        field_int(track, "id", 1, MAX_SEQ)
        field_int(track, "class_id", 0, 1 << 31)
        field_str(track, "label", 256)
        zone = field_name(raw, "zone") if event in ("enter", "exit") else None
        line = field_name(raw, "line") if event == "cross" else None
        direction = raw.get("direction") if event == "cross" else None
        if event == "cross" and direction not in ("in", "out"):
            raise InvalidMessage(f"direction {direction!r:.40} is neither 'in' nor 'out'")
        return cls(topic=topic, event=event, device_id=field_str(raw, "device_id", 64),
                   camera=field_str(raw, "camera", 64), seq=field_int(raw, "seq", 1, MAX_SEQ),
                   message_id=field_str(raw, "message_id", 128), time=field_float(raw, "time"),
                   frame_id=field_int(raw, "frame_id", 0, MAX_SEQ), track=track, zone=zone, line=line,
                   direction=direction, dwell_s=field_float(raw, "dwell_s") if event == "exit" else None, raw=raw,
                   received_time=time.time() if received_time is None else received_time)


class EventSubscriber(DetectionSubscriber):
    """Receives event messages (see the module docstring)."""

    KIND = "events"

    def __init__(self, broker: BrokerSettings, *, events: Collection[str] | None = None, **kwargs: Any) -> None:
        unknown = set(events or ()) - set(EVENT_KINDS)
        if unknown:
            raise ValueError(f"unknown event kinds {sorted(unknown)}; kinds are {list(EVENT_KINDS)}")
        super().__init__(broker, **kwargs)
        self.events = frozenset(events) if events else None

    def parse(self, topic: str, payload: bytes) -> EventMessage:
        return EventMessage.parse(topic, payload)

    def keep(self, m: Any) -> Any:
        if self.events is not None and m.event not in self.events:
            return None
        if self.classes is not None and not (m.track.get("label") in self.classes.labels
                                             or m.track.get("class_id") in self.classes.ids):
            return None
        return m
