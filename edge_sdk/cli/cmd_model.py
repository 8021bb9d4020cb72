"""`edge-sdk model check`: load a model the way `edge-sdk run` does and say what edge-sdk makes of it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

COMMAND = "model"
HELP = "check a detection model: inputs, fixes, preprocessing, decoder, labels"
DESCRIPTION = ("Load a model as `edge-sdk run` would (checks and fixes, one inference on a blank input, decoder "
               "chosen from every output) and print what was found and where each value came from. Refuses, with "
               "the fix, what run would refuse; takes seconds and touches no camera.")
EPILOG = """examples:
  edge-sdk model check yolov8n.onnx                         a model file with nothing else said about it
  edge-sdk model check --config app.yaml                    the config's model, with its model.* and decode.*
  edge-sdk model check picodet.onnx --labels coco.txt --json
  edge-sdk model check centerface.onnx --size 480 640 --decode apps.centernet_decoder:decode"""


def register(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    c = sub.add_parser("check", help="load a model and report what edge-sdk makes of it",
                       description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("model", nargs="?", help="an ONNX file (or give --config)")
    c.add_argument("--config", help="an app config: its model, model.preprocess, model.labels and decode")
    c.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="model.preprocess.size")
    c.add_argument("--labels", help="model.labels: a labels file")
    c.add_argument("--decode", help="decode.type (default auto)")
    c.add_argument("--state-dir", default=None, help="where fixed copies go (default: the config's state_dir, or "
                                                     "./state)")
    c.add_argument("--json", action="store_true", help="print the report as JSON")


def _config(args: argparse.Namespace) -> Any:
    from edge_sdk.config.loader import load_config, load_config_text
    from edge_sdk.errors import ConfigError

    if args.config:
        cfg = load_config(args.config)
        if args.model:
            cfg.model.path = str(Path(args.model).resolve())
    elif args.model:
        cfg = load_config_text(f"sources: [{{uri: 'file:///dev/null'}}]\nmodel: {{path: {json.dumps(args.model)}}}\n",
                               "<command line>", Path.cwd())
    else:
        raise ConfigError("no model given", fix="pass an ONNX file, or --config app.yaml")
    if args.size:
        cfg.model.preprocess.size = list(args.size)
    if args.labels:
        cfg.model.labels = str(Path(args.labels).resolve())
    if args.decode:
        cfg.decode.type = args.decode
    if args.state_dir:
        cfg.state_dir = str(Path(args.state_dir).resolve())
    return cfg


def run(args: argparse.Namespace) -> int:
    from edge_sdk.model.resolve import origin_summary
    from edge_sdk.pipeline.build import open_model

    cfg = _config(args)
    bundle = open_model(cfg, fp32=True)
    try:
        resolved = bundle.resolved
        spec = bundle.preprocess
        info = bundle.engine.info
        shapes = getattr(getattr(bundle.decoder, "model", None), "output_shapes", ())
        report: dict[str, Any] = {
            "ok": True, "model": str(bundle.path), "runs": str(resolved.path),
            "input": {"name": resolved.prepared.input.name, "declared": list(resolved.prepared.input.declared),
                      "opset": resolved.prepared.opset},
            "fixes": list(resolved.prepared.fixes), "notes": list(resolved.prepared.notes),
            "outputs": [{"name": o.name, "shape": list(s)} for o, s in zip(info.outputs, shapes)],
            "decoder": bundle.decoder_name,
            "preprocess": spec.as_dict() if spec is not None else None,
            "labels": {str(k): v for k, v in bundle.metadata.names.items()},
            "labels_from": resolved.labels_origin or "(none: class ids)",
        }
    finally:
        bundle.engine.close()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"model      {report['model']}")
    if report["runs"] != report["model"]:
        print(f"runs       {report['runs']}")
    print(f"input      {report['input']['name']} {report['input']['declared']}, opset {report['input']['opset']}")
    for fix in report["fixes"]:
        print(f"fixed      {fix}")
    for note in report["notes"]:
        print(f"note       {note}")
    for out in report["outputs"]:
        print(f"output     {out['name']} {out['shape']}")
    print(f"decoder    {report['decoder']}")
    if spec is not None:
        print(f"preprocess {spec.describe()}")
        print(f"           from {origin_summary(spec)}")
    names = report["labels"]
    shown = ", ".join(list(names.values())[:8]) + (f", ... ({len(names)})" if len(names) > 8 else "")
    print(f"labels     {shown or '-'} [{report['labels_from']}]")
    return 0
