"""`edge-sdk config validate FILE` and `edge-sdk config schema`."""

from __future__ import annotations

import argparse
import json

COMMAND = "config"
HELP = "validate a config file, or print the JSON Schema of all keys"
EPILOG = """examples:
  edge-sdk config validate /etc/edge-sdk/app.yaml      exit 0 if valid, else every problem with file:line
  edge-sdk config validate app.yaml --json              the resolved config as JSON
  edge-sdk config schema > app.schema.json              for editors and CI"""


def register(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    v = sub.add_parser("validate", help="check a config without running anything")
    v.add_argument("file", help="the YAML config")
    v.add_argument("--json", action="store_true", help="print the resolved config as JSON")
    sub.add_parser("schema", help="print the JSON Schema of the config")


def run(args: argparse.Namespace) -> int:
    from edge_sdk.config import AppConfig, load_config

    if args.config_command == "schema":
        print(json.dumps(AppConfig.model_json_schema(), indent=2))
        return 0
    cfg = load_config(args.file)
    if args.json:
        print(cfg.model_dump_json(indent=2))
    else:
        print(f"{args.file}: OK (device {cfg.device}, engine {cfg.engine.type}, "
              f"{len(cfg.sources)} source(s), model {cfg.model.path})")
    return 0
