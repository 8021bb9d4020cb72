"""A simulated fleet on one machine, on loopback: a central broker, N devices, shared-subscription consumers.

Each simulated device is what a real one runs, as real processes: its own Mosquitto (the config that
`edge-sdk bridge config` renders, bridged to the central broker, persistence on) and its own `edge-sdk run`
daemon (the demo model on ONNX Runtime, CPU, one thread; the sample video looping at a low frame rate; the
rollout agent on). Nothing is shared between devices but the central broker and the bundle HTTP server. The
bridges reach the central broker through the fleet's uplink (uplink.py: a TCP relay that `cut_uplink` cuts).
Consumers are `DetectionSubscriber`s in one shared-subscription group on the central broker, each keeping
every (device, camera, seq, message_id) it received.

Used by tests/fleet/test_fleet_scale.py (CI scale) and tools/bench_fleet.py (full scale).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from edge_sdk.fleet.bridge import BridgeSettings, render_config  # noqa: E402
from edge_sdk.fleet.bundle import BundleSpec, create_bundle, sha256_file  # noqa: E402
from edge_sdk.fleet.keys import generate  # noqa: E402
from edge_sdk.publish.settings import BrokerSettings  # noqa: E402
from edge_sdk.publish.subscriber import DetectionSubscriber  # noqa: E402
from tests.support.broker import MosquittoBroker, free_port  # noqa: E402
from tools.fleet_sim.uplink import Uplink  # noqa: E402

DEMO_MODEL = ROOT / "models" / "demo" / "yolo-demo.onnx"
SAMPLE = ROOT / "samples" / "demo.mp4"


@dataclass
class FleetSpec:
    workdir: Path
    devices: int = 20
    site: str = "lab"
    fps: float = 0.5  # each daemon's camera rate (file source paced like a camera)
    consumers: int = 3
    trial_s: float = 8.0
    # The rollout's own gates (18 devices at once on 2 cores) slow every simulated device, and a shared test
    # machine slows them more: the trial's fps bound is loosened from the default 0.7, and it waits longer for
    # its results, so that a crowded machine is not taken for a slow model. tests/fleet/test_agent.py covers the
    # trial's rollback (detections bound) on one device.
    min_fps_ratio: float = 0.1
    group: str = "fleet"


@dataclass
class Device:
    name: str
    local: MosquittoBroker
    config: Path
    proc: subprocess.Popen[str] | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def _variant(src: Path, dst: Path, *, version: str, permute_classes: bool = False) -> Path:
    """The demo model with another `version` in its metadata (same outputs, other bytes), or with its class
    channels swapped pairwise (boxes right, labels wrong: a model the gate must refuse)."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(str(src))
    props = {p.key: p.value for p in m.metadata_props}
    props["version"] = version
    helper.set_model_props(m, props)
    if permute_classes:
        out = m.graph.output[0]
        channels = out.type.tensor_type.shape.dim[1].dim_value
        order = list(range(4)) + [4 + (i ^ 1 if (i ^ 1) < channels - 4 else i) for i in range(channels - 4)]
        m.graph.initializer.append(numpy_helper.from_array(np.array(order, np.int64), "class_swap"))
        old = out.name
        for node in m.graph.node:
            node.output[:] = [f"{old}_raw" if o == old else o for o in node.output]
        m.graph.node.append(helper.make_node("Gather", [f"{old}_raw", "class_swap"], [old], axis=1))
    onnx.save(m, str(dst))
    return dst


class Fleet:
    def __init__(self, spec: FleetSpec) -> None:
        self.spec = spec
        self.work = spec.workdir
        self.central = MosquittoBroker(self.work / "central")
        self.uplink: Uplink | None = None  # the devices' bridges reach the central broker through it
        self.devices: list[Device] = []
        self.bundles: dict[str, tuple[Path, str]] = {}
        self.received: list[list[tuple[str, str, int, str, float, float]]] = []
        self._members: list[DetectionSubscriber] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._http: http.server.ThreadingHTTPServer | None = None
        self._stopped = False  # the daemons were told to stop: their exit is no failure

    # -- setup ---------------------------------------------------------------------------------------
    def start(self) -> Fleet:
        """Start everything; if any part fails, what was started is stopped before the error goes on."""
        try:
            self.work.mkdir(parents=True, exist_ok=True)
            self.central.start()
            self.uplink = Uplink(self.central.port).start()
            self._make_bundles()
            self._start_consumers()
            for i in range(self.spec.devices):
                self.devices.append(self._device(f"dev{i:02d}"))
            for d in self.devices:
                self._start_daemon(d)
        except BaseException:
            self.close()
            raise
        return self

    def _make_bundles(self) -> None:
        keys = self.work / "keys"
        generate(keys / "fleet.key")
        served = self.work / "served"
        served.mkdir()
        good = _variant(DEMO_MODEL, self.work / "yolo-demo-2.onnx", version="2.0")
        wrong = _variant(DEMO_MODEL, self.work / "yolo-demo-2-swapped.onnx", version="2.0-swapped", permute_classes=True)
        for name, model, version in (("good", good, "2.0"), ("gate-fail", wrong, "2.0-swapped")):
            out = served / f"{name}.bundle"
            create_bundle(BundleSpec(model=model, version=version, name="yolo-demo"), keys / "fleet.key", out)
            self.bundles[name] = (out, sha256_file(out))
        tampered = served / "tampered.bundle"
        data = bytearray(self.bundles["good"][0].read_bytes())
        data[-20000] ^= 0x01  # a byte inside the model (the last member), after signing
        tampered.write_bytes(bytes(data))
        self.bundles["tampered"] = (tampered, sha256_file(tampered))
        handler = functools.partial(_QuietHandler, directory=str(served))
        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._http.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}/{self.bundles[name][0].name}"

    def _device(self, name: str) -> Device:
        d = self.work / name
        port = free_port()
        assert self.uplink is not None
        bridge = BridgeSettings(site=self.spec.site, device_id=name, central_host="127.0.0.1",
                                central_port=self.uplink.port, local_port=port, tls=False,
                                persistence_dir=str(d / "broker"), autosave_interval_s=2, restart_min_s=1,
                                restart_max_s=3)
        local = MosquittoBroker(d / "broker", port=port, conf_text=render_config(bridge)).start()
        cfg = d / "app.yaml"
        cfg.write_text(f"""device: cpu
device_id: {name}
state_dir: {d / "state"}
model:
  path: {DEMO_MODEL}
engine:
  type: onnxruntime
  intra_op_threads: 1
sources:
  - name: cam0
    uri: file://{SAMPLE}?loop=1&realtime=1&fps={self.spec.fps}
mqtt:
  port: {port}
  reconnect_min_s: 0.2
  reconnect_max_s: 2
  stats_interval_s: 5
  drain_timeout_s: 30
daemon:
  drain_timeout_s: 30
fleet:
  enabled: true
  site: {self.spec.site}
  rollout:
    trusted_keys: {self.work / "keys"}
    frame_interval_s: 0.5
    recent_frames: 6
    min_frames: 3
    trial_s: {self.spec.trial_s}
    min_trial_frames: 2
    trial_max_s: 300
    min_fps_ratio: {self.spec.min_fps_ratio}
""")
        return Device(name, local, cfg)

    def _start_daemon(self, d: Device) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
        log = (self.work / d.name / "daemon.log").open("w")
        d.proc = subprocess.Popen([sys.executable, "-m", "edge_sdk.cli.main", "run", "--config", str(d.config), "--json"],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()

    def _start_consumers(self) -> None:
        broker = BrokerSettings(port=self.central.port, connect_timeout_s=5.0)
        for i in range(self.spec.consumers):
            member = DetectionSubscriber(broker, topic_prefix=self.spec.site, share_group=self.spec.group,
                                         client_id=f"consumer-{i}", persistent=True, drop_duplicates=False,
                                         max_reconnect_delay_s=1).open()
            got: list[tuple[str, str, int, str, float, float]] = []
            self._members.append(member)
            self.received.append(got)
            t = threading.Thread(target=self._drain, args=(member, got), daemon=True)
            t.start()
            self._threads.append(t)

    def _drain(self, member: DetectionSubscriber, got: list[tuple[str, str, int, str, float, float]]) -> None:
        while not self._stop.is_set():
            m = member.get(timeout=0.2)
            if m is not None:
                got.append((m.device_id, m.camera, m.seq, m.message_id, m.publish_time, m.received_time))

    # -- faults and rollouts -------------------------------------------------------------------------
    def per_device(self) -> Counter[str]:
        return Counter(r[0] for got in self.received for r in list(got))

    def wait(self, predicate: Any, timeout: float, what: str) -> float:
        """Seconds until `predicate()` held; TimeoutError naming `what`, each device's last log line and, once
        the daemons were stopped, what each device's delivery lacks."""
        t0 = time.monotonic()
        while not predicate():
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"{what}: not within {timeout:.0f} s; load {os.getloadavg()[0]:.0f}; "
                                   + "; ".join(f"{d.name}: {self._last_line(d)}" for d in self.devices)
                                   + (f"; delivery: {self._shortfall()}" if self._stopped else ""))
            for d in self.devices:
                if not self._stopped and d.proc is not None and d.proc.poll() is not None:
                    raise RuntimeError(f"{d.name}'s daemon exited ({d.proc.returncode}): see {self.work / d.name}/daemon.log")
            time.sleep(0.2)
        return time.monotonic() - t0

    def _last_line(self, d: Device) -> str:
        try:
            lines = (self.work / d.name / "daemon.log").read_text(errors="replace").strip().splitlines()
        except OSError:
            return "-"
        return lines[-1][:200] if lines else "-"

    def cut_uplink(self, seconds: float) -> None:
        """Every device loses the central broker for `seconds` (its connection reset, reconnects refused); the
        central broker and the consumers stay up. (A restart of a central Mosquitto is another fault, with a
        documented loss: see uplink.py.)"""
        assert self.uplink is not None
        self.uplink.cut()
        time.sleep(seconds)  # the outage's length, not a wait for something to happen
        self.uplink.restore()

    def restart_locals(self, count: int) -> None:
        for d in self.devices[:count]:
            d.local.stop()
            d.local.start()

    def roll_out(self, plan: dict[str, str]) -> None:
        """Publish the retained desired state of each device (name -> bundle name) on the central broker."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="fleet-operator")
        c.connect("127.0.0.1", self.central.port)
        c.loop_start()
        for device, bundle in plan.items():
            body = {"version": bundle, "sha256": self.bundles[bundle][1], "url": self.url(bundle)}
            c.publish(f"{self.spec.site}/{device}/model/desired", json.dumps(body), qos=1, retain=True).wait_for_publish(10)
        c.disconnect()
        c.loop_stop()

    def reports(self) -> dict[str, dict[str, Any]]:
        from edge_sdk.fleet.status import collect

        rows = collect(BrokerSettings(port=self.central.port), self.spec.site, wait_s=10.0, quiet_s=2.0)
        return {r.device: r.raw.get("reported", {}) for r in rows}

    # -- the end -------------------------------------------------------------------------------------
    def stop_daemons(self) -> None:
        self._stopped = True
        for d in self.devices:
            if d.proc is not None and d.proc.poll() is None:
                d.proc.send_signal(signal.SIGTERM)
        for d in self.devices:
            if d.proc is None:
                continue
            out, _ = d.proc.communicate(timeout=120)
            lines = [ln for ln in out.splitlines() if ln.startswith("{")]
            d.summary = json.loads(lines[-1]) if lines else {}

    def delivery(self) -> dict[str, Any]:
        """Per device: frames the daemon published (its summary) against what the group received."""
        by_dev: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for got in self.received:
            for dev, _cam, seq, mid, _p, _r in list(got):
                by_dev[dev].append((seq, mid))
        out: dict[str, Any] = {}
        for d in self.devices:
            published = int(d.summary.get("frames", -1))
            rows = by_dev.get(d.name, [])
            seqs = Counter(s for s, _m in rows)
            ids_per_seq: dict[int, set[str]] = defaultdict(set)
            for s, m in rows:
                ids_per_seq[s].add(m)
            out[d.name] = {"published": published, "received": len(rows), "unique": len(seqs),
                           "missing": sorted(set(range(1, published + 1)) - set(seqs)),
                           "duplicates": sum(n - 1 for n in seqs.values()),
                           "unexplained_duplicates": sum(1 for ids in ids_per_seq.values() if len(ids) > 1),
                           "extra": sorted(set(seqs) - set(range(1, published + 1)))}
        return out

    def _shortfall(self) -> str:
        """Each device whose delivery is incomplete: published, received, the first missing seqs."""
        return "; ".join(f"{n}: published {v['published']}, received {v['unique']}, missing {v['missing'][:10]}"
                         for n, v in self.delivery().items() if v["missing"] or v["published"] <= 0) or "complete"

    def complete(self) -> bool:
        return all(not v["missing"] for v in self.delivery().values())

    def close(self) -> None:
        """Stop every process and thread the fleet started, each step whatever the others did (a daemon slow to
        die under load must not leave the other devices' processes running)."""
        live = [d.proc for d in self.devices if d.proc is not None and d.proc.poll() is None]
        for proc in live:
            proc.kill()
        for proc in live:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(30)
        for d in self.devices:
            d.local.stop()
        self._stop.set()
        for t in self._threads:
            t.join(5)
        for m in self._members:
            m.close()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self.uplink is not None:
            self.uplink.close()
        self.central.stop()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass
