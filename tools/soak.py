"""Soak: the real daemon for a set time on the sample video (looped) and a live RTSP camera, with a real
Mosquitto, while faults hit it at random moments; a persistent subscriber counts every frame.

    python tools/soak.py [--minutes 10] [--seed 1] [--json soak.json]

Faults (one at a time, at random moments, each for a random while): the broker killed with SIGKILL and
restarted; the daemon killed with SIGKILL and restarted; the spool's file system (a real tmpfs, root only)
filled by another file and freed; the RTSP camera's server killed with SIGKILL and restarted.

Counted per camera: frames captured (the sources' own counts in the last stats message of each of the daemon's
lives, so frames of the last <2 s before each SIGKILL are not in it), published (the
sequence numbers the daemon gave: its spool's sequence table at the end), received (unique seq), lost
(published, never received), duplicated (received again: QoS 1 redelivery, always the same message id),
dropped by the spool's bounds (counted by the daemon); per fault: the time until detections flow again; and
the daemon's peak resident memory. Prints a table and writes JSON. The target: 0 lost; duplicates only from
QoS 1 redelivery (same message id).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_sdk.bench.table import format_table  # noqa: E402
from tests.sources.rtsp_server import RtspServer  # noqa: E402
from tests.support.broker import MosquittoBroker  # noqa: E402
from tools.faults_rig import Collector, Daemon, app_config, machine  # noqa: E402

DEVICE = "soak"
CAMERAS = ("video", "rtsp")


class Soak:
    def __init__(self, work: Path, minutes: float, seed: int, fps: float) -> None:
        self.work = work
        self.t0 = time.monotonic()
        self.deadline = self.t0 + minutes * 60
        self.rng = random.Random(seed)
        self.events: list[dict[str, Any]] = []
        self.spool_fs = work / "spool-fs"
        self.broker = MosquittoBroker(work / "broker")
        self.server = RtspServer()
        self.fps = fps
        self.peak_kib = 0
        self.daemon: Daemon | None = None
        self.collector: Collector | None = None

    # -- set-up ------------------------------------------------------------------------------------
    def start(self) -> None:
        self.spool_fs.mkdir()
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(self.spool_fs)],
                                 capture_output=True, text=True, check=False)
        self.fill_possible = mounted.returncode == 0
        if not self.fill_possible:
            print(f"soak: no tmpfs for the spool ({mounted.stderr.strip()}): disk-full faults are skipped")
        self.broker.start()
        self.server.start()
        cfg = app_config(self.work / "app.yaml", state_dir=self.spool_fs, broker_port=self.broker.port, device=DEVICE,
                         cameras={"video": f"file://{ROOT / 'samples/demo.mp4'}?loop=1&realtime=1&fps={self.fps:g}",
                                  "rtsp": f"{self.server.url}?backend=gst&gst_backend=launch&timeout=2"})
        self.collector = Collector(self.broker.port, DEVICE, client_id="soak-counter").start()
        self.daemon = Daemon(cfg, self.work / "daemon.log").start()
        if not self.wait_flow(CAMERAS, time.time() - 1, 180):
            raise SystemExit(f"soak: no detections within 180 s; see {self.daemon.log_path}")

    def wait_flow(self, cameras: tuple[str, ...], since: float, timeout: float) -> float | None:
        """Seconds until every camera in `cameras` has a detection captured after `since` (wall), or None."""
        assert self.collector is not None
        t0 = time.time()
        for cam in cameras:
            left = timeout - (time.time() - t0)
            if left <= 0 or self.collector.first_after(cam, since, left) is None:
                return None
        firsts = [min((m.arrived for m in self.collector.of(c) if m.capture_time > since), default=since)
                  for c in cameras]
        return round(max(firsts) - since, 2)

    # -- faults ------------------------------------------------------------------------------------
    def run(self) -> None:
        faults = ["broker", "daemon", "camera"] + (["disk"] if self.fill_possible else [])
        while time.monotonic() < self.deadline - 30:
            self.sample(self.rng.uniform(10, 40))
            if time.monotonic() >= self.deadline - 30:
                break
            fault = self.rng.choice(faults)
            down = round(self.rng.uniform(3, 12), 1)
            getattr(self, f"fault_{fault}")(down)
        self.sample(max(0.0, self.deadline - time.monotonic()))

    def sample(self, seconds: float) -> None:
        """Wait, keeping the peak memory and the daemon's last stats."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.keep_figures()
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))

    def keep_figures(self) -> None:
        assert self.daemon is not None
        self.peak_kib = max(self.peak_kib, self.daemon.peak_kib())

    def daemon_lives(self) -> list[dict[str, Any]]:
        """The last stats message of each life of the daemon: stats in the order they were sent (retained copies
        seen again after a reconnect dropped), a new life wherever the uptime starts again."""
        assert self.collector is not None
        unique = {(s.get("time"), s.get("uptime_s")): s for s in self.collector.stats}
        lives: list[dict[str, Any]] = []
        for stats in sorted(unique.values(), key=lambda s: float(s.get("time", 0))):
            if not lives or float(stats.get("uptime_s", 0)) < float(lives[-1].get("uptime_s", 0)):
                lives.append(stats)
            else:
                lives[-1] = stats
        return lives

    def record(self, fault: str, down: float, t_back: float, cameras: tuple[str, ...], note: str = "") -> None:
        recovery = self.wait_flow(cameras, t_back, 120)
        event = {"fault": fault, "at_s": round(time.monotonic() - self.t0, 1), "down_s": down,
                 "recovery_s": recovery, "note": note}
        self.events.append(event)
        print(f"soak: {fault} down {down} s -> detections again after {recovery} s {note}", flush=True)

    def fault_broker(self, down: float) -> None:
        self.broker.kill()
        self.sample(down)
        self.broker.start()
        self.record("broker SIGKILL", down, time.time(), CAMERAS)

    def fault_daemon(self, down: float) -> None:
        assert self.daemon is not None
        self.keep_figures()
        self.daemon.kill()
        time.sleep(down)
        self.daemon.start()
        self.record("daemon SIGKILL + restart", down, time.time(), CAMERAS)

    def fault_camera(self, down: float) -> None:
        self.server.kill()
        self.sample(down)
        self.server.start()
        self.record("RTSP server SIGKILL", down, time.time(), ("rtsp",))

    def fault_disk(self, down: float) -> None:
        filler = self.spool_fs / "filler"
        with open(filler, "wb") as f:  # as another program filling the disk would
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        self.sample(down)
        filler.unlink()
        self.record("spool file system full", down, time.time(), CAMERAS)

    # -- the count ---------------------------------------------------------------------------------
    def finish(self) -> dict[str, Any]:
        assert self.daemon is not None and self.collector is not None
        self.keep_figures()
        rc = self.daemon.stop()  # clean: the spool is drained, offline published
        time.sleep(5.0)  # the last messages reach the subscriber
        published = self.published()
        lives = self.daemon_lives()
        per_camera = []
        for cam in CAMERAS:
            got = self.collector.of(cam)
            ids = Counter(m.seq for m in got)
            dup_ids = {m.seq: set() for m in got if ids[m.seq] > 1}
            for m in got:
                if m.seq in dup_ids:
                    dup_ids[m.seq].add(m.message_id)
            top = published.get(cam, 0)
            unique = {s for s in ids if s <= top}
            captured = sum(int(s.get("frames", 0)) for life in lives for s in life.get("sources", [])
                           if s.get("camera") == cam)
            per_camera.append({
                "camera": cam, "frames_captured": captured, "published": top, "received": len(unique),
                "lost": top - len(unique), "duplicated": sum(n - 1 for n in ids.values()),
                "duplicates_same_message_id": all(len(v) == 1 for v in dup_ids.values()),
                "received_beyond_published": len([s for s in ids if s > top])})
        dropped = sum(int(life.get("mqtt", {}).get("spool", {}).get("dropped", 0)) for life in lives)
        return {"per_camera": per_camera, "events": self.events, "daemon_exit": rc, "daemon_starts": self.daemon.starts,
                "daemon_lives_in_stats": len(lives),
                "peak_rss_mib": round(self.peak_kib / 1024, 1), "spool_dropped_by_bounds": dropped}

    def published(self) -> dict[str, int]:
        """The last sequence number the daemon gave each camera (its spool's own table, after a clean stop)."""
        conn = sqlite3.connect(str(self.spool_fs / "spool" / "mqtt.sqlite"))
        try:
            return {str(c): int(v) for c, v in conn.execute("SELECT camera, last FROM sequences")}
        finally:
            conn.close()

    def close(self) -> None:
        if self.daemon is not None:
            self.daemon.kill()
        if self.collector is not None:
            self.collector.close()
        self.server.stop()
        self.broker.stop()
        subprocess.run(["umount", "-l", str(self.spool_fs)], capture_output=True, check=False)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fps", type=float, default=10.0, help="pace of the looped sample video")
    ap.add_argument("--json", type=Path, default=Path("soak.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        soak = Soak(Path(tmp), args.minutes, args.seed, args.fps)
        try:
            soak.start()
            soak.run()
            result = soak.finish()
        finally:
            soak.close()
            log_copy = args.json.with_suffix(".daemon.log")
            log_copy.write_bytes((Path(tmp) / "daemon.log").read_bytes() if (Path(tmp) / "daemon.log").exists() else b"")
    headers = ["camera", "frames_captured", "published", "received", "lost", "duplicated", "duplicates_same_message_id"]
    print(format_table(headers, [[c[h] for h in headers] for c in result["per_camera"]]))
    print(format_table(["fault", "at_s", "down_s", "recovery_s"],
                       [[e["fault"], e["at_s"], e["down_s"], e["recovery_s"]] for e in result["events"]]))
    print(f"daemon: {result['daemon_starts']} start(s), exit {result['daemon_exit']}, peak RSS "
          f"{result['peak_rss_mib']} MiB; spool dropped by its bounds: {result['spool_dropped_by_bounds']}")
    report = {"machine": machine(), "minutes": args.minutes, "seed": args.seed, "fps": args.fps, **result}
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json} (daemon log: {args.json.with_suffix('.daemon.log')})")
    lost = sum(c["lost"] for c in result["per_camera"])
    return 0 if lost == 0 and all(c["duplicates_same_message_id"] for c in result["per_camera"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
