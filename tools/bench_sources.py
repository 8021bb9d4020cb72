"""Benchmark the frame read paths: GStreamer through PyGObject's appsink vs a gst-launch-1.0 pipe (vs OpenCV
where it has GStreamer), and RTSP through OpenCV-FFmpeg vs GStreamer, plus the time frames take to flow again
after the RTSP server restarts.

    python tools/bench_sources.py [--frames 300] [--sizes 640x480,1920x1080] [--rtsp] [--json out.json]

Throughput is measured reading as fast as the path delivers (videotestsrc, not live); CPU is this process
plus its children (the gst-launch-1.0 process), per frame. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_sdk.bench.table import format_table  # noqa: E402
from edge_sdk.frame import CaptureStatus  # noqa: E402
from edge_sdk.sources import gst_support, open_source  # noqa: E402


def cpu_seconds() -> float:
    """CPU seconds of this process plus its gst-launch-1.0 children (running or reaped)."""
    own, reaped = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        comm, fields = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        if int(fields[1]) == os.getpid() and comm.startswith("gst-launch"):
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def bench_gst(backend: str, width: int, height: int, frames: int) -> dict[str, Any]:
    uri = f"gst://videotestsrc num-buffers={frames + 5} pattern=ball ! video/x-raw,width={width},height={height}"
    src = open_source(uri, "bench", defaults={"backend": backend}, deliver_all=True)
    t_open = time.perf_counter()
    with src:
        opened = time.perf_counter() - t_open
        got, cpu0, t0 = 0, cpu_seconds(), time.perf_counter()
        while got < frames:
            status, _frame = src.read(timeout=10.0)
            if status is not CaptureStatus.OK:
                break
            got += 1
        wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
    return {"path": f"gst-{backend}", "size": f"{width}x{height}", "frames": got, "open_s": round(opened, 3),
            "fps": round(got / wall, 1) if wall else None, "cpu_ms_per_frame": round(1000 * cpu / max(got, 1), 2)}


def bench_rtsp(query: str, seconds: float) -> dict[str, Any]:
    from tests.sources.rtsp_server import RtspServer

    server = RtspServer().start()
    try:
        src = open_source(f"{server.url}?{query}", "bench", stall_timeout_s=3.0)
        t_open = time.perf_counter()
        with src:
            if src.read(timeout=10.0)[0] is not CaptureStatus.OK:
                raise SystemExit(f"no frame from {query}: {src.snapshot_health()}")
            first = time.perf_counter() - t_open
            got, cpu0, t0 = 0, cpu_seconds(), time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                got += src.read(timeout=1.0)[0] is CaptureStatus.OK
            cpu = cpu_seconds() - cpu0
            fps = got / (time.perf_counter() - t0)
            server.kill()
            while src.snapshot_health().state != "reconnecting" and time.perf_counter() - t0 < seconds + 20:
                time.sleep(0.02)
            time.sleep(1.0)
            server.start()
            back = time.monotonic()
            recovered = None
            while time.monotonic() - back < 15:
                _status, frame = src.read(timeout=0.2)
                if frame is not None and frame.t_capture_mono > back:
                    recovered = frame.t_capture_mono - back
                    break
            health = src.snapshot_health()
    finally:
        server.stop()
    return {"path": f"rtsp {query}", "size": "320x240@15", "frames": got, "open_s": round(first, 3), "fps": round(fps, 1),
            "cpu_ms_per_frame": round(1000 * cpu / max(got, 1), 2),
            "recovery_s": round(recovered, 2) if recovered is not None else None, "reconnects": health.reconnects}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=300, help="frames per GStreamer measurement")
    ap.add_argument("--sizes", default="640x480,1920x1080", help="comma-separated WxH list")
    ap.add_argument("--rtsp", action="store_true", help="also measure RTSP paths against a local gst-rtsp-server")
    ap.add_argument("--rtsp-seconds", type=float, default=5.0, help="seconds of RTSP reading per path")
    ap.add_argument("--json", type=Path, default=Path("bench_sources.json"), help="where to write the results")
    args = ap.parse_args()
    probe = gst_support.probe()
    rows: list[dict[str, Any]] = []
    for backend in ("opencv", "gi", "launch"):  # warm-up: plugin registry, first pipeline, page cache
        if gst_support.backend_available(backend):
            bench_gst(backend, 64, 48, 10)
    for size in args.sizes.split(","):
        width, height = (int(v) for v in size.lower().split("x"))
        for backend in ("opencv", "gi", "launch"):
            if gst_support.backend_available(backend):
                rows.append(bench_gst(backend, width, height, args.frames))
    if args.rtsp:
        for query in ("backend=ffmpeg", "backend=gst&gst_backend=gi", "backend=gst&gst_backend=launch"):
            rows.append(bench_rtsp(query, args.rtsp_seconds))
    headers = ["path", "size", "frames", "open_s", "fps", "cpu_ms_per_frame", "recovery_s", "reconnects"]
    print(format_table(headers, [[r.get(h) for h in headers] for r in rows]))
    report = {"machine": platform.platform(), "cpus": platform.processor() or platform.machine(), "probe": probe,
              "results": rows}
    args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
