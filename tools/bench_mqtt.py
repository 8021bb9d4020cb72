#!/usr/bin/env python3
"""MQTT publishing benchmark: throughput at QoS 1, replay rate after an outage, latency, and the cost of
`publish_result` on the pipeline's thread. Prints a table and writes JSON.

    python tools/bench_mqtt.py                      # a private Mosquitto on a free loopback port
    python tools/bench_mqtt.py --messages 20000 --json-out bench_mqtt.json

Figures (all through the real publisher: JSON encode, SQLite spool, sender thread, paho, Mosquitto):
- throughput: `--messages` detection messages handed over as fast as possible, QoS 1; messages/s from the
  first call until the broker acknowledged the last, and as received by a subscriber;
- spool writes: the same handed over while the broker is down, until all are committed;
- replay: the broker is down while `--messages` are spooled; messages/s from the reconnect until the
  spool is empty (target >= 2,000/s);
- latency: 2 cameras x 30 fps for `--latency-s` seconds; publish call to subscriber receipt, p50/p99
  (same machine, same clock);
- call cost: duration of `publish_result` on the calling thread, p50/p99/max, connected and while the
  broker is down. A 30 fps camera allows 33 ms per frame: this is what publishing takes out of it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_sdk.bench.table import format_table
from edge_sdk.decode.base import Detections
from edge_sdk.engines.base import EngineInfo, TensorSpec
from edge_sdk.frame import Frame, FrameResult
from edge_sdk.publish.mqtt import MqttPublisher
from edge_sdk.publish.settings import BrokerSettings, PublisherSettings
from edge_sdk.publish.subscriber import DetectionSubscriber

ENGINE = EngineInfo("onnxruntime", "bench.onnx", "0" * 64, "fp32", (TensorSpec("images", (1, 3, 640, 640), "float32"),),
                    (), "cpu")
IMAGE = np.zeros((720, 1280, 3), np.uint8)


class Broker:
    """A private Mosquitto on a free loopback port, with persistence like a real deployment."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not os.path.exists(binary):
            sys.exit("bench_mqtt: mosquitto is not installed (apt-get install mosquitto)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.binary = binary
        self.conf = workdir / "mosquitto.conf"
        user = "user root\n" if os.geteuid() == 0 else ""
        self.conf.write_text(f"{user}listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                             f"persistence_location {workdir}/\nmax_queued_messages 1000000\n"
                             "max_inflight_messages 100\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        sys.exit("bench_mqtt: mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
            self.proc = None


def result(camera: str, frame_id: int, n_dets: int = 5) -> FrameResult:
    k = np.arange(n_dets, dtype=np.float32)
    boxes = np.stack([10 + 40 * k, 20 + 30 * k, 200 + 40 * k, 300 + 30 * k], axis=1)
    dets = Detections(boxes, (0.9 - 0.05 * k).astype(np.float32), (np.arange(n_dets) % 3).astype(np.int64))
    return FrameResult(Frame(frame_id, camera, IMAGE, time.monotonic(), time.time()), dets)


def open_publisher(port: int, spool: Path, max_inflight: int) -> MqttPublisher:
    settings = PublisherSettings(BrokerSettings(port=port), device_id="bench", client_id="bench-pub",
                                 max_inflight=max_inflight, reconnect_min_s=0.05, reconnect_max_s=0.2,
                                 spool_path=spool, spool_max_bytes=1 << 30, model_name="bench")
    return MqttPublisher(settings, engine_info=ENGINE, label=lambda c: ("person", "car", "dog")[c]).start()


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def bench_throughput(broker: Broker, work: Path, n: int, inflight: int) -> dict[str, Any]:
    calls: list[float] = []
    with DetectionSubscriber(BrokerSettings(port=broker.port), devices=["bench"], qos=1) as sub, \
            open_publisher(broker.port, work / "tp.sqlite", inflight) as pub:
        t0 = time.perf_counter()
        for i in range(n):
            r = result("cam0", i)
            t = time.perf_counter()
            pub.publish_result(r)
            calls.append(time.perf_counter() - t)
        handed = time.perf_counter() - t0
        ok = pub.flush(300)
        acked = time.perf_counter() - t0
        got = 0
        while got < n and sub.get(timeout=5) is not None:
            got += 1
        received = time.perf_counter() - t0
    return {"messages": n, "all_acked": ok, "received": got, "handover_per_s": n / handed,
            "acked_per_s": n / acked, "received_per_s": got / received,
            "call_us_p50": pct(calls, 50) * 1e6, "call_us_p99": pct(calls, 99) * 1e6, "call_us_max": max(calls) * 1e6}


def bench_replay(broker: Broker, work: Path, n: int, inflight: int) -> dict[str, Any]:
    calls: list[float] = []
    with DetectionSubscriber(BrokerSettings(port=broker.port), devices=["bench"], client_id="bench-replay-sub",
                             persistent=True, qos=1) as sub:
        time.sleep(0.2)
        pub = open_publisher(broker.port, work / "replay.sqlite", inflight)
        with pub:
            broker.stop()  # clean stop: the subscriber's session is saved
            t0_offline = time.perf_counter()
            for i in range(n):
                r = result("cam1", i)
                t = time.perf_counter()
                pub.publish_result(r)
                calls.append(time.perf_counter() - t)
            t_handed = time.perf_counter()
            pub.wait_spooled(300)  # every message committed before the broker comes back
            write_s = time.perf_counter() - t0_offline
            spooled = pub.queued
            broker.start()
            while not pub.connected:
                time.sleep(0.001)
            t0 = time.perf_counter()
            ok = pub.flush(300)
            replay_s = time.perf_counter() - t0
            replayed = pub.stats()["spool"]["replayed"]
        got = 0
        while got < n and sub.get(timeout=10) is not None:
            got += 1
    return {"messages": n, "spooled": spooled, "replayed": replayed, "all_acked": ok, "received": got,
            "replay_s": replay_s, "replay_per_s": replayed / replay_s if replay_s > 0 else float("nan"),
            "handover_s": t_handed - t0_offline, "spool_write_per_s": n / write_s,
            "call_us_p50_offline": pct(calls, 50) * 1e6, "call_us_p99_offline": pct(calls, 99) * 1e6,
            "call_us_max_offline": max(calls) * 1e6}


def bench_latency(broker: Broker, work: Path, seconds: float, fps: float, inflight: int) -> dict[str, Any]:
    sent: dict[tuple[str, int], float] = {}
    lat: list[float] = []
    calls: list[float] = []
    cpu: list[float] = []
    with DetectionSubscriber(BrokerSettings(port=broker.port), devices=["bench"], qos=1) as sub, \
            open_publisher(broker.port, work / "lat.sqlite", inflight) as pub:
        stop = threading.Event()

        def receive() -> None:
            while not stop.is_set():
                m = sub.get(timeout=0.1)
                if m is not None:
                    t_call = sent.get((m.camera, m.frame_id))
                    if t_call is not None:
                        lat.append(m.received_time - t_call)

        rx = threading.Thread(target=receive, daemon=True)
        rx.start()
        n_frames = int(seconds * fps)
        next_t = time.monotonic()
        for i in range(n_frames):
            for cam in ("cam0", "cam1"):
                r = result(cam, i)
                sent[(cam, i)] = time.time()
                t, c = time.perf_counter(), time.thread_time()
                pub.publish_result(r)
                calls.append(time.perf_counter() - t)
                cpu.append(time.thread_time() - c)
            next_t += 1 / fps
            time.sleep(max(0.0, next_t - time.monotonic()))
        pub.flush(30)
        time.sleep(0.3)
        stop.set()
        rx.join()
    return {"messages": 2 * n_frames, "received": len(lat), "fps_per_camera": fps,
            "latency_ms_p50": pct(lat, 50) * 1e3, "latency_ms_p99": pct(lat, 99) * 1e3,
            "latency_ms_max": max(lat) * 1e3 if lat else float("nan"),
            "call_us_p50": pct(calls, 50) * 1e6, "call_us_p99": pct(calls, 99) * 1e6,
            "call_us_max": max(calls) * 1e6, "call_share_of_frame_p99": pct(calls, 99) * fps,
            "call_cpu_us_p50": pct(cpu, 50) * 1e6, "call_cpu_us_p99": pct(cpu, 99) * 1e6}


def bench_slowdown(broker: Broker, work: Path, seconds: float, inflight: int) -> dict[str, Any]:
    """A CPU-bound stand-in for a pipeline stage (a single-threaded numpy sort, ~10 ms per frame), run
    without and with publishing each frame's result live: the ratio of its frame rates is what
    publishing costs the pipeline, GIL, sender thread and broker included. Alternated and repeated;
    medians reported. (A multi-threaded BLAS stand-in would measure CPU oversubscription instead.)"""
    rng = np.random.default_rng(0)
    data = rng.random(500_000)  # sorting it takes ~10 ms on one core here (numpy sorts single-threaded)

    def stage(pub: MqttPublisher | None) -> float:
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            np.sort(data)
            if pub is not None:
                pub.publish_result(result("cam0", n))
            n += 1
        return n / (time.perf_counter() - t0)

    base, live = [], []
    with open_publisher(broker.port, work / "slow.sqlite", inflight) as pub:
        for _ in range(3):
            base.append(stage(None))
            live.append(stage(pub))
        pub.flush(60)
    b, lv = statistics.median(base), statistics.median(live)
    return {"fps_without_publishing": b, "fps_with_publishing": lv, "ratio": lv / b, "runs_s": seconds,
            "fps_runs_without": base, "fps_runs_with": live}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=10000, help="messages for throughput and replay (default 10000)")
    p.add_argument("--latency-s", type=float, default=10.0, help="duration of the paced latency run (default 10)")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second per camera in the latency run")
    p.add_argument("--slowdown-s", type=float, default=4.0, help="length of each pipeline stand-in run (default 4)")
    p.add_argument("--max-inflight", type=int, default=64, help="publisher window (mqtt.max_inflight)")
    p.add_argument("--json-out", type=Path, default=Path("bench_mqtt.json"), help="where to write the JSON")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as tmp:
        work = Path(tmp)
        broker = Broker(work)
        broker.start()
        try:
            tp = bench_throughput(broker, work, args.messages, args.max_inflight)
            rp = bench_replay(broker, work, args.messages, args.max_inflight)
            lt = bench_latency(broker, work, args.latency_s, args.fps, args.max_inflight)
            sd = bench_slowdown(broker, work, args.slowdown_s, args.max_inflight)
        finally:
            broker.stop()
    out = {"throughput_qos1": tp, "replay": rp, "latency": lt, "pipeline_slowdown": sd,
           "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "load_1min": os.getloadavg()[0]},
           "message": {"detections_per_message": 5, "qos": 1}}
    rows = [
        ["throughput QoS 1 (acked by broker)", f"{tp['acked_per_s']:.0f} msg/s",
         f"{tp['messages']} msgs, all acked: {tp['all_acked']}"],
        ["throughput QoS 1 (at subscriber)", f"{tp['received_per_s']:.0f} msg/s", f"{tp['received']} received"],
        ["spool writes (broker down)", f"{rp['spool_write_per_s']:.0f} msg/s",
         "encode + number + commit on the writer thread"],
        ["replay after outage", f"{rp['replay_per_s']:.0f} msg/s",
         f"{rp['replayed']} replayed in {rp['replay_s']:.2f} s (target >= 2000/s)"],
        ["latency p50 (call -> subscriber)", f"{lt['latency_ms_p50']:.2f} ms",
         f"{lt['received']} msgs, 2 cams x {lt['fps_per_camera']:g} fps"],
        ["latency p99 (call -> subscriber)", f"{lt['latency_ms_p99']:.2f} ms", f"max {lt['latency_ms_max']:.2f} ms"],
        ["publish_result p50 / p99 (live)", f"{lt['call_us_p50']:.0f} / {lt['call_us_p99']:.0f} us",
         f"max {lt['call_us_max']:.0f} us; p99 = {100 * lt['call_share_of_frame_p99']:.2f}% of a frame"],
        ["  of which CPU on the caller p50 / p99", f"{lt['call_cpu_us_p50']:.0f} / {lt['call_cpu_us_p99']:.0f} us",
         "the rest is waiting: GIL, other threads, other processes"],
        ["pipeline stand-in with / without", f"{sd['ratio']:.3f}",
         f"{sd['fps_with_publishing']:.0f} / {sd['fps_without_publishing']:.0f} frames/s, publishing every frame"],
        ["publish_result p50 / p99 (burst)", f"{tp['call_us_p50']:.0f} / {tp['call_us_p99']:.0f} us",
         f"max {tp['call_us_max']:.0f} us"],
        ["publish_result p50 / p99 (offline)", f"{rp['call_us_p50_offline']:.0f} / {rp['call_us_p99_offline']:.0f} us",
         f"max {rp['call_us_max_offline']:.0f} us (broker down, spooling)"],
    ]
    print(format_table(["figure", "value", "detail"], rows))
    print(f"(load average {out['machine']['load_1min']:.1f} on {os.cpu_count()} CPUs: timings include what else runs)")
    args.json_out.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
