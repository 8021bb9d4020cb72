"""The bench step's verdict (tools/gpu/run_all.sh): the whole pipeline against engine-only, both on the same card,
at the same batch, against the 0.90 target, with where the host's CPU went.

    python tools/gpu/bench_verdict.py OUT/bench_gpu.json --card "NVIDIA H100 80GB HBM3"

Prints every (engine-only, pipeline) pair, the CPU milliseconds a frame of each thread while the pipeline ran (the
thread at or near 1000 / engine-only fps is what holds the pipeline back), the stage latencies, and last a line
`RESULT pipeline/engine-only R (target 0.90): ...` that run_all.sh puts in its table. Exit 0 when R >= 0.90.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

TARGET = 0.90


def verdict(bench: dict[str, Any], card: str) -> tuple[bool, list[str]]:
    """(target met, lines to print); the last line starts with RESULT."""
    info = bench.get("info") or {}
    ratio = float(bench.get("pipeline_over_engine") or 0.0)
    engine, pipeline = float(bench.get("engine_fps") or 0.0), float(bench.get("pipeline_fps") or 0.0)
    lines = [f"card: {card or '?'}; engine {info.get('engine')} on {info.get('device')}, {info.get('precision')}, "
             f"batch {info.get('batch')}; engine-only: {info.get('engine_only')}; kernels: {info.get('kernels')}"]
    for i, pair in enumerate(bench.get("repeats") or [], 1):
        lines.append(f"pair {i}: engine-only {pair.get('engine_fps')} fps, pipeline {pair.get('pipeline_fps')} fps, "
                     f"ratio {pair.get('pipeline_over_engine')}")
    cpu = bench.get("cpu_ms_per_frame") or {}
    if cpu:
        budget = 1000.0 / engine if engine else 0.0
        lines.append(f"CPU ms a frame by thread while the pipeline ran (a thread near {budget:.2f} ms, one frame "
                     "at engine-only speed, is the limit):")
        lines += [f"  {name:32} {ms:7.3f}" for name, ms in cpu.items()]
    for name, stage in (bench.get("stages") or {}).items():
        if isinstance(stage, dict) and stage.get("frames"):
            lines.append(f"stage {name:10} p50 {stage.get('latency_ms_p50')} ms, p99 {stage.get('latency_ms_p99')} ms")
    ok = ratio >= TARGET
    lines.append(f"RESULT pipeline/engine-only {ratio:.3f} (target {TARGET:.2f}: {'met' if ok else 'NOT met'}): "
                 f"pipeline {pipeline:.1f} fps vs engine-only {engine:.1f} fps, batch {info.get('batch')}, "
                 f"{bench.get('pipeline_frames')} frames, median of {len(bench.get('repeats') or [])} pair(s), "
                 f"{card or 'card ?'}")
    return ok, lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bench_json", type=Path)
    ap.add_argument("--card", default="", help="the GPU's name (nvidia-smi)")
    args = ap.parse_args(argv)
    try:
        bench = json.loads(args.bench_json.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"RESULT no bench figures: {args.bench_json}: {exc}")
        return 1
    ok, lines = verdict(bench, args.card)
    print("\n".join(lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
