"""Subscribing to events: the consumer side (apps/class_counter.py, apps/line_counter.py).

    with EventSubscriber(BrokerSettings(port=1883), cameras=["cam0"], events=["cross"]) as sub:
        while (ev := sub.get(timeout=5.0)) is not None:
            print(ev.camera, ev.event, ev.track["label"], ev.line, ev.direction)

Same guarantees as `DetectionSubscriber` (it is one, on `<prefix>/<device>/<camera>/events`): sequence
tracking per camera (gaps, late arrivals), duplicates dropped, persistent sessions with a fixed client id.
Filters: `events` (kinds, e.g. ["enter", "exit"]) and `classes` (labels or class ids of the track).
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from edge_sdk.events.messages import EVENT_KINDS, EVENT_SCHEMA_VERSION
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
        """Parse an event message; ValueError if it is not one."""
        try:
            raw = json.loads(payload)
            if not isinstance(raw, dict) or raw.get("type") != "event":
                raise ValueError("not an event message")
            if int(raw["schema_version"]) > EVENT_SCHEMA_VERSION:
                raise ValueError(f"schema_version {raw['schema_version']} is newer than this SDK's {EVENT_SCHEMA_VERSION}")
            if raw["event"] not in EVENT_KINDS:
                raise ValueError(f"unknown event {raw['event']!r}")
            dwell = raw.get("dwell_s")
            return cls(topic=topic, event=str(raw["event"]), device_id=str(raw["device_id"]), camera=str(raw["camera"]),
                       seq=int(raw["seq"]), message_id=str(raw["message_id"]), time=float(raw["time"]),
                       frame_id=int(raw["frame_id"]), track=dict(raw["track"]), zone=raw.get("zone"),
                       line=raw.get("line"), direction=raw.get("direction"),
                       dwell_s=None if dwell is None else float(dwell), raw=raw,
                       received_time=time.time() if received_time is None else received_time)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"malformed event message: {type(exc).__name__}: {exc}") from exc


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
