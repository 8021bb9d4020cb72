"""`edge-sdk config validate FILE` and `edge-sdk config schema`."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from edge_sdk.errors import ExitCode

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig

COMMAND = "config"
HELP = "validate a config file, or print the JSON Schema of all keys"
EPILOG = """examples:
  edge-sdk config validate /etc/edge-sdk/app.yaml      exit 0 if valid, else every problem with file:line
  edge-sdk config validate app.yaml --json              the resolved config as JSON (secrets shown as ***)

validate also checks that the files it names exist and that the model is a readable ONNX graph with one image
input (or a TensorRT engine whose manifest matches it), with the exit codes `edge-sdk run` gives the same
mistakes (2 config, 3 model), which the systemd unit does not restart: check a config before you install it.
`edge-sdk model check` goes further (loads the model and runs one inference)."""



def register(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    v = sub.add_parser("validate", help="check a config, the files it names and its model, without running anything")
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
    _check_model(cfg)
    _warn_decode_budget(cfg, args.file)
    if args.json:
        from edge_sdk.redact import mask_secrets

        print(json.dumps(mask_secrets(cfg.model_dump(mode="json")), indent=2))  # never a password on the screen
    else:
        print(f"{args.file}: OK (device {cfg.device}, engine {cfg.engine.type}, "
              f"{len(cfg.sources)} source(s), model {cfg.model.path})")
    return ExitCode.OK


def _warn_decode_budget(cfg: AppConfig, source: str) -> None:
    """A warning (never an error) when the cameras need more hardware video decoding than the board has."""
    import sys

    from edge_sdk.device.decode_budget import check_decode_budget
    from edge_sdk.device.profiles import resolve_profile

    check = check_decode_budget(cfg, resolve_profile(cfg.device))
    if check.status != "OK":
        print(f"{source}: warning: decode budget: {check.detail}", file=sys.stderr)
        if check.fix:
            print(f"  fix: {check.fix}", file=sys.stderr)


def _check_files(cfg: AppConfig, source: str) -> None:
    """Files the config names must exist: the model, and file:// sources (checked without opening them).

    Raised as the error `run` gives for the same mistake, so the exit code is the same (errors.EXIT_CODES): a
    missing model is a ModelError (3), else a missing video a SourceError (4); every missing file is listed."""
    from edge_sdk.errors import ModelError, SourceError
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
        error = ModelError if not model.is_file() else SourceError
        raise error("the config names files that do not exist:\n  " + "\n  ".join(problems), where=source,
                    fix="correct the paths (relative paths are resolved from the config file's directory)")


def _check_model(cfg: AppConfig) -> None:
    """The model is what it claims: an ONNX graph that parses, with one image input (4 dimensions, 3 channels,
    a dtype edge-sdk feeds), or a TensorRT engine file (edge-sdk's with a manifest that checks out, or one built
    elsewhere: trtexec's, Ultralytics'). Cheap: no weights loaded, nothing
    run. Truncated files, random bytes and text files get one clear line each."""
    from edge_sdk.errors import ModelError

    path = cfg.resolve(cfg.model.path)
    if not path.is_file():
        return  # _check_files said so
    from edge_sdk.engines.trt.plan_file import ENGINE_SUFFIXES, read_plan

    if path.suffix in ENGINE_SUFFIXES:
        read_plan(path)  # EngineError: an edge-sdk engine whose bytes do not match its manifest, an empty file, ...
        return
    head = path.read_bytes()[:256]
    fix = "copy the model again (compare its sha256 with the original) or re-export it to ONNX"
    if not head:
        raise ModelError("the model file is empty", where=f"model.path: {path}", fix=fix)
    if _looks_like_text(head):
        raise ModelError(f"the model file is text, not an ONNX model (it starts with {head[:40].decode(errors='replace')!r})",
                         where=f"model.path: {path}", fix=fix)
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # DecodeError for truncated files and random bytes
        raise ModelError(f"not a readable ONNX model ({str(exc)[:200]}): truncated, or not ONNX at all",
                         where=f"model.path: {path}", fix=fix) from None
    from edge_sdk.model import inputs as mi

    if not model.graph.node:
        raise ModelError("the ONNX file holds no graph (no nodes)", where=f"model.path: {path}", fix=fix)
    mi.drop_initializer_inputs(model.graph)
    image, _side = mi.image_and_side_inputs(model.graph, f"model.path: {path}")
    mi.read_facts(image, cfg.model.preprocess.layout, f"model.path: {path}")


def _looks_like_text(head: bytes) -> bool:
    """Printable UTF-8 with no control bytes but whitespace: Markdown, HTML, a Git LFS pointer, a YAML file."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)
