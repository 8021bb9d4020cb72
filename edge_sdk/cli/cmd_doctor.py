"""`edge-sdk doctor`: board, JetPack, TensorRT, CUDA, pycuda, DLA, video input, cameras, broker, disk."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge_sdk.cli.options import parse_broker
from edge_sdk.errors import ExitCode

COMMAND = "doctor"
HELP = "check what this machine can do (board, JetPack, TensorRT, CUDA, cameras, broker, disk), with fixes"
EPILOG = """examples:
  edge-sdk doctor                                  everything, one line per check
  edge-sdk doctor --config /etc/edge-sdk/app.yaml  also the config's device profile, broker, state disk and
                                                   its cameras' hardware video decode budget
  edge-sdk doctor --broker 192.168.1.10:1883 --json

Each check is OK, WARN or FAIL with the fix. Exit status: 0 without FAIL, 1 with any FAIL.
On a Jetson a missing TensorRT, CUDA or pycuda is a FAIL; elsewhere a WARN (the CPU path still works)."""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", default=None, help="an app config: its device, mqtt, state_dir and the decode "
                                                       "budget of its cameras are checked")
    p.add_argument("--broker", default=None, metavar="HOST[:PORT]", help="MQTT broker to check (default port 1883)")
    p.add_argument("--device", default=None, help="device profile to check against (default: the config's, or auto)")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.add_argument("--root", default="/", help=argparse.SUPPRESS)  # tests: a copy of a Jetson's files


def run(args: argparse.Namespace) -> int:
    from edge_sdk.device.doctor import DoctorInput, run_doctor

    inp = DoctorInput(root=Path(args.root))
    if args.config:
        from edge_sdk.config import load_config

        cfg = load_config(args.config)
        inp.device = cfg.device
        inp.broker = (cfg.mqtt.host, cfg.mqtt.port) if cfg.mqtt.enabled else None
        inp.broker_tls = cfg.mqtt.tls is not None
        inp.disk_path = cfg.resolve(cfg.state_dir)
        inp.config = cfg
    if args.broker:
        host, port = parse_broker(args.broker)
        inp.broker, inp.broker_tls = (host, port or 1883), False
    if args.device:
        inp.device = args.device
    checks = run_doctor(inp)
    failed = any(c.status == "FAIL" for c in checks)
    if args.json:
        print(json.dumps({"ok": not failed, "checks": [c.as_dict() for c in checks]}, indent=2, default=str))
        return ExitCode.FAILED if failed else ExitCode.OK
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{c.status:<4}  {c.name:<{width}}  {c.detail}")
        if c.fix and c.status != "OK":
            print(f"      {'':<{width}}  fix: {c.fix}")
    counts = {s: sum(c.status == s for c in checks) for s in ("OK", "WARN", "FAIL")}
    print(f"{counts['OK']} OK, {counts['WARN']} WARN, {counts['FAIL']} FAIL", file=sys.stderr)
    return ExitCode.FAILED if failed else ExitCode.OK
