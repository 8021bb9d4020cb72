"""`edge-sdk provision --device ...`: install the detection service on this device (or into --prefix)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

COMMAND = "provision"
HELP = "turn this device into a supervised detection service (config, model, engine, user, systemd unit)"
EPILOG = """examples:
  sudo edge-sdk provision --device orin --config app.yaml           detect the Orin board, build, install, start
  sudo edge-sdk provision --device orin-nx --model det.onnx --source csi://0 --broker mqtt://10.0.0.2
  edge-sdk provision --device cpu --config app.yaml --prefix /tmp/image --json   build an install tree
  edge-sdk provision --device orin --config app.yaml --dry-run       print every action without doing it

Each step compares what it wants with what is there: a second run with nothing changed changes nothing
and says so. Under --prefix the service user and systemctl steps are skipped (and reported so); paths
inside the installed files are the runtime ones (/etc/edge-sdk, /var/lib/edge-sdk).
Exit status: 0 when provisioned (or nothing to do), 1 when a step failed (the report says which)."""


def register(p: argparse.ArgumentParser) -> None:
    from edge_sdk.provision import DEVICES

    p.add_argument("--device", required=True, choices=DEVICES, help="device profile; `orin` detects the board")
    p.add_argument("--config", "-c", type=Path, default=None, help="the app's YAML config to install")
    p.add_argument("--model", type=Path, default=None, metavar="ONNX", help="the FP32 ONNX model (overrides model.path)")
    p.add_argument("--source", default=None, metavar="URI", help="the first camera's URI (overrides the config)")
    p.add_argument("--broker", default=None, metavar="URL", help="mqtt://[user[:password]@]host[:port] or mqtts://...")
    p.add_argument("--prefix", type=Path, default=None, metavar="DIR", help="install into DIR instead of /")
    p.add_argument("--precision", choices=("fp32", "int8"), default=None,
                   help="default: int8 on Orin profiles, fp32 on cpu")
    p.add_argument("--tune", action="store_true", help="apply the profile's nvpmodel mode and jetson_clocks (Orin)")
    p.add_argument("--validate-frames", type=int, default=30, metavar="N", help="frames of the smoke run (default 30)")
    p.add_argument("--dry-run", action="store_true", help="print every action without doing it")
    p.add_argument("--no-enable", action="store_true", help="install but do not enable or start the service")
    p.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    from edge_sdk.errors import ConfigError
    from edge_sdk.provision import ProvisionOptions, run_provision

    if args.validate_frames < 1:
        raise ConfigError("--validate-frames must be at least 1")
    report = run_provision(ProvisionOptions(
        device=args.device, config=args.config, model=args.model, source=args.source, broker=args.broker,
        prefix=args.prefix.resolve() if args.prefix else None, dry_run=args.dry_run, no_enable=args.no_enable,
        tune=args.tune, precision=args.precision, validate_frames=args.validate_frames))
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.text())
    return 1 if report.failed else 0
