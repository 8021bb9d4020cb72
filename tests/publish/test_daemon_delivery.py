"""The real daemon (`edge-sdk run`: OpenCV video decoding, ONNX Runtime, decode, this publisher) killed
while the broker is down and started again: what it had spooled arrives once both are back, then the new
run's frames, every message valid, sequence numbers continuing without a gap."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from edge_sdk.publish.message import load_schema
from edge_sdk.publish.settings import BrokerSettings
from edge_sdk.publish.subscriber import DetectionMessage, DetectionSubscriber
from tests.pipeline.conftest import write_video
from tests.publish.conftest import TopicCollector
from tests.publish.helpers import wait_until
from tests.support.broker import MosquittoBroker
from tests.support.onnx_models import constant_output_model

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[2]
FRAMES = 60


def _app(tmp_path: Path, port: int) -> Path:
    out = np.zeros((1, 6, 84), np.float32)  # 84 anchors: a 64x64 input at strides 8, 16, 32
    out[0, :4, :] = 1
    out[0, :, 0] = [32, 32, 16, 8, 0.05, 0.9]  # one "car" per frame
    model = constant_output_model(tmp_path / "const.onnx", out, names={0: "person", 1: "car"})
    video = write_video(tmp_path / "clip.avi", FRAMES)
    cfg = tmp_path / "app.yaml"
    cfg.write_text(f"""device_id: box1
state_dir: state
model:
  path: {model}
sources:
  - name: cam0
    uri: file://{video}?realtime=1
mqtt:
  port: {port}
  client_id: box1-daemon
  reconnect_min_s: 0.2
  reconnect_max_s: 1
  drain_timeout_s: 10
  stats_interval_s: 0.5
""")
    return cfg


def _run(cfg: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "edge_sdk.cli.main", "run", "--config", str(cfg)], cwd=ROOT,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _spooled(path: Path) -> int:
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path) as db:
            return int(db.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_daemon_killed_while_broker_down_delivers_after_restart(tmp_path: Path) -> None:
    broker = MosquittoBroker(tmp_path / "broker").start()
    cfg = _app(tmp_path, broker.port)
    spool = tmp_path / "state" / "spool" / "mqtt.sqlite"
    sub = DetectionSubscriber(BrokerSettings(port=broker.port), client_id="daemon-sub", persistent=True,
                              max_reconnect_delay_s=1).open()
    stats = TopicCollector(broker.port, "edge/box1/stats")
    broker.stop()  # the subscriber's session is saved; the daemon starts without a broker
    first = _run(cfg)
    try:
        assert wait_until(lambda: _spooled(spool) >= 20, 30), first.stderr.read() if first.poll() is not None else ""
        first.kill()
        first.wait(10)
        with sqlite3.connect(spool) as db:
            left = db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        broker.start()
        second = _run(cfg)
        _out, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
        assert f"{FRAMES} frames" in err and "not reachable" not in err
        received: list[DetectionMessage] = []
        deadline = time.monotonic() + 15
        while len(received) < left + FRAMES and time.monotonic() < deadline:
            msg = sub.get(timeout=0.2)
            if msg is not None:
                received.append(msg)
        assert wait_until(lambda: any(s["mqtt"]["spool"]["replayed"] >= left for s in stats.json()), 5)
    finally:
        stats.close()
        sub.close()
        broker.stop()
    schema = jsonschema.Draft202012Validator(load_schema("detection"))
    assert all(schema.is_valid(m.raw) for m in received)
    frames = [m.frame_id for m in received]
    assert frames == list(range(left)) + list(range(FRAMES))  # run 1's spool first, then run 2, in order
    assert [m.seq for m in received] == list(range(1, left + FRAMES + 1))
    assert all([d.label for d in m.detections] == ["car"] for m in received)
    assert json.loads(json.dumps(sub.tracker.summary()))["box1/cam0"]["missing"] == 0
