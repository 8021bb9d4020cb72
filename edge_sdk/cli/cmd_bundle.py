"""`edge-sdk bundle keygen|create|verify`: signed model bundles for fleet rollouts."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

COMMAND = "bundle"
HELP = "make and check signed model bundles (ONNX, classes, build settings, prebuilt engines) for rollouts"
EPILOG = """examples:
  edge-sdk bundle keygen --out keys/fleet.key                    signing key (0600) + keys/fleet.key.pub
  edge-sdk bundle create --model models/demo/yolo-demo.onnx --version 2.1 --key keys/fleet.key --out yolo-2.1.bundle
  edge-sdk bundle create --model m.onnx --version 3 --config app.yaml --engine state/engines/m.int8.gpu.engine \\
      --key keys/fleet.key --out m-3.bundle                      build settings from app.yaml, a prebuilt engine
  edge-sdk bundle verify yolo-2.1.bundle --trust keys/fleet.key.pub        exit 0 if a device would accept it
  edge-sdk bundle verify yolo-2.1.bundle --trust /etc/edge-sdk/trusted-keys --json

A device accepts a bundle only if manifest.sig verifies with a key it trusts (installed at provision) and every
file matches the sha256 in the signed manifest; see docs/fleet.md."""


def register(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="bundle_command", metavar="ACTION", required=True)
    k = sub.add_parser("keygen", help="make an Ed25519 signing key and its public key")
    k.add_argument("--out", required=True, metavar="FILE", help="private key file (the public key is FILE.pub)")
    c = sub.add_parser("create", help="make a signed bundle")
    c.add_argument("--model", required=True, metavar="ONNX", help="the FP32 ONNX model")
    c.add_argument("--version", required=True, help="the bundle's version (what devices report)")
    c.add_argument("--key", required=True, metavar="FILE", help="the Ed25519 signing key")
    c.add_argument("--out", required=True, metavar="FILE", help="the bundle file to write")
    c.add_argument("--name", help="model name (default: the model file's stem)")
    c.add_argument("--classes", metavar="FILE", help="class names, one per line in id order (default: the model's)")
    c.add_argument("--config", metavar="FILE", help="take the build settings (precision, decode, build) from an app config")
    c.add_argument("--precision", choices=("fp32", "int8"), help="precision the device runs (default: the config's, else fp32)")
    c.add_argument("--engine", action="append", default=[], metavar="FILE",
                   help="a prebuilt TensorRT engine with its .json cache manifest beside it (repeatable)")
    c.add_argument("--json", action="store_true", help="print what was written as JSON")
    v = sub.add_parser("verify", help="check a bundle as a device would (signature, file list, sha256 of every file)")
    v.add_argument("bundle", help="the bundle file")
    v.add_argument("--trust", required=True, action="append", metavar="PUB|DIR",
                   help="a trusted public key, or a folder of *.pub keys (repeatable)")
    v.add_argument("--json", action="store_true", help="print the verified manifest as JSON")


def run(args: argparse.Namespace) -> int:
    if args.bundle_command == "keygen":
        return _keygen(args)
    if args.bundle_command == "create":
        return _create(args)
    return _verify(args)


def _keygen(args: argparse.Namespace) -> int:
    from edge_sdk.fleet.keys import generate

    public, kid = generate(Path(args.out))
    print(f"edge-sdk bundle: signing key {args.out} (keep it secret), public key {public} (id {kid}): "
          "install the public key on devices (provision --trust-key)")
    return 0


def _build_settings(args: argparse.Namespace) -> dict[str, Any]:
    build: dict[str, Any] = {"precision": "fp32"}
    if args.config:
        from edge_sdk.config import load_config

        cfg = load_config(args.config)
        build = {"precision": cfg.model.precision, "decode": cfg.decode.model_dump(mode="json"),
                 "build": cfg.build.model_dump(mode="json")}
    if args.precision:
        build["precision"] = args.precision
    return build


def _classes(path: str | None) -> dict[int, str] | None:
    if path is None:
        return None
    from edge_sdk.errors import BundleError

    try:
        lines = [ln.strip() for ln in Path(path).read_text(encoding="utf-8").splitlines()]
    except OSError as exc:
        raise BundleError(f"cannot read the class names: {exc.strerror}", where=path) from None
    return {i: name for i, name in enumerate(n for n in lines if n)}


def _create(args: argparse.Namespace) -> int:
    from edge_sdk.fleet.bundle import BundleSpec, create_bundle

    spec = BundleSpec(model=Path(args.model), version=args.version, name=args.name, classes=_classes(args.classes),
                      build=_build_settings(args), engines=[Path(e) for e in args.engine])
    info = create_bundle(spec, Path(args.key), Path(args.out))
    if args.json:
        print(json.dumps(info.as_dict(), indent=2))
    else:
        print(f"edge-sdk bundle: wrote {args.out}: {info.name} {info.version} ({info.precision}, {len(info.classes)} "
              f"classes, {len(info.engines)} prebuilt engine(s)), signed by key {info.key_id}, sha256 {info.sha256}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from edge_sdk.errors import BundleError
    from edge_sdk.fleet.bundle import verify_bundle
    from edge_sdk.fleet.keys import trusted_keys

    keys = [k for t in args.trust for k in trusted_keys(Path(t))]
    try:
        info = verify_bundle(Path(args.bundle), keys)
    except BundleError as exc:
        if args.json:
            print(json.dumps({"ok": False, "bundle": args.bundle, "error": exc.message}))
        raise
    if args.json:
        print(json.dumps({"ok": True, **info.as_dict()}, indent=2))
    else:
        print(f"edge-sdk bundle: {args.bundle}: OK: {info.name} {info.version} ({info.precision}), signed by trusted key "
              f"{info.key_id}, {len(info.files)} files match the signed manifest, sha256 {info.sha256}", file=sys.stdout)
    return 0
