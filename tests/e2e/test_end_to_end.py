"""The whole product on the CPU default: a real Mosquitto, `edge-sdk run` as a process on the bundled sample
video with the bundled model, and a real subscriber that collects every message."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import jsonschema
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_sdk.evaluate.metrics import recall_at_iou
from tests.support.app_config import demo_app_config
from tests.support.broker import MosquittoBroker

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "edge_sdk/schemas/detection.schema.json").read_text())


class Collector:
    def __init__(self, port: int, topic: str, client_id: str = "e2e-collector") -> None:
        self.messages: list[dict[str, Any]] = []
        self.raw_topics: list[str] = []
        self._subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._subscribed.wait(10), "collector could not subscribe"

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        self.raw_topics.append(msg.topic)
        self.messages.append(json.loads(msg.payload))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def recall_at_50(messages: list[dict[str, Any]], gt: dict[str, Any]) -> float:
    """Recall at IoU 0.5 of the published detections against the ground truth (COCOeval matching)."""
    cat_by_name = {c["name"]: c["id"] for c in gt["categories"]}
    dets = []
    for m in messages:
        for d in m["detections"]:
            x1, y1, x2, y2 = d["box"]
            dets.append({"image_id": m["frame_id"], "category_id": cat_by_name[d["label"]],
                         "bbox": [x1, y1, x2 - x1, y2 - y1], "score": d["score"]})
    return recall_at_iou(gt, dets, iou=0.5).recall


def test_run_on_sample_video_delivers_every_frame_once(tmp_path: Path, broker: MosquittoBroker,
                                                       demo_model: Path, sample_video: Path) -> None:
    gt = json.loads((ROOT / "samples/demo.coco.json").read_text())
    n_frames = len(gt["images"])
    cfg = demo_app_config(tmp_path, "e2e", demo_model, sample_video, broker.port)
    collector = Collector(broker.port, "edge/e2e/+/detections")
    try:
        res = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "run", "--config", str(cfg), "--json"],
                             capture_output=True, text=True, timeout=600, cwd=ROOT)
        assert res.returncode == 0, res.stderr[-3000:]
        summary = json.loads(res.stdout)
        assert summary["frames"] == n_frames
        # run drains the spool before exiting, so everything was acknowledged by the broker
        import time

        deadline = time.monotonic() + 15
        while len(collector.messages) < n_frames and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        collector.close()
    ids = [m["frame_id"] for m in collector.messages]
    assert sorted(ids) == list(range(n_frames)), "every frame id exactly once"
    assert ids == sorted(ids), "in order"
    seqs = [m["seq"] for m in collector.messages]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    for m in collector.messages:
        jsonschema.validate(m, SCHEMA)
    assert set(collector.raw_topics) == {"edge/e2e/cam0/detections"}
    recall = recall_at_50(collector.messages, gt)
    print(f"e2e: {n_frames} frames, recall@0.5 = {recall:.3f}")
    assert recall >= 0.9
