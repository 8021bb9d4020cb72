#!/usr/bin/env python3
"""What the events layer costs the pipeline's publish thread per frame (`EventLayer.on_result`, the hook the
pipeline calls with every result), and what its encoder threads cost beside it. Prints a table, writes JSON.

    python tools/bench_events.py                                   # the sample video, every variant
    python tools/bench_events.py --frames 100 --json-out /tmp/events.json

The demo model's detections of the sample video (decode.conf_thres 0.25, the SDK's own letterbox, engine and
decoder) are computed once; then each variant feeds the same 300 results, with the decoded frames, through
an EventLayer, as the daemon does, into a sink that takes each message as MqttPublisher.publish_message does
(a reference handed over; JSON is made on the spool writer's thread). Variants, one after the other:

- tracker: ByteTracker.update alone (the floor: what any tracking layer pays);
- events: tracker, a zone (left half) and a line (middle), new/update/end/enter/exit/cross events and the
  retained state;
- + snapshots: the same with snapshots on (the publish thread only compares scores and keeps a reference;
  crops, drawing and JPEG run on the snapshot thread, measured apart);
- + preview watched: the same with the MJPEG preview served and a viewer on it (the publish thread hands a
  frame over at most preview.fps times a second; scaling, drawing and JPEG run on the preview thread).

Frames are fed as fast as the layer takes them, with capture times 1/15 s apart (the video's rate), so
`update` throttling and the preview's frame rate see the video's clock. CPU figures are thread CPU time
(time.thread_time, and the encoder threads' clocks), wall figures perf_counter; both per frame.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import numpy as np  # noqa: E402
from bench_tracking import Frames, detect_video  # noqa: E402

from edge_sdk.atomic import write_json_atomic  # noqa: E402
from edge_sdk.bench.machine import machine_record  # noqa: E402
from edge_sdk.bench.table import format_table  # noqa: E402

EVENTS = {"update_interval_s": 5,
          "cameras": {"cam0": {"zones": {"left": {"polygon": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}},
                               "lines": {"middle": {"points": [[320, 0], [320, 480]], "in_direction": "right"}}}}}


class Sink:
    """Takes messages as MqttPublisher.publish_message does: a reference into a queue, nothing encoded here."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, Callable[[int | None], bytes]]] = []

    def publish_message(self, topic: str, build: Callable[[int | None], bytes], *, stream: str | None = None,
                        retain: bool = False) -> None:
        self.queued.append((topic, build))

    def topic(self, *parts: str) -> str:
        return "/".join(("edge", "bench", *parts))


def thread_cpu(thread: Any) -> float:
    """CPU seconds a running thread has used (its own clock)."""
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident)) if thread and thread.is_alive() else 0.0


def frames_of(video: Path, limit: int | None) -> Any:
    import cv2

    cap = cv2.VideoCapture(str(video))
    k = 0
    while limit is None or k < limit:
        ok, bgr = cap.read()
        if not ok:
            break
        yield bgr
        k += 1
    cap.release()


def run_variant(name: str, video: Path, dets: Frames, metadata: Any, state: Path) -> dict[str, Any]:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.decode.base import Detections
    from edge_sdk.events.layer import EventLayer
    from edge_sdk.frame import Frame, FrameResult
    from edge_sdk.tracking import ByteTracker

    cfg: dict[str, Any] = {"device_id": "bench", "state_dir": str(state), "sources": [{"name": "cam0", "uri": "file://x.mp4"}],
                           "events": {**EVENTS, "snapshots": {"enabled": name != "events"}}}
    if name == "+ preview watched":
        cfg["preview"] = {"enabled": True, "port": 0}
    tracker = ByteTracker() if name == "tracker" else None
    layer = None if tracker else EventLayer(AppConfig.model_validate(cfg), metadata, Sink())
    wall, cpu = [], []
    t0 = time.time()
    threads = {}
    if layer is not None:
        threads = {"snapshot thread": layer.snapshots._thread if layer.snapshots else None,
                   "preview thread": next((t for t in layer.preview._threads if t.name == "preview-encode"), None)
                   if layer.preview else None}
    start_cpu = {k: thread_cpu(t) for k, t in threads.items()}
    for k, (bgr, (boxes, scores, classes)) in enumerate(zip(frames_of(video, len(dets)), dets)):
        if layer is not None and layer.preview is not None:  # a viewer: the preview wants frames all along
            layer.preview.slots["cam0"].demand_until = float("inf")
        result = FrameResult(Frame(k, "cam0", bgr, time.monotonic(), t0 + k / 15.0),
                             Detections(boxes.astype(np.float32), scores.astype(np.float32), classes))
        w0, c0 = time.perf_counter(), time.thread_time()
        if tracker is not None:
            tracker.update(boxes, scores, classes)
        elif layer is not None:
            layer.on_result(result)
        cpu.append((time.thread_time() - c0) * 1e3)
        wall.append((time.perf_counter() - w0) * 1e3)
    side = {k: (thread_cpu(t) - start_cpu[k]) * 1e3 / max(1, len(dets)) for k, t in threads.items()}
    stats = layer.stats() if layer is not None else {}
    messages = len(layer.sink.queued) if layer is not None else 0  # type: ignore[union-attr]
    if layer is not None:
        layer.close()
    return {"variant": name, "frames": len(wall), "wall_ms_mean": round(statistics.fmean(wall), 4),
            "wall_ms_p99": round(float(np.percentile(wall, 99)), 4), "cpu_ms_mean": round(statistics.fmean(cpu), 4),
            "cpu_ms_p99": round(float(np.percentile(cpu, 99)), 4), "messages": messages,
            "snapshot_thread_cpu_ms_per_frame": round(side.get("snapshot thread", 0.0), 4),
            "preview_thread_cpu_ms_per_frame": round(side.get("preview thread", 0.0), 4), "layer_stats": stats}


def detections(args: argparse.Namespace) -> Frames:
    """The model's detections of the video, from `--cache` when it holds them (they take minutes on a CPU)."""
    if args.cache is not None and args.cache.exists():
        with np.load(args.cache) as z:
            cached = [(z[f"b{i}"], z[f"s{i}"], z[f"c{i}"]) for i in range(len(z.files) // 3)]
        return cached[: args.frames] if args.frames else cached
    dets = detect_video(args.video, args.model, 0.25, args.frames)
    if args.cache is not None:
        np.savez(args.cache, **{f"{k}{i}": a for i, d in enumerate(dets) for k, a in zip("bsc", d)})
    return dets


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--model", type=Path, default=ROOT / "models/demo/yolo-demo.onnx")
    p.add_argument("--video", type=Path, default=ROOT / "samples/demo.mp4")
    p.add_argument("--frames", type=int, default=None, help="only the first N frames")
    p.add_argument("--rounds", type=int, default=3, help="runs of every variant, interleaved (default 3)")
    p.add_argument("--cache", type=Path, help="keep the detections in this .npz (computed once, reused)")
    p.add_argument("--json-out", type=Path, default=ROOT / "benchmarks/results/events_cpu.json")
    args = p.parse_args(argv)
    from edge_sdk.engines.model_info import read_metadata

    metadata = read_metadata(args.model)
    dets = detections(args)
    variants = ["tracker", "events", "+ snapshots", "+ preview watched"]
    runs: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for v in variants:
                runs.append({"round": r, **run_variant(v, args.video, dets, metadata, Path(tmp) / f"{r}-{len(runs)}")})
                print(f"  round {r + 1}/{args.rounds}: {v}", file=sys.stderr, flush=True)
    rows, summary = [], []
    for v in variants:
        mine = [x for x in runs if x["variant"] == v]

        def median(key: str, of: list[dict[str, Any]] = mine) -> float:
            return round(statistics.median(x[key] for x in of), 4)

        s = {"variant": v, **{k: median(k) for k in ("cpu_ms_mean", "cpu_ms_p99", "wall_ms_mean", "wall_ms_p99",
                                                     "snapshot_thread_cpu_ms_per_frame", "preview_thread_cpu_ms_per_frame")},
             "messages": mine[0]["messages"]}
        summary.append(s)
        rows.append([v, s["cpu_ms_mean"], s["cpu_ms_p99"], s["wall_ms_mean"], s["wall_ms_p99"], s["messages"],
                     s["snapshot_thread_cpu_ms_per_frame"], s["preview_thread_cpu_ms_per_frame"]])
    print(format_table(["variant", "hook CPU ms", "p99", "hook wall ms", "p99", "messages", "snapshot thr ms",
                        "preview thr ms"], rows))
    print("(per frame, medians over rounds; hook = on the publish thread; thr = the encoder threads beside it)")
    here = machine_record()
    doc = {"benchmark": "events_hook", "date": time.strftime("%Y-%m-%d"), "cpu": here["cpu"], "isa": here["isa"],
           "avx512_vnni": here["avx512_vnni"], "python": platform.python_version(), "video": args.video.name,
           "model": args.model.name, "cpus": os.cpu_count(),
           "load_average_1m": {"before": round(load_before[0], 1), "after": round(os.getloadavg()[0], 1)},
           "summary": summary, "runs": runs}
    write_json_atomic(args.json_out, doc)
    print(f"written {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
