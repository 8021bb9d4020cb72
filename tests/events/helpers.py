"""Synthetic scenes for the events layer: objects walking through a 640x480 frame, as detections."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.config.events import EventsConfig
from edge_sdk.engines.model_info import ModelMetadata
from edge_sdk.events.camera import CameraEvents, FrameFacts, Output
from edge_sdk.events.geometry import Line, Zone
from edge_sdk.events.layer import tracker_settings
from edge_sdk.tracking import ByteTracker

ROOT = Path(__file__).resolve().parents[2]
EVENT_SCHEMA = json.loads((ROOT / "edge_sdk/schemas/event.schema.json").read_text())
NAMES = {0: "person", 1: "car", 2: "dog"}
METADATA = ModelMetadata(names=NAMES)
W, H = 640, 480


def camera(cfg: dict[str, Any], camera: str = "cam0") -> CameraEvents:
    ev = EventsConfig.model_validate(cfg)
    cam_cfg = ev.cameras.get(camera)

    def zones(w: int, h: int) -> list[Zone]:
        return [Zone.of(n, z, w, h, METADATA.class_ids(z.classes, "t")) for n, z in
                (cam_cfg.zones.items() if cam_cfg else [])]

    def lines(w: int, h: int) -> list[Line]:
        return [Line.of(n, z, w, h, METADATA.class_ids(z.classes, "t")) for n, z in
                (cam_cfg.lines.items() if cam_cfg else [])]

    return CameraEvents(camera, ByteTracker(tracker_settings(ev)), METADATA.label, class_ids=None,
                        zone_factory=zones, line_factory=lines, update_interval_s=ev.update_interval_s,
                        count_labels=sorted(NAMES.values()))


def walk(cam: CameraEvents, paths: list[list[tuple[float, float, float, int] | None]], fps: float = 10.0,
         t0: float = 1_700_000_000.0) -> list[dict[str, Any]]:
    """Feed frames: paths[i][k] is object i in frame k as (centre x, bottom y, score, class) or None (unseen).
    Returns every event body, the stream flushed at the end."""
    events: list[dict[str, Any]] = []
    n = max(len(p) for p in paths)
    facts = FrameFacts(cam.camera, 0, t0, W, H)
    for k in range(n):
        facts = FrameFacts(cam.camera, k, t0 + k / fps, W, H)
        dets = [p[k] for p in paths if k < len(p) and p[k] is not None]
        boxes = np.array([[x - 20, y - 80, x + 20, y] for x, y, _, _ in dets], np.float64).reshape(-1, 4)  # type: ignore[misc]
        out = cam.process(facts, boxes, np.array([d[2] for d in dets]), np.array([d[3] for d in dets]))  # type: ignore[index]
        events += out.events
    out = cam.flush(facts)
    return events + out.events


Obj = tuple[float, float, float, int]


def line_path(x0: float, x1: float, y: float, frames: int, score: float = 0.9, cls: int = 0) -> list[Obj | None]:
    return [(x0 + (x1 - x0) * k / (frames - 1), y, score, cls) for k in range(frames)]


def message(body: dict[str, Any], seq: int = 1) -> dict[str, Any]:
    from edge_sdk.events.messages import event_builder

    return dict(json.loads(event_builder(body, "dev1")(seq)))


def state_of(out: Output) -> dict[tuple[str, ...], Any]:
    return dict(out.state)
