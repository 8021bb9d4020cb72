"""apps/class_counter.py: objects per class per minute from the events of the daemon's events layer, through a
real publisher and a real Mosquitto to the app running as a process, republished and checked against the
objects the scene put in each minute."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from apps.class_counter import ClassCounter
from edge_sdk.events.subscriber import EventMessage
from tests.apps.events_feed import CAR, DOG, PERSON, Visit, event_layer, feed
from tests.events.helpers import message
from tests.publish.conftest import TopicCollector
from tests.publish.helpers import open_test_publisher, publisher_settings, wait_until
from tests.support.broker import MosquittoBroker

ROOT = Path(__file__).resolve().parents[2]
MINUTE = 60.0
DT = 2.0  # a frame every 2 s: frames 0-29 are minute 0, 30-59 minute 1, 60-89 minute 2, 90-95 minute 3
VISITS = [  # each at its own place; confirmed (counted) on its second frame
    Visit("cam0", PERSON, 0, 10, 40), Visit("cam0", PERSON, 5, 20, 110), Visit("cam0", CAR, 12, 40, 180),
    Visit("cam0", PERSON, 31, 45, 250), Visit("cam0", DOG, 40, 70, 320),
    Visit("cam0", PERSON, 62, 64, 390), Visit("cam0", PERSON, 70, 89, 460), Visit("cam0", CAR, 75, 80, 530),
    Visit("cam0", PERSON, 90, 93, 600),
    Visit("cam1", CAR, 0, 3, 40), Visit("cam1", DOG, 20, 50, 110), Visit("cam1", CAR, 30, 33, 180),
    Visit("cam1", CAR, 60, 63, 250), Visit("cam1", CAR, 90, 93, 320),
]
LABELS = {PERSON: "person", CAR: "car", DOG: "dog"}


def expected(camera: str, minute: int) -> dict[str, int]:
    return dict(Counter(LABELS[v.class_id] for v in VISITS if v.camera == camera and (v.first + 1) * DT // MINUTE == minute))


@pytest.mark.broker
def test_objects_per_minute_are_republished(broker: MosquittoBroker, tmp_path: Path) -> None:
    counts = TopicCollector(broker.port, "edge/+/+/counts")
    events = TopicCollector(broker.port, "edge/+/+/events")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    app = subprocess.Popen([sys.executable, "apps/class_counter.py", "--broker", f"127.0.0.1:{broker.port}",
                            "--grace", "3600"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert app.stderr is not None and "counting" in app.stderr.readline()
        base = (time.time() // MINUTE - 10) * MINUTE  # ten minutes ago, on a minute boundary
        with open_test_publisher(publisher_settings(broker.port, tmp_path / "s.sqlite")) as pub:
            layer = event_layer(tmp_path, pub, ["cam0", "cam1"], {"tracker": {"track_buffer": 3}, "update_interval_s": 10})
            feed(layer, VISITS, range(96), base, DT)
            layer.close()  # the tracks still open end
            assert pub.flush(10)
        # Minutes 0-2 close when minute 3's first object arrives, minute 3 at exit. Once minute 2's counts are out,
        # the app has read minute 3's event, so SIGTERM then loses nothing.
        assert wait_until(lambda: len(counts.json()) >= 6, 20), counts.json()
        assert wait_until(lambda: len(events.json()) == sum(layer.counts.values()), 10)
        app.send_signal(signal.SIGTERM)
        assert app.wait(15) == 0
        assert wait_until(lambda: len(counts.json()) >= 8, 5), counts.json()
    finally:
        if app.poll() is None:
            app.kill()
        counts.close()
        events.close()

    got = {(m["camera"], m["window_start"]): m for m in counts.json()}
    assert len(got) == 8
    for cam in ("cam0", "cam1"):
        for k in range(4):
            m = got[(cam, base + k * MINUTE)]
            assert m["counts"] == expected(cam, k), (cam, k, m)
            assert m["missing"] == 0 and m["late"] == 0 and m["partial"] is (k == 3), m
            assert m["device_id"] == "dev1" and m["window_s"] == MINUTE and m["schema_version"] == 2
        published = [e for e in events.json() if e["camera"] == cam]
        assert sum(got[(cam, base + k * MINUTE)]["events"] for k in range(4)) == len(published)


def _event(kind: str, seq: int, t: float, label: str = "person") -> EventMessage:
    body = {"event": kind, "camera": "cam0", "frame_id": seq, "time": t, "snapshot": None,
            "track": {"id": 1, "uid": "u", "class_id": 0, "label": label, "score": 0.9, "best_score": 0.9,
                      "box": [0, 0, 1, 1], "box_norm": [0, 0, 0.1, 0.1], "first_seen": t, "last_seen": t,
                      "duration_s": 0.0, "frames": 2, "zones": [], "zones_entered": [], "active": kind != "end"}}
    return EventMessage.parse("edge/dev1/cam0/events", json.dumps(message(body, seq)).encode())


def test_windows_gaps_late_objects_and_grace() -> None:
    c = ClassCounter(window_s=60, grace_s=5)
    assert c.add(_event("new", 1, 120.0)) == []
    assert c.add(_event("new", 3, 150.0, "car")) == []  # seq 2 never arrives
    closed = c.add(_event("new", 4, 181.0, "dog"))
    assert len(closed) == 1 and closed[0]["counts"] == {"car": 1, "person": 1} and closed[0]["missing"] == 1
    assert c.add(_event("new", 2, 130.0, "car")) == []  # its window was already published: late, not counted
    assert c.add(_event("end", 5, 150.0)) == []  # last seen in a published window: goes to the open one, not late
    assert c.expire(now=245.0) == []  # window [180, 240) + 5 s grace: still open
    (expired,) = c.expire(now=246.0)
    assert expired["counts"] == {"dog": 1} and expired["late"] == 1 and not expired["partial"]  # seq 2, reported here
    assert (expired["first_seq"], expired["last_seq"], expired["events"], expired["missing"]) == (4, 5, 2, 0)
    c.add(_event("update", 6, 250.0))
    (last,) = c.flush()
    assert last["events"] == 1 and last["counts"] == {} and last["partial"] is True
    assert json.dumps(last)
