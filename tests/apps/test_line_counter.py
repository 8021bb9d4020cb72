"""apps/line_counter.py: crossings per hour into CSV files and MQTT, from the daemon's events layer through a real
publisher and a real Mosquitto to the app as a process, which is SIGKILLed mid-way: crossings sent while it
is down and copies of those it had counted (as a daemon replaying its spool sends them) are counted once."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from apps.line_counter import hour_of
from tests.apps.events_feed import CAR, DOG, PERSON, Visit, event_layer, feed
from tests.publish.conftest import TopicCollector
from tests.publish.helpers import open_test_publisher, publisher_settings, wait_until
from tests.support.broker import MosquittoBroker

ROOT = Path(__file__).resolve().parents[2]
EVENTS = {"tracker": {"track_buffer": 3}, "update_interval_s": 0,
          "cameras": {"cam0": {"lines": {"gate": {"points": [[320, 0], [320, 480]], "in_direction": "right"}}}}}
# a frame a second, objects 10 px a frame (ByteTrack confirms a new track on its overlap with the last box);
# frame 20 starts hour B. People walk right (in), cars left (out), each on its own row.
BEFORE = [Visit("cam0", PERSON, 0, 24, 200, 440, 100), Visit("cam0", CAR, 1, 25, 440, 200, 200),  # cross 12, 13
          Visit("cam0", PERSON, 25, 49, 200, 440, 300), Visit("cam0", DOG, 30, 54, 200, 440, 400)]  # 37, 42
WHILE_DOWN = [Visit("cam0", PERSON, 62, 86, 200, 440, 100), Visit("cam0", CAR, 65, 89, 440, 200, 200)]

def read_csv(folder: Path) -> dict[tuple[str, ...], tuple[int, int]]:
    rows = {}
    for path in sorted(folder.glob("line-counts-*.csv")):
        for r in csv.DictReader(path.read_text().splitlines()):
            assert path.name == f"line-counts-{r['hour'][:10]}.csv"
            rows[(r["hour"], r["device"], r["camera"], r["line"], r["label"])] = (int(r["in"]), int(r["out"]))
    return rows


def cross_events(collector: TopicCollector) -> list[tuple[str, bytes]]:
    return [(t, p) for t, p in collector.messages if json.loads(p)["event"] == "cross"]


def start_app(port: int, out: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    """apps/line_counter.py as a process, once it listens (its log goes to `log`)."""
    with log.open("ab") as f:
        app = subprocess.Popen([sys.executable, "apps/line_counter.py", "--broker", f"127.0.0.1:{port}", "--out", str(out),
                                "--client-id", "lines-test", *extra], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)),
                               stderr=f)
    assert wait_until(lambda: "line_counter: counting" in log.read_text() or app.poll() is not None, 30), log.read_text()
    assert app.poll() is None, log.read_text()
    return app


def retained(port: int, topic: str) -> dict[str, Any]:
    got: list[dict[str, Any]] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="retained-reader")
    c.on_connect = lambda cl, *_: cl.subscribe(topic, 1)
    c.on_message = lambda _c, _u, m: got.append(json.loads(m.payload)) if m.retain else None
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        assert wait_until(lambda: bool(got), 10)
    finally:
        c.loop_stop()
        c.disconnect()
    return got[-1]


@pytest.mark.broker
def test_hourly_crossings_survive_a_crash_without_double_counting(broker: MosquittoBroker, tmp_path: Path) -> None:
    hour_b = datetime.now().astimezone().replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    t0 = hour_b.timestamp() - 20
    a, b = hour_of(t0), hour_of(t0 + 20)
    out = tmp_path / "counts"
    events = TopicCollector(broker.port, "edge/+/+/events")
    hourly = TopicCollector(broker.port, "edge/+/+/lines/+/hourly")
    app = start_app(broker.port, out, tmp_path / "app.log")
    try:
        with open_test_publisher(publisher_settings(broker.port, tmp_path / "s.sqlite")) as pub:
            layer = event_layer(tmp_path, pub, ["cam0"], EVENTS)
            feed(layer, BEFORE, range(60), t0, 1.0)
            assert pub.flush(10)
            assert wait_until(lambda: sum(sum(v) for v in read_csv(out).values()) == 4, 20), read_csv(out)
            assert wait_until(lambda: {m["hour"] for m in hourly.json()} == {a, b}, 10)  # republished too
            app.kill()  # SIGKILL: no goodbye, whatever it held in memory is gone
            app.wait(10)
            assert wait_until(lambda: len(cross_events(events)) == 4, 10)
            replay = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="spool-replay")
            replay.connect("127.0.0.1", broker.port)
            replay.loop_start()
            for topic, payload in cross_events(events):  # the daemon sends again what the broker had acknowledged
                replay.publish(topic, payload, qos=1).wait_for_publish(5)
            replay.loop_stop()
            replay.disconnect()
            feed(layer, BEFORE + WHILE_DOWN, range(60, 100), t0, 1.0)  # queued for the app after the copies
            layer.close()
            assert pub.flush(10)
        assert wait_until(lambda: len(cross_events(events)) == 4 + 4 + 2, 10)

        app = start_app(broker.port, out, tmp_path / "app.log")
        assert wait_until(lambda: sum(sum(v) for v in read_csv(out).values()) >= 6, 20), read_csv(out)
        app.send_signal(signal.SIGTERM)
        assert app.wait(15) == 0
    finally:
        if app.poll() is None:
            app.kill()
        events.close()
        hourly.close()

    key = ("dev1", "cam0", "gate")
    assert read_csv(out) == {(a, *key, "car"): (0, 1), (a, *key, "person"): (1, 0),
                             (b, *key, "car"): (0, 1), (b, *key, "dog"): (1, 0), (b, *key, "person"): (2, 0)}
    latest = retained(broker.port, "edge/dev1/cam0/lines/gate/hourly")
    assert (latest["hour"], latest["in"], latest["out"]) == (b, {"dog": 1, "person": 2}, {"car": 1})
    assert latest["in_total"] == 3 and latest["out_total"] == 1
    assert {m["hour"]: (m["in_total"], m["out_total"]) for m in hourly.json()} == {a: (1, 1), b: (3, 1)}  # the last of each
