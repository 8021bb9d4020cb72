"""One camera's events from synthetic detections: new/update/end, zones with inertia and dwell, line
crossings per class and direction, zone filters, retained counts; every message valid against the schema."""

from __future__ import annotations

import jsonschema
import numpy as np
import pytest

from edge_sdk.events.camera import FrameFacts
from tests.events.helpers import EVENT_SCHEMA, camera, line_path, message, walk

ZONE_RIGHT = {"polygon": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}
LINE_MID = {"points": [[320, 0], [320, 480]], "in_direction": "right"}


def kinds(events: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [e["event"] for e in events]


def test_an_object_crossing_a_line_into_a_zone_gives_every_event_in_order() -> None:
    cam = camera({"update_interval_s": 0, "cameras": {"cam0": {"zones": {"right": ZONE_RIGHT}, "lines": {"mid": LINE_MID}}}})
    events = walk(cam, [line_path(100, 600, 300, 40)])
    assert kinds(events) == ["new", "cross", "enter", "update", "exit", "end"]
    cross = events[1]
    assert cross["line"] == "mid" and cross["direction"] == "in" and cross["track"]["label"] == "person"
    enter, _, leave, end = events[2:]
    assert enter["zone"] == "right" and leave["zone"] == "right"
    assert leave["dwell_s"] == pytest.approx(end["track"]["last_seen"] - enter["time"], abs=1e-3)
    assert end["track"]["zones_entered"] == ["right"] and end["track"]["zones"] == [] and not end["track"]["active"]
    ids = {e["track"]["id"] for e in events}
    assert len(ids) == 1
    for seq, body in enumerate(events, 1):
        jsonschema.validate(message(body, seq), EVENT_SCHEMA)
    assert cam.crossings["mid"]["in"]["person"] == 1


def test_crossings_are_counted_per_class_and_direction_and_jitter_on_the_line_is_not() -> None:
    cam = camera({"cameras": {"cam0": {"lines": {"mid": LINE_MID}}}})
    jitter = [(320 + (3 if k % 2 else -3), 300, 0.9, 2) for k in range(30)]  # a dog standing on the line
    walk(cam, [line_path(100, 600, 300, 30, cls=0), line_path(600, 100, 420, 30, cls=1), jitter])
    c = cam.crossings["mid"]
    assert dict(c["in"]) == {"person": 1} and dict(c["out"]) == {"car": 1}


def test_a_line_is_crossed_only_between_its_ends() -> None:
    cam = camera({"cameras": {"cam0": {"lines": {"short": {"points": [[320, 0], [320, 200]]}}}}})
    walk(cam, [line_path(100, 600, 400, 30)])  # passes below the line's lower end
    assert "short" not in cam.crossings


def test_zone_inertia_ignores_a_short_visit_and_a_lost_object_stays_inside() -> None:
    cam = camera({"cameras": {"cam0": {"zones": {"right": {**ZONE_RIGHT, "inertia": 3}}}}})
    short = [(300, 300, 0.9, 0)] * 5 + [(340, 300, 0.9, 0)] * 2 + [(300, 300, 0.9, 0)] * 5  # 2 frames inside
    assert "enter" not in kinds(walk(cam, [short]))
    cam = camera({"tracker": {"track_buffer": 10}, "cameras": {"cam0": {"zones": {"right": ZONE_RIGHT}}}})
    hidden = [(400, 300, 0.9, 0)] * 6 + [None] * 5 + [(400, 300, 0.9, 0)] * 3  # occluded for 5 frames
    assert kinds(walk(cam, [hidden])).count("enter") == 1


def test_zone_filters_by_class_score_and_size() -> None:
    zone = {**ZONE_RIGHT, "classes": ["car"], "min_score": 0.5, "min_area": 1000}
    cam = camera({"cameras": {"cam0": {"zones": {"right": zone}}}})
    events = walk(cam, [[(500, 300, 0.9, 0)] * 10, [(500, 420, 0.9, 1)] * 10])
    entered = [e["track"]["label"] for e in events if e["event"] == "enter"]
    assert entered == ["car"]
    cam = camera({"cameras": {"cam0": {"zones": {"right": {**zone, "min_area": 5000}}}}})  # boxes are 40x80
    assert "enter" not in kinds(walk(cam, [[(500, 420, 0.9, 1)] * 10]))


def test_updates_are_throttled_per_track() -> None:
    cam = camera({"update_interval_s": 1.0})
    events = walk(cam, [[(300, 300, 0.9, 0)] * 35], fps=10.0)  # 3.4 s
    assert kinds(events).count("update") == 3


def test_retained_counts_change_only_when_they_change() -> None:
    cam = camera({"cameras": {"cam0": {"zones": {"right": ZONE_RIGHT}}}})
    states = []
    for k in range(8):
        facts = FrameFacts("cam0", k, 100.0 + k, 640, 480)
        boxes = np.array([[480, 220, 520, 300]], float)
        states.append(dict(cam.process(facts, boxes, np.array([0.9]), np.array([0])).state))
    assert states[0][("objects",)] == {"car": 0, "dog": 0, "person": 1}
    zone = [s[("zones", "right", "count")] for s in states if ("zones", "right", "count") in s]
    assert zone[0]["all"] == 0 and zone[-1] == {"car": 0, "dog": 0, "person": 1, "all": 1}
    assert all(not s for s in states[4:])  # nothing changed any more: nothing to publish
