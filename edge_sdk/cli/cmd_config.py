"""`edge-sdk config validate FILE` and `edge-sdk config schema`."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig

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
    _check_files(cfg, args.file)
    if args.json:
        print(cfg.model_dump_json(indent=2))
    else:
        print(f"{args.file}: OK (device {cfg.device}, engine {cfg.engine.type}, "
              f"{len(cfg.sources)} source(s), model {cfg.model.path})")
    return 0


def _check_files(cfg: AppConfig, source: str) -> None:
    """Files the config names must exist: the model, and file:// sources (checked without opening them)."""
    from edge_sdk.errors import ConfigError
    from edge_sdk.sources.uri import parse_uri

    problems = []
    model = cfg.resolve(cfg.model.path)
    if not model.is_file():
        problems.append(f"model.path: {model} does not exist")
    for i, src in enumerate(cfg.sources):
        uri = parse_uri(src.uri)
        if uri.scheme == "file" and not cfg.resolve(uri.target).exists():
            problems.append(f"sources.{i}.uri: {cfg.resolve(uri.target)} does not exist")
    if problems:
        raise ConfigError("the config names files that do not exist:\n  " + "\n  ".join(problems), where=source,
                          fix="correct the paths (relative paths are resolved from the config file's directory)")
