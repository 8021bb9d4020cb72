"""How fast detections come back after an RTSP camera returns: the real daemon on a real gst-rtsp-server camera
(killed with SIGKILL, down for --down seconds, started again), a real Mosquitto, and a subscriber timing the
first detection message captured after the server is back.

    python tools/bench_reconnect.py [--rounds 3] [--down 4] [--backends ffmpeg,gst-launch,gst-gi] [--json out.json]

Baseline, measured in the same run on the same server: a cold open of the stream (open_source -> first frame),
the least any reopen can take. The issue's figure before the probe: 5.9-6.1 s (4 s down, OpenCV-FFmpeg).
Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_sdk.bench.table import format_table  # noqa: E402
from edge_sdk.frame import CaptureStatus  # noqa: E402
from edge_sdk.sources import open_source  # noqa: E402
from tests.sources.rtsp_server import RtspServer  # noqa: E402
from tests.support.broker import MosquittoBroker  # noqa: E402
from tools.faults_rig import Collector, Daemon, app_config, machine  # noqa: E402

QUERIES = {"ffmpeg": "backend=ffmpeg", "gst-launch": "backend=gst&gst_backend=launch",
           "gst-gi": "backend=gst&gst_backend=gi"}


def cold_open(server: RtspServer, query: str, times: int = 3) -> list[float]:
    """Seconds from open to the first frame of a fresh source on the running server."""
    out = []
    for _ in range(times):
        src = open_source(f"{server.url}?{query}&timeout=5", "cold")
        t0 = time.monotonic()
        with src:
            status, _frame = src.read(timeout=15)
            if status is CaptureStatus.OK:
                out.append(time.monotonic() - t0)
    return out


def bench_backend(name: str, rounds: int, down_s: float, work: Path) -> dict[str, Any]:
    broker = MosquittoBroker(work / f"broker-{name}").start()
    server = RtspServer().start()
    query = QUERIES[name]
    cfg = app_config(work / f"{name}.yaml", state_dir=work / f"state-{name}", broker_port=broker.port,
                     cameras={"door": f"{server.url}?{query}&timeout=2"}, device=f"bench{name.replace('-', '')}")
    collector = Collector(broker.port, f"bench{name.replace('-', '')}", client_id=f"bench-{name}").start()
    daemon = Daemon(cfg, work / f"daemon-{name}.log").start()
    recoveries: list[float | None] = []
    online_after: list[float | None] = []
    try:
        if collector.first_after("door", 0.0, 120) is None:
            raise SystemExit(f"{name}: no detection from the daemon within 120 s; see {daemon.log_path}")
        baseline = cold_open(server, query)
        for _ in range(rounds):
            time.sleep(2.0)  # steady flow before the kill
            server.kill()
            killed = time.monotonic()
            time.sleep(max(0.0, down_s - (time.monotonic() - killed)))
            server.start()
            back = time.time()
            first = collector.first_after("door", back, 30)
            recoveries.append(round(first.arrived - back, 2) if first is not None else None)
            online = [t for t, s in collector.status_of("door") if t > back and s.get("state") == "online"]
            online_after.append(round(min(online) - back, 2) if online else None)
    finally:
        daemon.stop()
        collector.close()
        server.stop()
        broker.stop()
    done = [r for r in recoveries if r is not None]
    return {"backend": name, "down_s": down_s, "rounds": rounds, "first_detection_after_return_s": recoveries,
            "median_s": round(statistics.median(done), 2) if done else None, "max_s": max(done) if done else None,
            "status_online_after_s": online_after,
            "cold_open_s": [round(b, 2) for b in baseline],
            "cold_open_median_s": round(statistics.median(baseline), 2) if baseline else None,
            "failed_rounds": rounds - len(done)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--down", type=float, default=4.0, help="seconds the server stays down")
    ap.add_argument("--backends", default="ffmpeg,gst-launch", help=f"comma-separated: {', '.join(QUERIES)}")
    ap.add_argument("--json", type=Path, default=Path("bench_reconnect.json"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-reconnect-") as tmp:
        for name in args.backends.split(","):
            rows.append(bench_backend(name.strip(), args.rounds, args.down, Path(tmp)))
    headers = ["backend", "down_s", "first_detection_after_return_s", "median_s", "max_s", "status_online_after_s",
               "cold_open_median_s", "failed_rounds"]
    print(format_table(headers, [[r[h] for h in headers] for r in rows]))
    report = {"machine": machine(), "note": "the server is SIGKILLed, kept down, started again; times are from its "
              "return (listening) to the first detection message captured after it, as received over MQTT",
              "results": rows}
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 0 if all(r["failed_rounds"] == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
