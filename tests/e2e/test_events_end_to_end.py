"""Events end to end on the CPU default: a real Mosquitto, `edge-sdk run` as a process on the bundled sample
video with the bundled model, a zone and a line drawn here, snapshots and Home Assistant discovery on.

Every event validates against the schema; the zone's enter/exit counts match the scene's ground truth (the
generator's track ids, run through the same zone rule); the retained state and discovery are there."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from edge_sdk.config.events import ZoneConfig
from edge_sdk.events.geometry import Zone
from tests.e2e.test_end_to_end import Collector
from tests.support.app_config import demo_app_config
from tests.support.broker import MosquittoBroker

ROOT = Path(__file__).resolve().parents[2]
EVENT_SCHEMA = json.loads((ROOT / "edge_sdk/schemas/event.schema.json").read_text())
HA_SCHEMA = json.loads((ROOT / "tests/events/ha_discovery.schema.json").read_text())
LEFT = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]  # the left half of the frame
INERTIA = 3

pytestmark = [pytest.mark.broker]


def truth_entries(gt: dict[str, Any], polygon: list[list[float]]) -> Counter[str]:
    """Per class, how often a ground-truth object's bottom centre entered the zone (same inertia rule)."""
    zone = Zone.of("z", ZoneConfig(polygon=[tuple(p) for p in polygon]), gt["info"]["width"], gt["info"]["height"], None)
    names = {c["id"]: c["name"] for c in gt["categories"]}
    paths: dict[int, dict[int, tuple[float, float]]] = defaultdict(dict)
    label = {}
    for a in gt["annotations"]:
        x, y, w, h = a["bbox"]
        paths[a["track_id"]][a["image_id"]] = (x + w / 2, y + h)
        label[a["track_id"]] = names[a["category_id"]]
    entries: Counter[str] = Counter()
    for track_id, path in paths.items():
        member, n = False, 0
        for frame in sorted(path):
            if zone.contains(path[frame]) == member:
                n = 0
                continue
            n += 1
            if n >= INERTIA:
                member, n = not member, 0
                entries[label[track_id]] += int(member)
    return entries


def test_events_on_the_sample_video(tmp_path: Path, broker: MosquittoBroker, demo_model: Path, sample_video: Path) -> None:
    gt = json.loads((ROOT / "samples/demo.coco.json").read_text())
    extra = f"""events:
  update_interval_s: 2
  cameras:
    cam0:
      zones:
        left: {{polygon: {LEFT}, inertia: {INERTIA}}}
      lines:
        middle: {{points: [[320, 0], [320, 480]], in_direction: right}}
  snapshots: {{enabled: true, publish: crop}}
homeassistant: {{enabled: true}}
"""
    cfg = demo_app_config(tmp_path, "e2e", demo_model, sample_video, broker.port, extra)
    events = Collector(broker.port, "edge/e2e/+/events")
    retained: dict[str, bytes] = {}
    try:
        res = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "run", "--config", str(cfg), "--json"],
                             capture_output=True, text=True, timeout=600, cwd=ROOT)
        assert res.returncode == 0, res.stderr[-3000:]
        summary = json.loads(res.stdout)
        assert summary["frames"] == len(gt["images"])
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from tests.publish.helpers import wait_until

        assert wait_until(lambda: any(m["event"] == "end" for m in events.messages) and
                          sum(m["event"] == "new" for m in events.messages) ==
                          sum(m["event"] == "end" for m in events.messages), 15)
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="e2e-retained")
        c.on_connect = lambda cl, *_: cl.subscribe([("edge/e2e/#", 1), ("homeassistant/#", 1)])
        c.on_message = lambda _c, _u, m: retained.__setitem__(m.topic, m.payload) if m.retain else None
        c.connect("127.0.0.1", broker.port)
        c.loop_start()
        assert wait_until(lambda: any(t.startswith("homeassistant/") for t in retained) and
                          "edge/e2e/cam0/zones/left/count" in retained, 10)
        c.loop_stop()
        c.disconnect()
    finally:
        events.close()

    msgs = sorted(events.messages, key=lambda m: m["seq"])
    assert [m["seq"] for m in msgs] == list(range(1, len(msgs) + 1)), "every event once, none missing"
    for m in msgs:
        jsonschema.validate(m, EVENT_SCHEMA)
    kinds = Counter(m["event"] for m in msgs)
    assert kinds["new"] == kinds["end"] > 0 and kinds["update"] > 0 and kinds["cross"] > 0

    # enter/exit in the zone against the scene's ground truth
    truth = truth_entries(gt, LEFT)
    enters = Counter(m["track"]["label"] for m in msgs if m["event"] == "enter" and m["zone"] == "left")
    exits = [m for m in msgs if m["event"] == "exit" and m["zone"] == "left"]
    print(f"e2e events: {dict(kinds)}; zone 'left' enters {dict(enters)}, ground truth {dict(truth)}")
    assert sum(enters.values()) == len(exits) == sum(truth.values())
    assert enters["person"] == truth["person"]
    assert all(m["dwell_s"] >= 0 for m in exits)

    # retained state: everything has left by the end; line counts agree with the cross events
    assert json.loads(retained["edge/e2e/cam0/zones/left/count"])["all"] == 0
    line = json.loads(retained["edge/e2e/cam0/lines/middle/count"])
    crossed = Counter(m["direction"] for m in msgs if m["event"] == "cross")
    assert (line["in_total"], line["out_total"]) == (crossed["in"], crossed["out"])
    assert all(v == 0 for v in json.loads(retained["edge/e2e/cam0/objects"]).values())
    snaps = [t for t in retained if t.startswith("edge/e2e/cam0/snapshot/")]
    assert snaps and all(retained[t][:2] == b"\xff\xd8" for t in snaps)  # JPEG
    saved = list((tmp_path / "state" / "snapshots" / "cam0").glob("*-crop.jpg"))
    assert len(saved) == kinds["end"]
    discovery = {t: json.loads(p) for t, p in retained.items() if t.startswith("homeassistant/")}
    assert len(discovery) >= 1 + 6 + 7 + 2  # online, 6 classes, zone per class + all, line in/out
    for topic, payload in discovery.items():
        component = topic.split("/")[1]
        jsonschema.validate(payload, {**HA_SCHEMA, "$ref": f"#/$defs/{component}"})
