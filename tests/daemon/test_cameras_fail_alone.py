"""Cameras fail alone: the real daemon (`python -m edge_sdk.cli.main run`) with a working file camera, an RTSP
camera whose real gst-rtsp-server is down at start (then started, then killed with SIGKILL), and a file camera
that cannot be opened at all, publishing to a real Mosquitto, under a real notify socket."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from edge_sdk.publish.message import load_schema
from tests.daemon.conftest import start_daemon, stop_daemon
from tests.daemon.notify_socket import NotifySocket
from tests.pipeline.conftest import write_video
from tests.publish.conftest import TopicCollector
from tests.sources.rtsp_server import RtspServer, free_port, server_python
from tests.support.broker import MosquittoBroker

pytestmark = [pytest.mark.broker, pytest.mark.gstreamer]
SECRET = "hunter2"


def _config(tmp_path: Path, model: Path, broker_port: int, rtsp_port: int, watchdog: str) -> Path:
    video = write_video(tmp_path / "clip.avi", 30)
    cfg = tmp_path / "app.yaml"
    cfg.write_text(f"""device: cpu
device_id: cams
state_dir: {tmp_path / 'state'}
model:
  path: {model}
sources:
  - name: yard
    uri: file://{video}?loop=1&realtime=1&fps=10
  - name: door
    uri: rtsp://admin:{SECRET}@127.0.0.1:{rtsp_port}/cam?backend=ffmpeg&timeout=2&token={SECRET}
    stall_timeout_s: 2
  - name: gone
    uri: file://{tmp_path / 'missing.mp4'}
mqtt:
  host: 127.0.0.1
  port: {broker_port}
  stats_interval_s: 1.0
daemon:
  watchdog: {watchdog}
  watchdog_stall_s: 2.0
  status_interval_s: 0.5
""")
    return cfg


class Topics(TopicCollector):
    def payloads(self, topic: str) -> list[bytes]:
        return [p for t, p in self.messages if t == topic]

    def last(self, topic: str) -> dict[str, Any] | None:
        got = self.payloads(topic)
        return json.loads(got[-1]) if got else None

    def wait(self, topic: str, predicate: Any, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = self.last(topic)
            if last is not None and predicate(last):
                return last
            time.sleep(0.05)
        raise AssertionError(f"{topic}: no matching message within {timeout} s; last {self.last(topic)}")

    def detections_of(self, camera: str) -> int:
        return len(self.payloads(f"edge/cams/{camera}/detections"))


def test_the_daemon_runs_with_the_cameras_it_can_open_and_reports_each(tmp_path: Path, const_model: Path) -> None:
    if server_python() is None:
        pytest.skip("no gst-rtsp-server Python bindings (apt install python3-gi gir1.2-gst-rtsp-server-1.0)")
    broker = MosquittoBroker(tmp_path / "broker").start()
    port = free_port()
    cfg = _config(tmp_path, const_model, broker.port, port, "any")
    topics = Topics(broker.port, "edge/cams/#")
    schema = jsonschema.Draft202012Validator(load_schema("camera_status"))
    server = RtspServer(port)
    try:
        with NotifySocket(tmp_path / "notify.sock") as ns:
            proc = start_daemon(cfg, {"NOTIFY_SOCKET": ns.env_value, "WATCHDOG_USEC": "1000000"})
            try:
                ns.wait_for("READY", 60)
                door = topics.wait("edge/cams/door/status", lambda m: m["state"] == "reconnecting", 20)
                gone = topics.wait("edge/cams/gone/status", lambda m: m["state"] == "offline", 5)
                topics.wait("edge/cams/yard/status", lambda m: m["state"] == "online", 5)
                assert "file not found" in gone["reason"]
                t_down = time.monotonic()
                ns.wait_for("WATCHDOG", 10, since=t_down + 1.5)  # one camera down: still fed
                status = ns.wait_for("STATUS", 5, since=t_down)["STATUS"]
                assert status.startswith("degraded") and "door reconnecting" in status, status

                server.start()  # the camera comes back: the daemon picks it up by itself
                topics.wait("edge/cams/door/status", lambda m: m["state"] == "online", 20)
                deadline = time.monotonic() + 20
                while topics.detections_of("door") == 0 and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert topics.detections_of("door") > 0

                server.kill()  # SIGKILL: a camera that dies while the daemon runs
                lost = topics.wait("edge/cams/door/status", lambda m: m["state"] == "reconnecting", 20)
                yard_before = topics.detections_of("yard")
                t_lost = time.monotonic()
                ns.wait_for("WATCHDOG", 10, since=t_lost + 1.0)
                stats = topics.wait("edge/cams/stats", lambda m: any(
                    s["camera"] == "door" and s["status"] == "reconnecting" for s in m["sources"]), 10)
                assert proc.poll() is None
                deadline = time.monotonic() + 10
                while topics.detections_of("yard") <= yard_before and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert topics.detections_of("yard") > yard_before, "the other camera keeps delivering"
            finally:
                rc, _out, err = stop_daemon(proc)
        final = topics.wait("edge/cams/door/status", lambda m: m["state"] == "offline", 10)
    finally:
        server.stop()
        topics.close()
        broker.stop()
    assert rc == 0, err
    for msg in (door, gone, lost, final):
        schema.validate(msg)
    assert final["reason"] == "service stopped"
    by_camera = {s["camera"]: s for s in stats["sources"]}
    assert by_camera["yard"]["status"] == "online" and by_camera["yard"]["results"] > 0
    assert by_camera["door"]["reconnects"] >= 1 and by_camera["door"]["results"] > 0
    assert by_camera["gone"]["status"] == "offline"
    everything = err + "".join(p.decode(errors="replace") for _t, p in topics.messages)
    assert SECRET not in everything, "a camera password reached the journal or a topic"
    assert "admin:***@" in err


def test_watchdog_all_is_fed_only_while_every_camera_delivers(tmp_path: Path, const_model: Path) -> None:
    broker = MosquittoBroker(tmp_path / "broker").start()
    cfg = _config(tmp_path, const_model, broker.port, free_port(), "all")
    try:
        with NotifySocket(tmp_path / "notify.sock") as ns:
            proc = start_daemon(cfg, {"NOTIFY_SOCKET": ns.env_value, "WATCHDOG_USEC": "1000000"})
            try:
                ns.wait_for("READY", 60)
                t_ready = time.monotonic()
                stalled = ns.wait_for("STATUS", 10, since=t_ready)
                deadline = time.monotonic() + 10
                while "stalled" not in stalled["STATUS"] and time.monotonic() < deadline:
                    stalled = ns.with_key("STATUS", since=t_ready)[-1]
                    time.sleep(0.1)
                assert stalled["STATUS"].startswith("stalled"), stalled
                t_stalled = time.monotonic()
                time.sleep(2.5)  # several watchdog half-intervals: none may be fed
                assert ns.with_key("WATCHDOG", since=t_stalled) == []
                assert proc.poll() is None
            finally:
                rc, _out, err = stop_daemon(proc)
    finally:
        broker.stop()
    assert rc == 0, err
    assert "cameras not delivering (daemon.watchdog: all): door, gone" in err
