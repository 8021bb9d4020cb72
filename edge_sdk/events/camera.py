"""One camera's events: the tracker, the zones and lines, and what each tracked object has done.

`CameraEvents.process(frame facts, detections)` runs on the pipeline's publish thread, once per frame in
order: it feeds the tracker and returns the events and the retained state that changed (`Output`). It
never blocks: snapshots and the preview are handed on (see layer.py).

Rules:
- `new` when the tracker confirms a track; `end` when it gives it up (lost `track_buffer` frames) or at
  the end of the stream (`flush`). An object inside zones when it ends leaves them first (`exit`).
- Zone membership flips after `inertia` consecutive frames of the other answer (anchor point inside the
  polygon and the zone's filter accepting the object); `enter`/`exit` then, and an `update` at once.
  While an object is lost (not matched, not yet ended) it keeps its zones: occlusion is not an exit.
- A line is crossed when the anchor goes from one side (beyond `margin`) to the other and its path passes
  between the line's ends; counted per class and direction.
- `update` at most every `update_interval_s` per track (0: only on zone changes).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_sdk.events.geometry import Box, Line, Point, Zone, anchor_point
from edge_sdk.tracking.base import TrackedBox, Tracker


@dataclass
class FrameFacts:
    camera: str
    frame_id: int
    time: float  # capture wall clock
    width: int
    height: int


@dataclass
class TrackState:
    id: int
    uid: str
    class_id: int
    label: str
    first_seen: float
    last_seen: float
    score: float
    best_score: float
    box: Box
    frames: int = 0
    zones: dict[str, float] = field(default_factory=dict)  # zone -> entered at
    zones_entered: list[str] = field(default_factory=list)
    pending: dict[str, int] = field(default_factory=dict)  # zone -> frames disagreeing with membership
    line_side: dict[str, tuple[int, Point]] = field(default_factory=dict)  # line -> last side, point there
    last_update: float = 0.0
    snapshot: dict[str, Any] | None = None


@dataclass
class Output:
    """What one frame produced: event bodies (in order), retained state that changed (topic parts, value), and
    the tracks that ended (for their snapshots)."""

    events: list[dict[str, Any]] = field(default_factory=list)
    state: list[tuple[tuple[str, ...], dict[str, Any]]] = field(default_factory=list)
    ended: list[TrackState] = field(default_factory=list)


class CameraEvents:
    """See the module docstring. `label(class_id)` names classes; `zones`/`lines` come resolved from config."""

    def __init__(self, camera: str, tracker: Tracker, label: Callable[[int], str], *,
                 class_ids: frozenset[int] | None, zone_factory: Callable[[int, int], list[Zone]],
                 line_factory: Callable[[int, int], list[Line]], update_interval_s: float,
                 count_labels: list[str]) -> None:
        self.camera = camera
        self.tracker = tracker
        self.label = label
        self.class_ids = class_ids
        self._zone_factory, self._line_factory = zone_factory, line_factory
        self.zones: list[Zone] = []
        self.lines: list[Line] = []
        self.update_interval_s = update_interval_s
        self.count_labels = count_labels
        self.tracks: dict[int, TrackState] = {}
        self.visible: list[int] = []  # track ids matched in the last frame
        self.crossings: dict[str, dict[str, Counter[str]]] = {}
        self._since = time.time()
        self._last_state: dict[tuple[str, ...], dict[str, Any]] = {}
        self._size: tuple[int, int] | None = None

    # -- per frame ------------------------------------------------------------------------------------
    def process(self, f: FrameFacts, boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray) -> Output:
        if self._size != (f.width, f.height):
            self._resize(f.width, f.height)
        if self.class_ids is not None and len(class_ids):
            keep = np.isin(class_ids, list(self.class_ids))
            boxes, scores, class_ids = boxes[keep], scores[keep], class_ids[keep]
        update = self.tracker.update(boxes, scores, class_ids)
        out = Output()
        self.visible = []
        for tb in update.tracks:
            self.visible.append(tb.track_id)
            t = self.tracks.get(tb.track_id)
            if t is None:
                t = self.tracks[tb.track_id] = self._start(tb, f)
                out.events.append(self._event("new", t, f))
            else:
                self._see(t, tb, f)
            changed = self._zones(t, f, out)
            self._lines(t, f, out)
            if changed or (self.update_interval_s > 0 and f.time - t.last_update >= self.update_interval_s):
                out.events.append(self._event("update", t, f))
        for track_id in update.removed:
            self._end(track_id, f, out)
        self._state(out)
        return out

    def flush(self, f: FrameFacts) -> Output:
        """End every track (end of stream, shutdown)."""
        out = Output()
        for track_id in self.tracker.flush():
            self._end(track_id, f, out)
        for track_id in list(self.tracks):  # confirmed tracks the tracker no longer reports
            self._end(track_id, f, out)
        self._state(out)
        return out

    # -- tracks ---------------------------------------------------------------------------------------
    def _start(self, tb: TrackedBox, f: FrameFacts) -> TrackState:
        uid = f"{self.camera}-{int(f.time * 1000)}-{tb.track_id}"
        t = TrackState(tb.track_id, uid, tb.class_id, self.label(tb.class_id), f.time, f.time, tb.score, tb.score,
                       tb.box, frames=1, last_update=f.time)
        return t

    def _see(self, t: TrackState, tb: TrackedBox, f: FrameFacts) -> None:
        t.class_id, t.label = tb.class_id, self.label(tb.class_id)
        t.score, t.best_score = tb.score, max(t.best_score, tb.score)
        t.box, t.last_seen = tb.box, f.time
        t.frames += 1

    def _end(self, track_id: int, f: FrameFacts, out: Output) -> None:
        t = self.tracks.pop(track_id, None)
        if t is None:
            return
        for zone in list(t.zones):
            self._leave(t, zone, f, out, at=t.last_seen)
        out.events.append(self._event("end", t, f, t.last_seen))
        out.ended.append(t)

    # -- zones and lines ------------------------------------------------------------------------------
    def _zones(self, t: TrackState, f: FrameFacts, out: Output) -> bool:
        changed = False
        for zone in self.zones:
            inside = zone.filter.accepts(t.class_id, t.score, t.box) and zone.contains(
                anchor_point(t.box, zone.filter.anchor))
            member = zone.name in t.zones
            if inside == member:
                t.pending.pop(zone.name, None)
                continue
            n = t.pending.get(zone.name, 0) + 1
            if n < zone.inertia:
                t.pending[zone.name] = n
                continue
            t.pending.pop(zone.name, None)
            changed = True
            if inside:
                t.zones[zone.name] = f.time
                if zone.name not in t.zones_entered:
                    t.zones_entered.append(zone.name)
                out.events.append(self._event("enter", t, f, zone=zone.name))
            else:
                self._leave(t, zone.name, f, out, at=f.time)
        return changed

    def _leave(self, t: TrackState, zone: str, f: FrameFacts, out: Output, *, at: float) -> None:
        entered = t.zones.pop(zone)
        out.events.append(self._event("exit", t, f, at, zone=zone, dwell_s=round(max(0.0, at - entered), 3)))

    def _lines(self, t: TrackState, f: FrameFacts, out: Output) -> None:
        for line in self.lines:
            if not line.filter.accepts(t.class_id, t.score, t.box):
                continue
            p = anchor_point(t.box, line.filter.anchor)
            side = line.side(p)
            if side == 0:
                continue
            last = t.line_side.get(line.name)
            t.line_side[line.name] = (side, p)
            if last is None or last[0] == side or not line.spans(last[1], p):
                continue
            direction = "in" if side > 0 else "out"
            self.crossings.setdefault(line.name, {"in": Counter(), "out": Counter()})[direction][t.label] += 1
            out.events.append(self._event("cross", t, f, line=line.name, direction=direction))

    def _resize(self, width: int, height: int) -> None:
        self._size = (width, height)
        self.zones = self._zone_factory(width, height)
        self.lines = self._line_factory(width, height)

    # -- messages -------------------------------------------------------------------------------------
    def _event(self, kind: str, t: TrackState, f: FrameFacts, at: float | None = None, **extra: Any) -> dict[str, Any]:
        if kind in ("new", "update"):
            t.last_update = f.time
        w, h = max(f.width, 1), max(f.height, 1)
        x1, y1, x2, y2 = (min(max(v, 0.0), lim) for v, lim in zip(t.box, (w, h, w, h)))
        body: dict[str, Any] = {
            "event": kind, "camera": self.camera, "frame_id": f.frame_id, "time": round(f.time if at is None else at, 6),
            "track": {"id": t.id, "uid": t.uid, "class_id": t.class_id, "label": t.label,
                      "score": round(t.score, 5), "best_score": round(t.best_score, 5),
                      "box": [round(x1, 2), round(y1, 2), round(x2, 2), round(y2, 2)],
                      "box_norm": [round(x1 / w, 6), round(y1 / h, 6), round(x2 / w, 6), round(y2 / h, 6)],
                      "first_seen": round(t.first_seen, 6), "last_seen": round(t.last_seen, 6),
                      "duration_s": round(t.last_seen - t.first_seen, 3), "frames": t.frames,
                      "zones": sorted(t.zones), "zones_entered": list(t.zones_entered), "active": kind != "end"},
            "snapshot": t.snapshot,
        }
        body.update(extra)
        return body

    def _state(self, out: Output) -> None:
        """Retained state that changed: objects in view, zone occupancy, line counts."""
        counts = Counter(t.label for t in self.tracks.values())
        self._put(out, ("objects",), {label: counts.get(label, 0) for label in self._labels(counts)})
        for zone in self.zones:
            inside = Counter(t.label for t in self.tracks.values() if zone.name in t.zones)
            value: dict[str, Any] = {label: inside.get(label, 0) for label in self._labels(inside)}
            value["all"] = sum(inside.values())
            self._put(out, ("zones", zone.name, "count"), value)
        for line in self.lines:
            c = self.crossings.get(line.name, {"in": Counter(), "out": Counter()})
            self._put(out, ("lines", line.name, "count"),
                      {"in": dict(sorted(c["in"].items())), "out": dict(sorted(c["out"].items())),
                       "in_total": sum(c["in"].values()), "out_total": sum(c["out"].values()),
                       "since": round(self._since, 3)})

    def _labels(self, counts: Counter[str]) -> list[str]:
        return sorted(set(self.count_labels) | set(counts))

    def _put(self, out: Output, parts: tuple[str, ...], value: dict[str, Any]) -> None:
        if self._last_state.get(parts) != value:
            self._last_state[parts] = value
            out.state.append((parts, value))
