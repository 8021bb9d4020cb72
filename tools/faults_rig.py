"""The rig the fault benchmarks run on (tools/bench_reconnect.py, tools/soak.py): a real Mosquitto, real
gst-rtsp-server cameras, the real daemon as a child process (`python -m edge_sdk.cli.main run`), and a
persistent subscriber that keeps every detection message it gets (seq, message id, capture and arrival time)."""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

ROOT = Path(__file__).resolve().parents[1]


def machine() -> dict[str, Any]:
    """What the figures were measured on (edge_sdk.bench.machine), with the platform and the date."""
    from edge_sdk.bench.machine import machine_record

    return {**machine_record(), "platform": platform.platform(), "date": time.strftime("%Y-%m-%d %H:%M")}


@dataclass
class Message:
    seq: int
    message_id: str
    capture_time: float
    arrived: float  # wall clock


@dataclass
class Collector:
    """A persistent MQTT subscriber (QoS 1, fixed client id) on `<prefix>/<device>/#`: detections per camera,
    the retained camera status messages, and the stats. Thread-safe reads."""

    port: int
    device: str
    client_id: str = "faults-rig"
    detections: dict[str, list[Message]] = field(default_factory=dict)
    statuses: dict[str, list[tuple[float, dict[str, Any]]]] = field(default_factory=dict)
    stats: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._ready = threading.Event()
        props = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        from paho.mqtt.packettypes import PacketTypes
        from paho.mqtt.properties import Properties

        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self._connect_props = props
        self.client.on_connect = lambda c, *_a: c.subscribe(f"edge/{self.device}/#", qos=1)
        self.client.on_subscribe = lambda *_a: self._ready.set()
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(1, 1)

    def start(self) -> Collector:
        self.client.connect("127.0.0.1", self.port, clean_start=False, properties=self._connect_props)
        self.client.loop_start()
        if not self._ready.wait(10):
            raise RuntimeError("the collector could not subscribe")
        return self

    def _on_message(self, _c: Any, _u: Any, msg: Any) -> None:
        now = time.time()
        levels = msg.topic.split("/")
        try:
            data = json.loads(msg.payload) if msg.payload.startswith(b"{") else None
        except ValueError:
            return
        with self._lock:
            if levels[-1] == "detections" and data is not None:
                self.detections.setdefault(levels[-2], []).append(
                    Message(int(data["seq"]), str(data["message_id"]), float(data["capture_time"]), now))
            elif levels[-1] == "status" and len(levels) == 4 and data is not None:
                self.statuses.setdefault(levels[-2], []).append((now, data))
            elif levels[-1] == "stats" and data is not None:
                self.stats.append(data)

    def of(self, camera: str) -> list[Message]:
        with self._lock:
            return list(self.detections.get(camera, []))

    def status_of(self, camera: str) -> list[tuple[float, dict[str, Any]]]:
        with self._lock:
            return list(self.statuses.get(camera, []))

    def first_after(self, camera: str, wall: float, timeout: float) -> Message | None:
        """The first detection of `camera` captured after `wall`, waiting at most `timeout` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in self.of(camera) if m.capture_time > wall]
            if found:
                return min(found, key=lambda m: m.arrived)
            time.sleep(0.02)
        return None

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Daemon:
    """`edge-sdk run` as a child process; its log (stderr) goes to `log_path`."""

    def __init__(self, config: Path, log_path: Path) -> None:
        self.config = config
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> Daemon:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("NOTIFY_SOCKET", None)
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child owns it)
        self.proc = subprocess.Popen([sys.executable, "-m", "edge_sdk.cli.main", "run", "--config", str(self.config)],
                                     cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        self.starts += 1
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self, timeout: float = 60) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def rss_kib(self) -> int:
        """Resident memory of the daemon now (0 when not running)."""
        if self.proc is None or self.proc.poll() is not None:
            return 0
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def peak_kib(self) -> int:
        """The daemon's peak resident memory (VmHWM) so far."""
        if self.proc is None or self.proc.poll() is not None:
            return 0
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0


def app_config(path: Path, *, state_dir: Path, broker_port: int, cameras: dict[str, str], device: str = "rig",
               extra: str = "") -> Path:
    """A daemon config on the demo model: `cameras` maps names to source URIs."""
    sources = "".join(f"  - name: {name}\n    uri: \"{uri}\"\n    stall_timeout_s: 2\n" for name, uri in cameras.items())
    path.write_text(f"""device: cpu
device_id: {device}
state_dir: {state_dir}
model:
  path: {ROOT / 'models/demo/yolo-demo.onnx'}
engine:
  type: onnxruntime
  workers: 1
sources:
{sources}mqtt:
  host: 127.0.0.1
  port: {broker_port}
  stats_interval_s: 2.0
  reconnect_max_s: 2.0
{extra}""")
    return path
