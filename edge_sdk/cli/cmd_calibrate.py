"""`edge-sdk calibrate capture|import|info`: the calibration frames of a config's profile."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from edge_sdk.errors import ExitCode

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig

COMMAND = "calibrate"
HELP = "capture or import calibration frames for the INT8 build, and show what a profile holds"
EPILOG = """examples:
  edge-sdk calibrate capture --config app.yaml                    frames from the first camera into calibration/<profile>/
  edge-sdk calibrate capture --config app.yaml --frames 300 --interval 2
                                                                  300 frames in total, at least 2 s apart
  edge-sdk calibrate import --config app.yaml ~/site-photos       copy JPEG/PNG images into the profile's folder
  edge-sdk calibrate info --config app.yaml --json                frames, skipped files, the calibration/held-out split

Capture skips near-duplicate frames of a still scene, writes each frame atomically with a manifest (source,
time, sha256, size), and resumes where it stopped: Ctrl-C keeps every frame captured so far."""


def register(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="calibrate_command", metavar="ACTION", required=True)
    c = sub.add_parser("capture", help="grab diverse frames from the configured camera")
    c.add_argument("--config", "-c", required=True, help="the app's YAML config")
    c.add_argument("--frames", type=int, default=None, metavar="N", help="total frames wanted in the folder "
                                                                         "(default calibration.capture.frames)")
    c.add_argument("--interval", type=float, default=None, metavar="S", help="at least S seconds between kept frames")
    c.add_argument("--camera", default=None, metavar="NAME", help="camera to capture from (default the first)")
    c.add_argument("--json", action="store_true", help="print the summary as JSON")
    i = sub.add_parser("import", help="copy a folder of JPEG/PNG images into the profile's folder")
    i.add_argument("--config", "-c", required=True, help="the app's YAML config")
    i.add_argument("folder", help="folder of images")
    i.add_argument("--json", action="store_true", help="print the summary as JSON")
    n = sub.add_parser("info", help="what the profile's folder holds and how the build will split it")
    n.add_argument("--config", "-c", required=True, help="the app's YAML config")
    n.add_argument("--json", action="store_true", help="print as JSON")


def run(args: argparse.Namespace) -> int:
    from edge_sdk.config import load_config
    from edge_sdk.errors import ConfigError

    cfg = load_config(args.config)
    if args.calibrate_command == "capture":
        if args.frames is not None and args.frames < 1:
            raise ConfigError("--frames must be at least 1")
        if args.interval is not None and args.interval < 0:
            raise ConfigError("--interval cannot be negative")
        return _capture(cfg, args)
    if args.calibrate_command == "import":
        from edge_sdk.calibration.importer import import_images

        res = import_images(cfg, Path(args.folder))
        data = {"folder": str(res.folder), "copied": res.copied, "already_there": res.already_there,
                "skipped": res.skipped, "total": res.total}
        print(json.dumps(data) if args.json else
              f"imported {res.copied} frames into {res.folder} ({res.already_there} already there, {res.skipped} files "
              f"skipped); {res.total} frames in total")
        return 0
    return _info(cfg, args.json)


def _capture(cfg: AppConfig, args: argparse.Namespace) -> int:
    from edge_sdk.calibration.capture import capture

    res = capture(cfg, frames=args.frames, interval_s=args.interval, camera=args.camera)
    data = {"folder": str(res.folder), "target": res.target, "existing": res.existing, "kept": res.kept,
            "total": res.total, "seen": res.seen, "skipped_interval": res.skipped_interval,
            "skipped_near_duplicate": res.skipped_duplicate, "stopped_by": res.stopped_by}
    if args.json:
        print(json.dumps(data))
    else:
        why = {"target": "target reached", "eos": "the source ended", "interrupted": "interrupted (Ctrl-C)"}[res.stopped_by]
        print(f"kept {res.kept} new frames in {res.folder}: {res.total}/{res.target} frames; {why}; skipped "
              f"{res.skipped_duplicate} near-duplicates and {res.skipped_interval} within the interval", file=sys.stderr)
        if res.stopped_by == "interrupted":
            print("run the same command again to continue", file=sys.stderr)
        elif res.stopped_by == "eos" and res.total < res.target:
            print("the source ended before the target: capture from a longer recording or a live camera, or use a "
                  "shorter --interval", file=sys.stderr)
    return ExitCode.INTERRUPTED if res.stopped_by == "interrupted" else ExitCode.OK


def _info(cfg: AppConfig, as_json: bool) -> int:
    from edge_sdk.calibration.dataset import frames_folder, load_split

    split = load_split(cfg)
    skipped = [f"{s.path.name}: {s.reason}" for s in split.skipped]
    data = {"folder": str(frames_folder(cfg)), "calibration": len(split.calibration),
            "holdout": len(split.holdout), "holdout_from": split.holdout_from, "duplicates": split.duplicates,
            "skipped": skipped, "calibration_set_sha256": split.digest()}
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        print(f"{data['folder']}: {data['calibration']} calibration + {data['holdout']} held-out frames "
              f"({split.holdout_from}); {split.duplicates} duplicates, {len(split.skipped)} files skipped")
        for line in skipped:
            print(f"  skipped {line}")
    return 0
