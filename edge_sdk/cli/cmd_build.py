"""`edge-sdk build --config FILE`: the INT8 step (calibrate, quantize, gate), then the TensorRT engine."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.quant.build import BuildOutcome

COMMAND = "build"
HELP = "INT8 Q/DQ model from the calibration frames, checked against FP32; then the TensorRT engine"
EPILOG = """examples:
  edge-sdk build --config app.yaml              calibrate, quantize, gate; reuse when nothing changed
  edge-sdk build --config app.yaml --force      rebuild even if the build directory is up to date
  edge-sdk build --config app.yaml --json       the report as JSON on stdout

Before any frame is read, a preflight checks and fixes the model (as `edge-sdk model check`, then INT8's own
checks, and a dry run of both forms): what cannot be quantized is refused in seconds with what to do. The CPU
form is made for this CPU's instruction set, and INT8 runs on the CPU only when the build measured it at least
build.cpu_min_speedup times faster than FP32 here (the report's "ships on onnxruntime-cpu" line says which and
why). The report times every phase and gives the gate per class, with precision/recall/F1 and the score shift.

Writes into the build directory (build.dir, default <state_dir>/build/<model>): the TensorRT-form Q/DQ ONNX,
the CPU-form Q/DQ ONNX, TensorRT calibration caches, ranges.json, report.json/.txt and manifest.json. The
build fails (exit 1, report.failed.txt) when INT8 loses more than build.max_map_drop mAP50-95 points against
FP32 on the held-out frames, unless build.accept_over_budget is true. With engine.type tensorrt the engine
is built next (TensorRT must be installed; it never falls back to another engine)."""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", required=True, help="the app's YAML config")
    p.add_argument("--force", action="store_true", help="rebuild even when the inputs are unchanged")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout")


def run(args: argparse.Namespace) -> int:
    from edge_sdk.config import load_config
    from edge_sdk.errors import GateFailed
    from edge_sdk.quant import build_int8
    from edge_sdk.quant.report import render

    cfg = load_config(args.config)
    try:
        outcome = build_int8(cfg, force=args.force)
    except GateFailed as exc:
        if args.json:
            print(json.dumps({"int8": exc.report, "engine": None}, indent=2))
        else:
            print(render(exc.report), file=sys.stderr)
        raise
    if not args.json:
        print(render(outcome.report), file=sys.stderr)
        print(outcome.summary, file=sys.stderr)
    engine = _tensorrt_engine(cfg, outcome, args.force) if cfg.engine.type == "tensorrt" else None
    if args.json:
        print(json.dumps({"int8": outcome.report, "reused": outcome.reused, "folder": str(outcome.folder),
                          "engine": engine}, indent=2))
    return 0


def _tensorrt_engine(cfg: AppConfig, outcome: BuildOutcome, force: bool) -> dict[str, Any]:
    """Build (or reuse) the TensorRT engine of the TensorRT-form Q/DQ model. No TensorRT here: a clear error."""
    from edge_sdk.errors import BuildError

    try:
        from edge_sdk.device.profiles import resolve_profile
        from edge_sdk.engines.trt.builder import build_engine
        from edge_sdk.engines.trt.version import require_tensorrt
    except ImportError as exc:
        raise BuildError(f"the TensorRT engine builder is not part of this installation ({exc})",
                         where="engine.type: tensorrt",
                         fix="install edge-sdk with its TensorRT layer, or set engine.type: onnxruntime") from exc
    from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig
    from edge_sdk.quant.trt_cache import ensure_cache

    if not isinstance(cfg.engine, TensorRtEngineConfig):
        raise BuildError("internal: engine is not tensorrt")
    version = require_tensorrt()  # DependencyMissing (with how to install) where TensorRT is absent
    cache = ensure_cache(outcome.folder, version.text)
    artifact = build_engine(outcome.model("trt"), cache, resolve_profile(cfg.device), cfg.engine,
                            Path(cfg.resolve(cfg.engine.engine_dir)),
                            calibration_set_sha256=str(outcome.manifest["calibration"]["sha256"]), force=force)
    print(artifact.describe(), file=sys.stderr)
    return {"engine_path": str(artifact.engine_path), "reused": artifact.reused, "reason": artifact.reason,
            "precision": artifact.precision}
