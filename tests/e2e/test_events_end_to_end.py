"""Events end to end on the CPU default: a real Mosquitto, `edge-sdk run` as a process on the bundled sample
video with the bundled model, a zone and a line drawn here, snapshots and Home Assistant discovery on.

One daemon run of the first FRAMES frames (`--max-frames`: the same pixels as the whole video, a fraction of
its inference) and every check on that run: every event validates against the schema and arrives once; the
zone's enter/exit counts and the line's crossings per class and direction match the scene's ground truth (the
generator's track ids, run through the same zone and line rules); the detections topic still carries every
frame; the retained state, snapshots and discovery are there; apps/line_counter.py, running beside the
daemon, has the crossings per hour in its CSV and on MQTT.

FRAMES: 155, and no ground-truth entry or crossing of the checked classes happens within 10 frames of the
cut (frames 144..166 give the same counts), so a frame of tracking delay cannot move one across it. The zone
counts people and dogs: the demo detector calls one bicycle a parcel, which is a detector's error the
events layer cannot undo (the line's per-class check is for the same classes, its total for every class).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from apps.line_counter import hour_of
from edge_sdk.config.events import LineConfig, ZoneConfig
from edge_sdk.events.geometry import Line, Zone, anchor_point
from tests.apps.test_line_counter import read_csv, start_app
from tests.e2e.test_end_to_end import Collector
from tests.publish.helpers import wait_until
from tests.support.app_config import demo_app_config
from tests.support.broker import MosquittoBroker

ROOT = Path(__file__).resolve().parents[2]
EVENT_SCHEMA = json.loads((ROOT / "edge_sdk/schemas/event.schema.json").read_text())
DETECTION_SCHEMA = json.loads((ROOT / "edge_sdk/schemas/detection.schema.json").read_text())
HA_SCHEMA = json.loads((ROOT / "tests/events/ha_discovery.schema.json").read_text())
FRAMES = 155
LEFT = ZoneConfig(polygon=[(0, 0), (0.5, 0), (0.5, 1), (0, 1)], inertia=3, classes=["person", "dog"])
MIDDLE = LineConfig(points=[(320, 0), (320, 480)], in_direction="right")
CHECKED = ("person", "dog")
DISCOVERY = 1 + 1 + 6 + 3 + 2  # device online, camera online, 6 classes in view, the zone's 2 classes + all, line in/out

pytestmark = [pytest.mark.broker]

Paths = dict[int, dict[int, tuple[float, float]]]


def truth_paths(gt: dict[str, Any], frames: int) -> tuple[Paths, dict[int, str]]:
    """Per ground-truth object, its bottom centre per frame (frames < `frames`), and its class name."""
    names = {c["id"]: c["name"] for c in gt["categories"]}
    paths: Paths = defaultdict(dict)
    label = {}
    for a in gt["annotations"]:
        if a["image_id"] < frames:
            x, y, w, h = a["bbox"]
            paths[a["track_id"]][a["image_id"]] = anchor_point((x, y, x + w, y + h), "bottom_center")
            label[a["track_id"]] = names[a["category_id"]]
    return paths, label


def truth_entries(paths: Paths, label: dict[int, str], zone: Zone) -> Counter[str]:
    """Per class, how often an object entered the zone (the events layer's inertia rule)."""
    entries: Counter[str] = Counter()
    for track_id, path in paths.items():
        member, n = False, 0
        for frame in sorted(path):
            if zone.contains(path[frame]) == member:
                n = 0
                continue
            n += 1
            if n >= zone.inertia:
                member, n = not member, 0
                entries[label[track_id]] += int(member)
    return entries


def truth_crossings(paths: Paths, label: dict[int, str], line: Line) -> Counter[tuple[str, str]]:
    """Per (class, direction), how often an object crossed the line (the events layer's side/span rule)."""
    out: Counter[tuple[str, str]] = Counter()
    for track_id, path in paths.items():
        last: tuple[int, tuple[float, float]] | None = None
        for frame in sorted(path):
            side = line.side(path[frame])
            if side == 0:
                continue
            if last is not None and last[0] != side and line.spans(last[1], path[frame]):
                out[(label[track_id], "in" if side > 0 else "out")] += 1
            last = (side, path[frame])
    return out


def _config(tmp_path: Path, port: int, model: Path, video: Path) -> Path:
    def points(cfg: ZoneConfig | LineConfig) -> str:
        return json.dumps([list(p) for p in (cfg.polygon if isinstance(cfg, ZoneConfig) else cfg.points)])

    extra = f"""events:
  update_interval_s: 2
  cameras:
    cam0:
      zones:
        left: {{polygon: {points(LEFT)}, inertia: {LEFT.inertia}, classes: {json.dumps(LEFT.classes)}}}
      lines:
        middle: {{points: {points(MIDDLE)}, in_direction: {MIDDLE.in_direction}}}
  snapshots: {{enabled: true, publish: crop}}
homeassistant: {{enabled: true}}
"""
    return demo_app_config(tmp_path, "e2e", model, video, port, extra)


def _retained(port: int, wanted: list[str], discovery: int) -> dict[str, bytes]:
    """Every retained message under edge/e2e/# and homeassistant/#, once the `wanted` topics, a snapshot and
    `discovery` discovery messages are in."""
    got: dict[str, bytes] = {}
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="e2e-retained")
    c.on_connect = lambda cl, *_: cl.subscribe([("edge/e2e/#", 1), ("homeassistant/#", 1)])
    c.on_message = lambda _c, _u, m: got.__setitem__(m.topic, m.payload) if m.retain else None
    c.connect("127.0.0.1", port)
    c.loop_start()

    def complete() -> bool:
        topics = list(got)
        return (all(t in topics for t in wanted) and any(t.startswith("edge/e2e/cam0/snapshot/") for t in topics)
                and sum(t.startswith("homeassistant/") for t in topics) >= discovery)

    try:
        wait_until(complete, 15)
    finally:
        c.loop_stop()
        c.disconnect()
    return dict(got)


def test_events_on_the_sample_video(tmp_path: Path, broker: MosquittoBroker, demo_model: Path, sample_video: Path) -> None:
    gt = json.loads((ROOT / "samples/demo.coco.json").read_text())
    cfg = _config(tmp_path, broker.port, demo_model, sample_video)
    events = Collector(broker.port, "edge/e2e/+/events", client_id="e2e-events")
    detections = Collector(broker.port, "edge/e2e/+/detections", client_id="e2e-detections")
    line_counts = tmp_path / "line-counts"
    app = start_app(broker.port, line_counts, tmp_path / "line_counter.log", "--client-id", "e2e-lines")
    try:
        res = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "run", "--config", str(cfg), "--json",
                              "--max-frames", str(FRAMES)], capture_output=True, text=True, timeout=600, cwd=ROOT)
        assert res.returncode == 0, res.stderr[-3000:]
        assert json.loads(res.stdout)["frames"] == FRAMES
        # run drains the spool before it exits: every message is at the broker, on its way to the collectors
        assert wait_until(lambda: len(detections.messages) >= FRAMES and any(m["event"] == "end" for m in events.messages)
                          and sum(m["event"] == "new" for m in events.messages) ==
                          sum(m["event"] == "end" for m in events.messages), 30)
        crossings = [m for m in events.messages if m["event"] == "cross"]
        assert wait_until(lambda: sum(sum(v) for v in read_csv(line_counts).values()) == len(crossings), 30)
        app.send_signal(signal.SIGTERM)
        assert app.wait(15) == 0
        retained = _retained(broker.port, ["edge/e2e/cam0/zones/left/count", "edge/e2e/cam0/lines/middle/count",
                                           "edge/e2e/cam0/objects", "edge/e2e/cam0/status",
                                           "edge/e2e/cam0/lines/middle/hourly"], DISCOVERY)
    finally:
        if app.poll() is None:
            app.kill()
        events.close()
        detections.close()

    # the detections topic is as without events: every frame once, valid
    assert sorted(m["frame_id"] for m in detections.messages) == list(range(FRAMES))
    for m in detections.messages:
        jsonschema.validate(m, DETECTION_SCHEMA)

    msgs = sorted(events.messages, key=lambda m: m["seq"])
    assert [m["seq"] for m in msgs] == list(range(1, len(msgs) + 1)), "every event once, none missing"
    for m in msgs:
        jsonschema.validate(m, EVENT_SCHEMA)
        assert m["frame_id"] < FRAMES
    kinds = Counter(m["event"] for m in msgs)
    assert kinds["new"] == kinds["end"] > 0 and kinds["update"] > 0 and kinds["cross"] > 0
    ends = {m["track"]["uid"] for m in msgs if m["event"] == "end"}
    assert ends == {m["track"]["uid"] for m in msgs if m["event"] == "new"}, "every confirmed track ends once"

    # enter/exit in the zone and crossings of the line against the scene's ground truth
    paths, label = truth_paths(gt, FRAMES)
    truth_in = truth_entries(paths, label, Zone.of("left", LEFT, 640, 480, None))
    truth_cross = truth_crossings(paths, label, Line.of("middle", MIDDLE, 640, 480, None))
    enters = Counter(m["track"]["label"] for m in msgs if m["event"] == "enter")
    exits = Counter(m["track"]["label"] for m in msgs if m["event"] == "exit")
    crossed = Counter((m["track"]["label"], m["direction"]) for m in msgs if m["event"] == "cross")
    print(f"e2e events: {dict(kinds)}; zone enters {dict(enters)}, truth {dict(truth_in)}; "
          f"crossings {dict(crossed)}, truth {dict(truth_cross)}")
    assert {k: enters[k] for k in CHECKED} == {k: truth_in[k] for k in CHECKED} and sum(enters.values()) > 0
    assert exits == enters and set(enters) <= set(CHECKED), "the zone's class filter holds; everyone leaves"
    assert all(m["dwell_s"] >= 0 and m["zone"] == "left" for m in msgs if m["event"] == "exit")
    for key in [(c, d) for c in CHECKED for d in ("in", "out")]:
        assert crossed[key] == truth_cross[key], key
    assert sum(crossed.values()) == sum(truth_cross.values())

    # apps/line_counter.py, run beside the daemon: per hour, class and direction, the cross events
    per_hour: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for m in msgs:
        if m["event"] == "cross":
            per_hour[(hour_of(m["time"]), "e2e", "cam0", "middle", m["track"]["label"])][m["direction"] == "out"] += 1
    assert read_csv(line_counts) == {k: tuple(v) for k, v in per_hour.items()}
    hourly = json.loads(retained["edge/e2e/cam0/lines/middle/hourly"])
    assert hourly["hour"] == max(k[0] for k in per_hour)
    assert (hourly["in_total"], hourly["out_total"]) == (
        sum(v[0] for k, v in per_hour.items() if k[0] == hourly["hour"]),
        sum(v[1] for k, v in per_hour.items() if k[0] == hourly["hour"]))

    # retained state: everything has left by the end; line counts agree with the cross events
    assert json.loads(retained["edge/e2e/cam0/zones/left/count"])["all"] == 0
    line = json.loads(retained["edge/e2e/cam0/lines/middle/count"])
    directions = Counter(d for _, d in crossed.elements())
    assert (line["in_total"], line["out_total"]) == (directions["in"], directions["out"])
    assert all(v == 0 for v in json.loads(retained["edge/e2e/cam0/objects"]).values())
    snaps = [t for t in retained if t.startswith("edge/e2e/cam0/snapshot/")]
    assert snaps and all(retained[t][:2] == b"\xff\xd8" for t in snaps)  # JPEG
    saved = list((tmp_path / "state" / "snapshots" / "cam0").glob("*-crop.jpg"))
    assert len(saved) == kinds["end"]
    discovery = {t: json.loads(p) for t, p in retained.items() if t.startswith("homeassistant/")}
    assert len(discovery) == DISCOVERY, sorted(discovery)
    for topic, payload in discovery.items():
        jsonschema.validate(payload, {**HA_SCHEMA, "$ref": f"#/$defs/{topic.split('/')[1]}"})
    camera_status = json.loads(retained["edge/e2e/cam0/status"])  # what the camera entities' availability reads
    assert camera_status["state"] == "offline" and camera_status["camera"] == "cam0"
