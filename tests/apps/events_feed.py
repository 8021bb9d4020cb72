"""Events with a known ground truth for the apps' tests: objects on known paths, as detections, through the
daemon's own events layer (EventLayer) and a real MqttPublisher to a real broker."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.config.app import AppConfig
from edge_sdk.events.layer import EventLayer
from edge_sdk.publish.mqtt import MqttPublisher
from tests.events.helpers import METADATA
from tests.publish.helpers import frame_result

PERSON, CAR, DOG = 0, 1, 2  # tests/events/helpers.METADATA and tests/publish/helpers.LABELS


@dataclass(frozen=True)
class Visit:
    """An object of `class_id` seen by `camera` from frame `first` to `last` (inclusive), its bottom centre moving
    in a straight line from (x0, y) to (x1, y). Tracks are confirmed on their second frame (min_hits 2)."""

    camera: str
    class_id: int
    first: int
    last: int
    x0: float
    x1: float | None = None
    y: float = 300.0

    def box(self, k: int) -> list[float] | None:
        if not self.first <= k <= self.last:
            return None
        x1 = self.x0 if self.x1 is None else self.x1
        x = self.x0 + (x1 - self.x0) * (k - self.first) / max(1, self.last - self.first)
        return [x - 20, self.y - 80, x + 20, self.y]


def event_layer(tmp_path: Path, publisher: MqttPublisher, cameras: Iterable[str], events: dict[str, Any]) -> EventLayer:
    cfg = AppConfig.model_validate({"device_id": "dev1", "state_dir": str(tmp_path / "state"),
                                    "sources": [{"name": c, "uri": f"file://{c}.mp4"} for c in cameras],
                                    "events": events})
    return EventLayer(cfg, METADATA, publisher)


def feed(layer: EventLayer, visits: list[Visit], frames: range, t0: float, dt: float) -> None:
    """Frame k of every camera, captured at t0 + k * dt, with the boxes of the visits seen in it."""
    cameras = sorted({v.camera for v in visits} | set(layer.cameras))
    for k in frames:
        for cam in cameras:
            seen = [(v.box(k), v.class_id) for v in visits if v.camera == cam and v.box(k) is not None]
            r = frame_result(cam, k, n_dets=len(seen))
            r.detections.boxes = np.array([b for b, _ in seen], np.float32).reshape(-1, 4)
            r.detections.scores = np.full(len(seen), 0.9, np.float32)
            r.detections.class_ids = np.array([c for _, c in seen], np.int64)
            r.frame.t_capture_wall = t0 + k * dt
            layer.on_result(r)
