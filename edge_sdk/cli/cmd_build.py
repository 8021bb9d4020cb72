"""`edge-sdk build --config FILE`: the INT8 step (calibrate, quantize, gate), then the TensorRT engine."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig
    from edge_sdk.quant.build import BuildOutcome
    from edge_sdk.quant.ships import ShipDecision

log = logging.getLogger(__name__)

COMMAND = "build"
HELP = "INT8 Q/DQ model from the calibration frames, checked against FP32; then the TensorRT engine"
EPILOG = """examples:
  edge-sdk build --config app.yaml              calibrate, quantize, gate; reuse when nothing changed
  edge-sdk build --config app.yaml --force      rebuild even if the build directory is up to date
  edge-sdk build --config app.yaml --json       the report as JSON on stdout

Before any frame is read, a preflight checks and fixes the model (as `edge-sdk model check`, then INT8's own
checks, and a dry run of both forms): what cannot be quantized is refused in seconds with what to do. After
calibration, a layer whose own output INT8 reproduces under build.min_layer_sqnr_db stays float (the report lists
it with its figure: a depthwise conv whose input channels span very different ranges, for one). The CPU
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
    profile = resolve_profile(cfg.device)
    engine_dir = Path(cfg.resolve(cfg.engine.engine_dir))
    artifact = build_engine(outcome.model("trt"), cache, profile, cfg.engine, engine_dir,
                            calibration_set_sha256=str(outcome.manifest["calibration"]["sha256"]), force=force)
    print(artifact.describe(), file=sys.stderr)
    decision = _int8_or_fp16(cfg, cfg.engine, outcome, cache, profile, engine_dir)
    print(f"ships on TensorRT: {decision.chosen.upper()} ({decision.reason})", file=sys.stderr)
    return {"engine_path": str(artifact.engine_path), "reused": artifact.reused, "reason": artifact.reason,
            "precision": artifact.precision, "ships": decision.as_dict()}


def _int8_or_fp16(cfg: AppConfig, engine_cfg: TensorRtEngineConfig, outcome: BuildOutcome, cache: Path, profile: Any,
                  engine_dir: Path) -> ShipDecision:
    """What ships on this device's TensorRT: INT8 only when its gate passed and its engine measured at least
    build.trt_min_speedup times faster than the FP16 engine here (both timed on the device); recorded in the build
    (report and manifest), which `edge-sdk run` follows."""
    import dataclasses

    from edge_sdk.engines.trt.fp16 import fp16_model
    from edge_sdk.engines.trt.measure import time_int8_against_fp16
    from edge_sdk.errors import DependencyMissing
    from edge_sdk.model.resolve import model_cache_dir, resolve_model
    from edge_sdk.quant import report as rep
    from edge_sdk.quant import ships
    from edge_sdk.quant.ship_record import record_in_build

    models = model_cache_dir(cfg)
    float_model = resolve_model(cfg.resolve(cfg.model.path), cfg.model, base_dir=cfg.base_dir, cache_dir=models).path
    latency: dict[str, float | None] = {"int8": None, "fp16": None}
    measured_on: dict[str, Any] = {}
    try:
        timed = time_int8_against_fp16(outcome.model("trt"), fp16_model(float_model, models), cache, profile,
                                       engine_cfg, engine_dir)
        latency.update(timed.latency_ms)
        measured_on = dict(timed.measured_on)
    except DependencyMissing as exc:  # no pycuda: the engines cannot be timed here, so INT8 cannot be shown faster
        log.warning("the INT8 and FP16 engines cannot be timed here (%s): FP16 ships", exc.message)
    decision = ships.choose_by_speed(ships.TARGET_TRT, "int8", "fp16", latency, cfg.build.trt_min_speedup, measured_on)
    if decision.chosen == "int8" and outcome.report.get("decision") == rep.ACCEPTED:
        decision = dataclasses.replace(decision, chosen="fp16", reason=f"{decision.reason}, but INT8 did not pass the "
                                       "accuracy gate (accepted over budget only for ONNX Runtime): FP16 ships")
    record_in_build(outcome.folder, decision)
    return decision
