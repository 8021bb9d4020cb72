#!/usr/bin/env python3
"""Tracking benchmark: ByteTrack (edge_sdk/tracking) against a plain IoU tracker on the demo model's
detections of generated scenes with ground-truth track ids: MOTA, IDF1, ID switches (motmetrics), and the
tracker's CPU time per frame. Prints a table and writes JSON.

    python tools/bench_tracking.py                                # the sample video (samples/demo.mp4)
    python tools/bench_tracking.py --extra-seeds 2,3,4 --json-out benchmarks/results/tracking_cpu.json
    python tools/bench_tracking.py --frames 30 --json-out /tmp/t.json        # a quick check

Detections come from the demo model through the SDK's own letterbox/engine/decode (ONNX Runtime, CPU) at
each `--conf` (decode.conf_thres: what reaches the tracker); both trackers get the same detections.
Target: IDF1 >= 0.85 on the sample video at the default conf 0.25.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

import numpy as np  # noqa: E402
from tracking_eval import IouTracker, accumulate, run_tracker, summarize, truth_by_frame  # noqa: E402

from edge_sdk.atomic import write_json_atomic  # noqa: E402
from edge_sdk.bench.machine import machine_record  # noqa: E402
from edge_sdk.bench.table import format_table  # noqa: E402

Frames = list[tuple[np.ndarray, np.ndarray, np.ndarray]]


def detect_video(video: Path, model: Path, conf: float, limit: int | None) -> Frames:
    from edge_sdk.decode import DecodeParams
    from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngineConfig
    from edge_sdk.engines.registry import open_engine
    from tools.evaluate.detector import detect, video_frames

    engine = open_engine("onnxruntime", str(model), OnnxRuntimeEngineConfig())
    out: Frames = []
    try:
        for i, bgr in video_frames(video):
            if limit is not None and i >= limit:
                break
            d = detect(engine, bgr, DecodeParams(conf_thres=conf))
            out.append((np.asarray(d.boxes, np.float64).reshape(-1, 4), np.asarray(d.scores, np.float64).reshape(-1),
                        np.asarray(d.class_ids, np.int64).reshape(-1)))
            if i % 50 == 0:
                print(f"  {video.name}: frame {i}", file=sys.stderr, flush=True)
    finally:
        engine.close()
    return out


def scenes(extra_seeds: list[int], workdir: Path) -> list[tuple[str, Path, Path]]:
    """(name, video, ground truth): the sample video, then generated ones (same generator, other seeds)."""
    out = [("sample", ROOT / "samples/demo.mp4", ROOT / "samples/demo.coco.json")]
    for seed in extra_seeds:
        from tools.scenes import video_coco_path, write_video

        video = workdir / f"seed{seed}.mp4"
        write_video(video, seed, seconds=20.0, fps=15.0)
        out.append((f"seed{seed}", video, video_coco_path(video)))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[1:]))
    p.add_argument("--model", type=Path, default=ROOT / "models/demo/yolo-demo.onnx")
    p.add_argument("--conf", default="0.25,0.1", help="decode.conf_thres values, comma-separated (default 0.25,0.1)")
    p.add_argument("--extra-seeds", default="", help="also generate and measure these scene seeds (e.g. 2,3,4)")
    p.add_argument("--frames", type=int, default=None, help="only the first N frames of each video")
    p.add_argument("--json-out", type=Path, default=ROOT / "benchmarks/results/tracking_cpu.json")
    args = p.parse_args(argv)
    warnings.filterwarnings("ignore", category=FutureWarning)  # motmetrics on recent pandas
    from edge_sdk.tracking import ByteTracker

    confs = [float(c) for c in args.conf.split(",") if c]
    seeds = [int(s) for s in args.extra_seeds.split(",") if s]
    rows, report = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name, video, gt_path in scenes(seeds, Path(tmp)):
            gt = json.loads(gt_path.read_text())
            truth = truth_by_frame(gt)
            detections = {c: detect_video(video, args.model, min(confs), args.frames) for c in [min(confs)]}[min(confs)]
            if args.frames is not None:
                truth = {k: v for k, v in truth.items() if k < args.frames}
            for conf in confs:
                frames = [(b[s >= conf], s[s >= conf], k[s >= conf]) for b, s, k in detections]
                n_dets = sum(len(s) for _, s, _ in frames)
                for tracker_name, tracker in (("bytetrack", ByteTracker()), ("iou", IouTracker(min_score=conf))):
                    hyps, cpu = run_tracker(tracker, frames)
                    m = summarize([accumulate(truth, hyps)], [name])[name]
                    cpu_ms = [c * 1e3 for c in cpu]
                    entry = {"scene": name, "conf": conf, "tracker": tracker_name, "frames": len(frames),
                             "detections_per_frame": round(n_dets / max(1, len(frames)), 2), **m,
                             "cpu_ms_per_frame_mean": round(statistics.fmean(cpu_ms), 4),
                             "cpu_ms_per_frame_p99": round(float(np.percentile(cpu_ms, 99)), 4)}
                    report.append(entry)
                    rows.append([name, conf, tracker_name, f"{m['mota']:.3f}", f"{m['idf1']:.3f}", m["num_switches"],
                                 m["num_false_positives"], m["num_misses"], entry["cpu_ms_per_frame_mean"],
                                 entry["cpu_ms_per_frame_p99"]])
    print(format_table(["scene", "conf", "tracker", "MOTA", "IDF1", "ID sw", "FP", "FN", "CPU ms/frame", "p99 ms"], rows))
    here = machine_record()
    doc = {"benchmark": "tracking", "date": time.strftime("%Y-%m-%d"), "cpu": here["cpu"], "isa": here["isa"],
           "avx512_vnni": here["avx512_vnni"], "python": platform.python_version(), "model": str(args.model.name),
           "metrics": "motmetrics (MOTA, IDF1, ID switches); ignored ground truth handled as the MOTChallenge devkit does",
           "results": report}
    write_json_atomic(args.json_out, doc)
    print(f"written {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
