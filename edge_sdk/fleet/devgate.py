"""The accuracy gate and smoke run a device applies to a new model before it swaps it in.

There are no labels on a device, so the gate measures the new model against what the device already trusts:

- FP32 bundles: the running model's detections on the device's own recent frames (kept by the agent as they
  passed through the pipeline, with the detections the running model published for them) are the reference
  objects. The new model runs on the same frames (through the engine the daemon would use, and the same
  letterbox and decoder) at the evaluation threshold, and is scored against them with COCO mAP50 (0..100):
  its *agreement* with the running model. It must reach `rollout.min_agreement_map50`, and its detections per
  frame at the run-time threshold must stay within [1/x, x] of the running model's (`max_detection_ratio`).
  This refuses a model that is broken, mislabelled or meant for another camera; it cannot tell a better model
  from a slightly different one, so the bound is loose by default (50) and is the fleet operator's to set.
- INT8 bundles: the INT8 build's own gate on this device (`edge_sdk.quant.build_int8`: INT8 against the
  bundle's FP32 model on the device's held-out calibration frames, `build.max_drop`); the device's
  calibration frames are the "own frames" there.

The smoke run is the same pass: the real engine is opened and every recent frame goes through it; any
exception, a non-finite output or no output at all fails it. Both run on the agent's thread, beside the
pipeline (one engine instance more while they run).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from edge_sdk.config.app import AppConfig
from edge_sdk.decode.base import DecodeParams, Detections


@dataclass(frozen=True)
class RecentFrame:
    camera: str
    image: np.ndarray  # BGR, a copy owned here
    detections: Detections  # the running model's, in frame pixels, at the run-time threshold
    model_sha256: str


@dataclass
class GateResult:
    passed: bool
    reason: str
    figures: dict[str, Any]


def _ratio(new: float, old: float) -> float | None:
    return None if old < 0.05 else new / old


def gate_fp32(new_cfg: AppConfig, frames: Sequence[RecentFrame]) -> GateResult:
    """Smoke-run the new model of `new_cfg` on `frames` and score its agreement with the running model."""
    from edge_sdk.pipeline.build import open_model
    from edge_sdk.preprocess.letterbox import letterbox
    from edge_sdk.quant.gate import EVAL_CONF, EVAL_MAX_DET
    from edge_sdk.quant.metrics import coco_images, coco_map, detections_to_annotations, detections_to_results

    rollout = new_cfg.fleet.rollout
    bundle = open_model(new_cfg)
    low: list[Detections] = []
    at_runtime = 0
    times = []
    try:
        low_params = DecodeParams(conf_thres=EVAL_CONF, iou_thres=bundle.params.iou_thres, max_det=EVAL_MAX_DET,
                                  classes=bundle.params.classes)
        for f in frames:
            x, info = letterbox(f.image, bundle.engine.info.input_hw)
            t0 = time.perf_counter()
            outputs = bundle.engine.infer(x)
            times.append((time.perf_counter() - t0) * 1000.0)
            if not outputs or not all(np.isfinite(o).all() for o in outputs):
                return GateResult(False, "smoke run: the new model's output is empty or not finite", {})
            for params, sink in ((low_params, low), (bundle.params, None)):
                dets = bundle.decoder(outputs, params)
                dets.boxes = info.to_original(dets.boxes)
                if sink is None:
                    at_runtime += len(dets)
                else:
                    sink.append(dets)
    finally:
        bundle.engine.close()
    h, w = frames[0].image.shape[:2]
    num_classes = max([len(bundle.metadata.names)] + [int(c) + 1 for f in frames for c in f.detections.class_ids])
    gt = {"images": coco_images(len(frames), w, h), "annotations": detections_to_annotations([f.detections for f in frames]),
          "categories": [{"id": c + 1, "name": str(c)} for c in range(num_classes)]}
    old_dpf = sum(len(f.detections) for f in frames) / len(frames)
    new_dpf = at_runtime / len(frames)
    score = coco_map(gt, detections_to_results(low))
    figures: dict[str, Any] = {"kind": "fp32-agreement", "frames": len(frames), "agreement_map50": score.map50,
                               "agreement_map50_95": score.map50_95, "detections_per_frame": round(new_dpf, 3),
                               "running_detections_per_frame": round(old_dpf, 3),
                               "latency_ms_median": round(statistics.median(times), 2)}
    ratio = _ratio(new_dpf, old_dpf)
    bound = rollout.max_detection_ratio
    if ratio is not None and not 1.0 / bound <= ratio <= bound:
        return GateResult(False, f"gate: {new_dpf:.2f} detections per frame against the running model's {old_dpf:.2f} "
                                 f"(outside 1/{bound:g}..{bound:g}x)", figures)
    if score.map50 is not None and score.map50 < rollout.min_agreement_map50:
        return GateResult(False, f"gate: agreement with the running model mAP50 {score.map50:.1f} < "
                                 f"{rollout.min_agreement_map50:g} on {len(frames)} recent frames", figures)
    if score.map50 is None and new_dpf > max(1.0, bound * 0.05):
        return GateResult(False, f"gate: the running model saw nothing on the recent frames, the new one "
                                 f"{new_dpf:.2f} detections per frame", figures)
    return GateResult(True, "passed", figures)


def gate_int8(new_cfg: AppConfig) -> GateResult:
    """The INT8 build of the new model on this device, whose own accuracy gate decides."""
    from edge_sdk.errors import EdgeSdkError
    from edge_sdk.quant import build_int8

    try:
        outcome = build_int8(new_cfg, progress=False)
    except EdgeSdkError as exc:
        report = getattr(exc, "report", {}) or {}
        return GateResult(False, f"gate (INT8 build): {exc.message}", {"kind": "int8-build", "decision":
                                                                       report.get("decision")})
    return GateResult(True, "passed", {"kind": "int8-build", "decision": outcome.report.get("decision"),
                                       "detail": outcome.report.get("decision_detail")})
