"""Every camera down: the real daemon with two RTSP cameras whose real gst-rtsp-servers are down at start, a real
Mosquitto and a real notify socket. Defined in docs/faults.md: the service does not say READY=1 and feeds no
watchdog until a frame went through the engine (systemd's TimeoutStartSec bounds that wait and restarts the unit);
once running, when every camera has stopped delivering for `daemon.watchdog_stall_s` (the grace), the pings stop
(STATUS says stalled) while the daemon itself stays up, and they come back with the first camera that delivers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.daemon.conftest import start_daemon, stop_daemon
from tests.daemon.notify_socket import NotifySocket
from tests.daemon.test_cameras_fail_alone import Topics
from tests.sources.rtsp_server import RtspServer, free_port, server_python
from tests.support.broker import MosquittoBroker

pytestmark = [pytest.mark.broker, pytest.mark.gstreamer]


def _config(tmp_path: Path, model: Path, broker_port: int, ports: tuple[int, int]) -> Path:
    cams = "".join(f"""  - name: cam{i}
    uri: rtsp://127.0.0.1:{port}/cam?backend=ffmpeg&timeout=2
    stall_timeout_s: 2
""" for i, port in enumerate(ports))
    cfg = tmp_path / "app.yaml"
    cfg.write_text(f"""device: cpu
device_id: dark
state_dir: {tmp_path / 'state'}
model:
  path: {model}
sources:
{cams}mqtt:
  host: 127.0.0.1
  port: {broker_port}
  stats_interval_s: 0.5
daemon:
  watchdog_stall_s: 2.0
  status_interval_s: 0.5
""")
    return cfg


def test_no_ready_while_every_camera_is_down_and_no_watchdog_once_all_stop(tmp_path: Path, const_model: Path) -> None:
    if server_python() is None:
        pytest.skip("no gst-rtsp-server Python bindings (apt install python3-gi gir1.2-gst-rtsp-server-1.0)")
    broker = MosquittoBroker(tmp_path / "broker").start()
    ports = (free_port(), free_port())
    topics = Topics(broker.port, "edge/dark/#")
    server = RtspServer(ports[1])
    try:
        with NotifySocket(tmp_path / "notify.sock") as ns:
            proc = start_daemon(_config(tmp_path, const_model, broker.port, ports),
                                {"NOTIFY_SOCKET": ns.env_value, "WATCHDOG_USEC": "1000000"})
            try:
                for cam in ("cam0", "cam1"):
                    topics.wait(f"edge/dark/{cam}/status", lambda m: m["state"] == "reconnecting", 60)
                # The run loop is going (it publishes stats every 0.5 s): several supervisor ticks went by.
                seen = len(topics.payloads("edge/dark/stats"))
                deadline = time.monotonic() + 20
                while len(topics.payloads("edge/dark/stats")) < seen + 4 and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert len(topics.payloads("edge/dark/stats")) >= seen + 4
                assert ns.with_key("READY") == [] and ns.with_key("WATCHDOG") == [], "READY or a ping with no camera"
                assert proc.poll() is None, "the daemon waits for its cameras (systemd's TimeoutStartSec bounds it)"

                server.start()  # one camera comes up: the first frame through the engine makes the service ready
                ready = ns.wait_for("READY", 60)
                t_ready = time.monotonic()
                ns.wait_for("WATCHDOG", 10, since=t_ready)
                assert "cam0 reconnecting" in ready["STATUS"], ready

                server.kill()  # every camera down again, while running
                topics.wait("edge/dark/cam1/status", lambda m: m["state"] == "reconnecting", 20)
                deadline = time.monotonic() + 20
                while not any(m["STATUS"].startswith("stalled") for m in ns.with_key("STATUS", since=t_ready)):
                    assert time.monotonic() < deadline, ns.with_key("STATUS", since=t_ready)
                    time.sleep(0.05)
                t_stalled = time.monotonic()
                seen = len(topics.payloads("edge/dark/stats"))
                while len(topics.payloads("edge/dark/stats")) < seen + 4 and time.monotonic() < deadline + 20:
                    time.sleep(0.05)
                assert ns.with_key("WATCHDOG", since=t_stalled) == [], "pinged with every camera down"
                assert proc.poll() is None, "the daemon stays up; systemd (WatchdogSec) decides"
            finally:
                rc, _out, err = stop_daemon(proc)
    finally:
        server.stop()
        topics.close()
        broker.stop()
    assert rc == 0, err
    assert "service unhealthy (no camera delivered a frame within 2 s (cam0, cam1)" in err, err[-3000:]
