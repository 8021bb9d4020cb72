"""Build step: calibration frames and the INT8 build (with its accuracy gate) when the precision is int8,
then, for TensorRT, the engine, built now so the service never builds at start.

The engine is made by loading the installed config's model exactly as the service does
(`edge_sdk.pipeline.build.open_model`), so it lands in the engine cache the service reads, under the same
key. Parts missing from this build make their step `skipped` with the reason, or `failed` when the chosen
precision or engine needs them: never a silent downgrade (no FP32 or ONNX Runtime fallback).
"""

from __future__ import annotations

import time
from typing import Any

from edge_sdk.config.app import AppConfig
from edge_sdk.errors import EdgeSdkError
from edge_sdk.provision.actions import Status, StepResult
from edge_sdk.provision.context import Context
from edge_sdk.provision.report import runs_on
from edge_sdk.provision.steps import Step, optional


def build_steps(cfg: AppConfig, profile: str, precision: str, dry_run: bool) -> tuple[list[StepResult], Any]:
    """Calibration capture, INT8 build and the engine for this device; returns the results and the INT8 outcome."""
    results = []
    outcome: Any = None
    if precision != "int8":
        why = f"precision {precision}; --precision int8 builds INT8"
        results += [StepResult("calibration", "skipped", why), StepResult("int8 build", "skipped", why)]
    else:
        results.append(calibration_step(cfg, dry_run))
        if results[-1].status == "failed":
            results.append(StepResult("int8 build", "failed", "needs the calibration frames (see above)"))
        else:
            result, outcome = int8_step(cfg, dry_run)
            results.append(result)
    if cfg.engine.type != "tensorrt":
        results.append(StepResult("engine build", "skipped", f"not applicable: {cfg.engine.type} loads the ONNX model "
                                                             "at start"))
    elif precision == "int8" and outcome is None:
        status: Status = "would change" if dry_run and results[-1].status != "failed" else "failed"
        results.append(StepResult("engine build", status, "needs the INT8 model (see above); no FP32 fallback"))
    else:
        results.append(engine_step(cfg, dry_run))
    return results, outcome


def int8_step(cfg: AppConfig, dry_run: bool) -> tuple[StepResult, Any]:
    build = optional("edge_sdk.quant", "build_int8")
    if build is None:
        return StepResult("int8 build", "failed", "edge_sdk.quant.build_int8 is not in this build"), None
    if dry_run:
        return StepResult("int8 build", "would change", "would run the INT8 build (reused when its inputs are unchanged)"), None
    try:
        outcome = build(cfg, progress=False)
    except EdgeSdkError as exc:
        return StepResult("int8 build", "failed", str(exc)), None
    return StepResult("int8 build", "changed" if outcome.changed else "unchanged", outcome.summary), outcome


def engine_step(cfg: AppConfig, dry_run: bool) -> StepResult:
    """Load the installed config's model in TensorRT as the service will (building or reusing the engine)."""
    if dry_run:
        return StepResult("engine build", "would change", "would build the TensorRT engine (reused when unchanged)")
    from edge_sdk.pipeline.build import open_model

    t0 = time.monotonic()
    try:
        bundle = open_model(cfg)
    except (EdgeSdkError, ImportError) as exc:
        return StepResult("engine build", "failed", f"no FP32 or ONNX Runtime fallback: {exc}")
    info = bundle.engine.info
    bundle.engine.close()
    return StepResult("engine build", "ok", f"{info.type} {info.precision} on {runs_on(info.device)} ready in "
                                            f"{time.monotonic() - t0:.1f} s ({bundle.path.name}); the service loads "
                                            "it from the engine cache")


def calibration_step(cfg: AppConfig, dry_run: bool) -> StepResult:
    """Capture calibration frames from the configured camera when the set is below calibration.min_frames."""
    ensure = optional("edge_sdk.calibration", "ensure_calibration_set")
    if ensure is None:
        return StepResult("calibration", "failed", "edge_sdk.calibration.ensure_calibration_set is not in this build")
    from edge_sdk.calibration import frames_folder

    folder = frames_folder(cfg)
    if dry_run:
        return StepResult("calibration", "would change",
                          f"would capture frames into {folder} if it holds fewer than {cfg.calibration.min_frames}")
    # A looping file would never end when its unique frames are fewer than the target: capture it once.
    once = cfg.model_copy(deep=True)
    for src in once.sources:
        src.uri = src.uri.replace("loop=1", "loop=0")
    try:
        out = ensure(once, progress=False)
    except EdgeSdkError as exc:
        return StepResult("calibration", "failed", str(exc))
    return StepResult("calibration", "changed" if out.changed else "unchanged", out.summary)


def run(ctx: Context) -> None:
    if ctx.staged is None:
        return
    results, ctx.int8 = build_steps(ctx.staged, ctx.profile, ctx.precision, ctx.opts.dry_run)
    ctx.report.add(*results)


STEP = Step("build", run, "install")
