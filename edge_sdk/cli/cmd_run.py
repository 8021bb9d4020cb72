"""`edge-sdk run --config FILE`: the detection daemon in the foreground."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from edge_sdk.cli.options import BROKER_HELP, apply_broker
from edge_sdk.errors import ExitCode

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig

COMMAND = "run"
HELP = "run the detection daemon in the foreground (source -> engine -> MQTT)"
EPILOG = """examples:
  edge-sdk run --config configs/demo.yaml
  edge-sdk run --config app.yaml --max-frames 100 --json       stop after 100 frames, print a JSON summary
  edge-sdk run --config app.yaml --source file://clip.mp4      override the first camera's source

It stops on SIGINT/SIGTERM (draining frames in flight and publishing `offline`; during start-up at once), at
the end of a file source, or after --max-frames; it exits 0 then. While it runs it logs a progress line (fps,
frames, detections, each camera) every 5 s on a terminal and every 60 s in the journal (--progress)."""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", required=True, help="the app's YAML config")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="stop after N frames")
    p.add_argument("--source", default=None, metavar="URI", help="override the first camera's source URI")
    p.add_argument("--broker", default=None, metavar="HOST[:PORT]", help=BROKER_HELP)
    p.add_argument("--no-mqtt", action="store_true", help="run without publishing")
    p.add_argument("--json", action="store_true", help="print the closing summary as JSON")
    p.add_argument("--progress", type=float, default=None, metavar="SECONDS",
                   help="log a progress line this often (default daemon.progress_interval_s: 5 s on a terminal, "
                        "60 s otherwise; 0: never)")


def _load(args: argparse.Namespace) -> AppConfig:
    """The config file with the command line's overrides applied (also used again on SIGHUP)."""
    from edge_sdk.config import load_config
    from edge_sdk.errors import ConfigError

    cfg = load_config(args.config)
    if args.source:
        cfg.sources[0].uri = args.source
    apply_broker(cfg, args.broker)
    if args.no_mqtt:
        cfg.mqtt.enabled = False
    if args.progress is not None:
        if args.progress < 0:
            raise ConfigError("--progress must be 0 (never) or a number of seconds", fix="e.g. --progress 10")
        cfg.daemon.progress_interval_s = args.progress
    return cfg


def run(args: argparse.Namespace) -> int:
    """A stop signal before the daemon's own handling starts (while its modules load) is a clean stop too."""
    from edge_sdk.signals import StopSignal

    try:
        return _run(args)
    except StopSignal as stop:
        print(f"edge-sdk run: stopped by {stop.name} before start-up", file=sys.stderr)
        return ExitCode.OK


def _run(args: argparse.Namespace) -> int:
    from edge_sdk.daemon import run_service
    from edge_sdk.errors import ConfigError
    from edge_sdk.log import setup_logging

    cfg = _load(args)
    setup_logging(None if not args.verbose else "DEBUG", cfg.logging.format)
    if not args.verbose:
        import logging

        logging.getLogger("edge_sdk").setLevel(cfg.logging.level)
    if args.max_frames is not None and args.max_frames < 1:
        raise ConfigError("--max-frames must be at least 1")
    summary = run_service(cfg, max_frames=args.max_frames, config_path=lambda: _load(args))
    if args.json:
        print(json.dumps({"frames": summary.frames, "detections": summary.detections,
                          "seconds": round(summary.seconds, 3), "fps": round(summary.fps, 2),
                          "steady_fps": round(summary.steady_fps, 2),
                          "stopped_by": summary.stopped_by, "stats": summary.stats}))
    elif summary.stopped_by.endswith("during start-up"):
        print(f"edge-sdk run: stopped by {summary.stopped_by}; no frame was processed", file=sys.stderr)
    else:
        print(f"edge-sdk run: {summary.frames} frames, {summary.detections} detections in "
              f"{summary.seconds:.1f} s ({summary.fps:.1f} fps); stopped by {summary.stopped_by}", file=sys.stderr)
    return ExitCode.OK
