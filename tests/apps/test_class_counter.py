"""apps/class_counter.py: per-class counts per minute from the detections of a real publisher, through a
real Mosquitto, republished and checked against counts computed from the frames that were sent."""

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
from edge_sdk.publish.message import ModelRef, detections_message, encode
from edge_sdk.publish.subscriber import DetectionMessage
from tests.publish.conftest import TopicCollector
from tests.publish.helpers import ENGINE, LABELS, frame_result, open_test_publisher, publisher_settings, wait_until
from tests.support.broker import MosquittoBroker

ROOT = Path(__file__).resolve().parents[2]
MINUTE = 60.0


def _result_at(camera: str, frame_id: int, t_wall: float, n_dets: int):  # type: ignore[no-untyped-def]
    r = frame_result(camera, frame_id, n_dets=n_dets)
    r.frame.t_capture_wall = t_wall
    return r


@pytest.mark.broker
def test_counts_per_minute_are_republished(broker: MosquittoBroker, tmp_path: Path) -> None:
    collector = TopicCollector(broker.port, "edge/+/+/counts")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    app = subprocess.Popen([sys.executable, "apps/class_counter.py", "--broker", f"127.0.0.1:{broker.port}",
                            "--grace", "3600"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert app.stderr is not None and "counting" in app.stderr.readline()
        base = (time.time() // MINUTE - 10) * MINUTE  # ten minutes ago, on a minute boundary
        sent: list = []  # type: ignore[type-arg]
        with open_test_publisher(publisher_settings(broker.port, tmp_path / "s.sqlite")) as pub:
            for cam in ("cam0", "cam1"):
                for i in range(91):  # one frame every 2 s: 30 in each of minutes 0, 1 and 2, then one in minute 3
                    r = _result_at(cam, i, base + 2.0 * i, n_dets=(i % 4) if cam == "cam0" else 1)
                    pub.publish_result(r)
                    sent.append(r)
            assert pub.flush(10)
        # Minutes 0-2 close when the next minute's first frame arrives, minute 3 at exit. Once minute 2's counts
        # are out, the app has read every frame (minute 3's single frame closed it), so SIGTERM loses nothing;
        # signalling earlier would race the frames still on their way (a CI run lost 24 of cam1's last minute).
        assert wait_until(lambda: len(collector.json()) >= 6, 10), collector.json()
        app.send_signal(signal.SIGTERM)
        assert app.wait(15) == 0
        assert wait_until(lambda: len(collector.json()) >= 8, 5), collector.json()
    finally:
        if app.poll() is None:
            app.kill()
        collector.close()

    got = {(m["camera"], m["window_start"]): m for m in collector.json()}
    assert len(got) == 8
    for cam in ("cam0", "cam1"):
        for k in range(4):
            start = base + k * MINUTE
            frames = [r for r in sent if r.frame.camera == cam and start <= r.frame.t_capture_wall < start + MINUTE]
            expected = Counter(LABELS[int(c)] for r in frames for c in r.detections.class_ids)
            m = got[(cam, start)]
            assert m["frames"] == len(frames) and m["counts"] == dict(expected), (cam, k)
            assert m["missing"] == 0 and m["late"] == 0 and m["partial"] is (k == 3)
            assert m["device_id"] == "dev1" and m["window_s"] == MINUTE


def _msg(seq: int, t: float, labels: list[str]) -> DetectionMessage:
    r = frame_result("cam0", seq, n_dets=len(labels))
    r.frame.t_capture_wall = t
    model = ModelRef("m", ENGINE.model_sha256, "fp32", "onnxruntime")
    names = dict(enumerate(labels))
    r.detections.class_ids[:] = list(range(len(labels)))
    return DetectionMessage.parse("t", encode(detections_message(r, device_id="d", seq=seq, model=model,
                                                                  label=lambda c: names[c])))


def test_windows_gaps_late_messages_and_grace() -> None:
    c = ClassCounter(window_s=60, grace_s=5)
    assert c.add(_msg(1, 120.0, ["person"])) == []
    assert c.add(_msg(3, 150.0, ["person", "car"])) == []  # seq 2 never arrives
    closed = c.add(_msg(4, 181.0, ["dog"]))
    assert len(closed) == 1 and closed[0]["counts"] == {"car": 1, "person": 2} and closed[0]["missing"] == 1
    assert c.add(_msg(2, 130.0, ["car"])) == []  # its window was already published: late, not counted
    assert c.expire(now=245.0) == []  # window [180, 240) + 5 s grace: still open
    (expired,) = c.expire(now=246.0)
    assert expired["counts"] == {"dog": 1} and expired["late"] == 1 and not expired["partial"]  # seq 2, reported here
    c.add(_msg(5, 250.0, []))
    (last,) = c.flush()
    assert last["frames"] == 1 and last["counts"] == {} and last["partial"] is True
    assert json.dumps(last)
