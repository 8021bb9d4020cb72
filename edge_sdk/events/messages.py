"""Event messages and their topics (format: edge_sdk/schemas/event.schema.json).

Event message, `schema_version` 1, on `<prefix>/<device>/<camera>/events` (QoS mqtt.qos, numbered per
camera in its own `seq` stream, delivered through the spool like detections):

    {"schema_version": 1, "type": "event", "event": "enter", "message_id": "9f1c...", "device_id": "demo",
     "camera": "cam0", "seq": 17, "frame_id": 412, "time": 1764000012.5, "publish_time": 1764000012.53,
     "track": {"id": 7, "uid": "cam0-1764000010400-7", "class_id": 0, "label": "person",
               "score": 0.81, "best_score": 0.93, "box": [x1, y1, x2, y2], "box_norm": [...],
               "first_seen": 1764000010.4, "last_seen": 1764000012.5, "duration_s": 2.1, "frames": 31,
               "zones": ["door"], "zones_entered": ["door"], "active": true},
     "zone": "door",                         # enter / exit
     "dwell_s": 4.2,                         # exit: time inside the zone
     "line": "gate", "direction": "in",      # cross
     "snapshot": {"crop": "cam0/cam0-1764000010400-7-crop.jpg", "full": "...-full.jpg",
                  "score": 0.93, "time": 1764000011.9}}   # or null

`event`: `new` (a track confirmed), `update` (at most one per track per events.update_interval_s, and at
once when its zones change), `end` (lost for tracker.track_buffer frames, or the stream ended; `time`
and `last_seen` are when it was last seen), `enter`/`exit` (a zone), `cross` (a line).

Retained state (latest value only, not numbered):
`<prefix>/<device>/<camera>/objects`             {"person": 2, "car": 0, ...}: tracked objects in view
`<prefix>/<device>/<camera>/zones/<zone>/count`  {"person": 1, ..., "all": 1}: objects in the zone
`<prefix>/<device>/<camera>/lines/<line>/count`  {"in": {"person": 3}, "out": {...}, "in_total": 3,
                                                  "out_total": 0, "since": 1764000000.0}
`<prefix>/<device>/<camera>/snapshot/<label>`    JPEG bytes (snapshots.publish)
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

EVENT_SCHEMA_VERSION = 1
EVENT_KINDS = ("new", "update", "end", "enter", "exit", "cross")


def events_stream(camera: str) -> str:
    """The sequence-number stream of a camera's events (its detections use the camera name itself)."""
    return f"{camera}/events"


def event_builder(body: dict[str, Any], device_id: str) -> Callable[[int | None], bytes]:
    """`build(seq)` for the publisher: the message with its number, id and publish time, made on the spool
    writer's thread (called once: the spool keeps the bytes, so a redelivery keeps its message id)."""

    def build(seq: int | None) -> bytes:
        msg = {"schema_version": EVENT_SCHEMA_VERSION, "type": "event", "event": body["event"],
               "message_id": uuid.uuid4().hex, "device_id": device_id, "camera": body["camera"], "seq": int(seq or 0),
               "publish_time": round(time.time(), 6)}
        msg.update((k, v) for k, v in body.items() if k not in msg)
        return json.dumps(msg, separators=(",", ":"), allow_nan=False).encode()

    return build


def state_payload(value: dict[str, Any]) -> Callable[[int | None], bytes]:
    """`build(seq)` of a retained state message, JSON made on the writer's thread (`value` is never changed
    after it is handed over: the layer makes a new dict for each change)."""
    return lambda _seq: json.dumps(value, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()
