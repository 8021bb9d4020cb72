"""`edge-sdk bench --config FILE`: engine-only against whole-pipeline throughput, stage and end-to-end latency."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_sdk.atomic import write_json_atomic
from edge_sdk.cli.options import BROKER_HELP, apply_broker

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig

COMMAND = "bench"
HELP = "measure engine-only vs pipeline FPS, per-stage latency, capture-to-broker latency"
EPILOG = """examples:
  edge-sdk bench --config configs/demo.yaml
  edge-sdk bench --config app.yaml --json --out bench.json     also write the figures as JSON
  edge-sdk bench --config app.yaml --no-mqtt --iterations 300  engine and pipeline only
  edge-sdk bench --config app.yaml --broker 127.0.0.1:1884     capture-to-broker latency through this broker
  edge-sdk bench --config app.yaml --repeats 1 --max-frames 100  a quick look
  edge-sdk bench --config app.yaml --cameras 1,2,4,8,16 --batch 1,2,4,8 --out grid.json
                                                   many cameras, batched: one row per (cameras, batch)

The pipeline runs over the configured source (every frame of a file); capture-to-broker latency needs the
configured broker (or --broker) to be reachable: it is checked first, and a subscriber measures arrival minus
capture time of this run's messages only. The bench publishes under its own client id and topics
(<prefix>/<device>/bench/...) from a fresh spool, so a running service is not disturbed. Engine-only and the
pipeline run as back-to-back pairs (--repeats) because a shared machine's speed drifts between minutes;
the table shows the pair with the median ratio, where each pipeline frame's CPU time went, and per camera
fps in and out, dropped frames and capture-to-publish latency.

With --cameras (and --batch) it runs a grid instead (edge_sdk/bench/cameras.py): N file sources of the first
source's video, each its own decoder, engine.max_batch B, no MQTT; per cell total frames and detections per
second, each camera's fps and the fairness (slowest / fastest), capture-to-publish p50/p99, the batches formed,
and the engine alone at the same batch; the JSON adds per camera fps in and out, dropped and p50/p99, and names the
CPU and the load average (written after every cell). The model must take a batch (a dynamic batch dimension) to
batch: tools/bench_cameras.sh runs the grid on the demo's batch-taking copy."""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", required=True, help="the app's YAML config")
    p.add_argument("--iterations", type=int, default=200, help="engine-only inferences per pair (default 200)")
    p.add_argument("--repeats", type=int, default=3,
                   help="(engine-only, pipeline) pairs; the pair with the median ratio is reported (default 3)")
    p.add_argument("--max-frames", type=int, default=None, help="pipeline frames (default: the whole source)")
    p.add_argument("--broker", default=None, metavar="HOST[:PORT]", help=BROKER_HELP)
    p.add_argument("--no-mqtt", action="store_true", help="do not publish (no broker latency)")
    p.add_argument("--cameras", default=None, metavar="N,N,...", help="grid: camera counts (e.g. 1,2,4,8,16)")
    p.add_argument("--batch", default=None, metavar="B,B,...",
                   help="grid: engine.max_batch values (e.g. 1,2,4,8; default the config's)")
    p.add_argument("--frames-per-camera", type=int, default=100, help="grid: results per camera per cell (default 100)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--out", default=None, help="also write the JSON to this file (atomically)")


def run(args: argparse.Namespace) -> int:
    from edge_sdk.bench.pipeline_bench import run_bench
    from edge_sdk.bench.table import format_table
    from edge_sdk.config import load_config

    cfg = load_config(args.config)
    apply_broker(cfg, args.broker)
    if args.no_mqtt:
        cfg.mqtt.enabled = False
    if args.cameras or args.batch:
        return _grid(args, cfg)
    res = run_bench(cfg, iterations=args.iterations, max_frames=args.max_frames, repeats=args.repeats)
    data = res.as_dict()
    if args.out:
        out = Path(args.out)
        write_json_atomic(out, data)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    rows: list[list[object]] = [
        ["engine only", res.engine_fps, res.engine_ms_p50, res.engine_ms_p99],
        ["pipeline", res.pipeline_fps, None, None],
    ]
    for name in ("preprocess", "infer", "decode", "publish", "total"):
        st = res.stages.get(name, {})
        rows.append([f"  stage {name}", None, st.get("latency_ms_p50"), st.get("latency_ms_p99")])
    rows.append(["capture->broker", None, res.capture_to_broker_ms_p50, res.capture_to_broker_ms_p99])
    print(f"model {res.info.get('model')} on {res.info.get('engine')}/{res.info.get('device')} "
          f"({res.info.get('precision')}, {res.info.get('workers', 1)} infer worker(s)), "
          f"{res.pipeline_frames} pipeline frames")
    if res.info.get("engine_only"):
        print(f"engine only: {res.info['engine_only']}" + (f"; kernels: {res.info['kernels']}" if res.info.get("kernels")
                                                          else ""))
    print(format_table(["", "fps", "p50 ms", "p99 ms"], rows))
    print(f"pipeline / engine-only = {res.ratio:.3f} (median of {len(res.repeats)} pairs: "
          + ", ".join(f"{p['pipeline_over_engine']:.3f}" for p in res.repeats) + ")")
    if res.cameras:
        print(f"\nper camera (batches of {res.batches.get('size_mean', 1)} frames on average, "
              f"at most {res.batches.get('size_max', 1)}):")
        print(format_table(["camera", "fps in", "fps out", "results", "dropped", "p50 ms", "p99 ms"],
                           [[c["camera"], c["fps"], c["fps_out"], c["results"], c["dropped"], c.get("latency_ms_p50"),
                             c.get("latency_ms_p99")] for c in res.cameras]))
    if res.cpu_ms_per_frame:
        print("\nCPU per pipeline frame (steady state; infer = the infer workers: letterbox and inference; "
              "decode-publish: decoding and publishing; ONNX Runtime's own pool threads show as native):")
        print(format_table(["thread", "cpu ms/frame"], [[k, v] for k, v in res.cpu_ms_per_frame.items()]))
        share = data.get("engine_cpu_share")
        if share is not None:
            print(f"engine threads' share of the machine's CPU: {share:.3f} (on a machine the engine saturates, "
                  "the most pipeline / engine-only can reach)")
    return 0


def _numbers(text: str | None, default: int) -> list[int]:
    if not text:
        return [default]
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        from edge_sdk.errors import ConfigError

        raise ConfigError(f"not a list of positive numbers: {text!r}", where="--cameras/--batch", fix="e.g. 1,2,4,8")
    return values


def _grid(args: argparse.Namespace, cfg: AppConfig) -> int:
    import os

    from edge_sdk.bench.cameras import TABLE_HEADERS, Cell, run_grid, table_rows
    from edge_sdk.bench.machine import machine_record
    from edge_sdk.bench.table import format_table
    from edge_sdk.pipeline.executors import max_batch_for

    cameras = _numbers(args.cameras, len(cfg.sources))
    batches = _numbers(args.batch, max_batch_for(cfg))
    machine = {**machine_record(), "load_1min_before": round(os.getloadavg()[0], 2)}
    data: dict[str, Any] = {"config": args.config, "model": cfg.model.path, "engine": cfg.engine.type,
                            "providers": list(getattr(cfg.engine, "providers", []) or []), "machine": machine,
                            "frames_per_camera": args.frames_per_camera, "complete": False, "cells": []}

    def save(cells: list[Cell]) -> None:  # after every cell: a run cut short keeps what it measured
        data["cells"] = [c.as_dict() for c in cells]
        if args.out:
            write_json_atomic(Path(args.out), data)

    cells = run_grid(cfg, cameras, batches, frames_per_camera=args.frames_per_camera, iterations=args.iterations,
                     on_cell=save)
    machine["load_1min_after"] = round(os.getloadavg()[0], 2)
    data["complete"] = True
    save(cells)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"{machine['cpu']} ({machine['isa']}, {machine['cores']} cores); load average (1 min) "
          f"{machine['load_1min_before']} before, {machine['load_1min_after']} after; "
          f"{args.frames_per_camera} results per camera per cell")
    print(format_table(TABLE_HEADERS, table_rows(cells)))
    return 0
