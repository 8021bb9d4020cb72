"""The accuracy gate: INT8 against FP32 on held-out frames, with no labels.

The FP32 model's detections (at the config's run-time thresholds) are the reference objects. Each model
(FP32 itself, and every INT8 candidate) is decoded at a low threshold (0.001, as for mAP) and scored
against them with COCO mAP50 and mAP50-95. FP32 scores about 100 against itself; the drop of a candidate
is FP32's score minus the candidate's, in points. The SQNR of every model output is reported as well.
Models run through the same ONNX Runtime engine as `edge-sdk run`.

How far to trust the drop: it is measured on a sample of frames, and a few dozen frames move it by about a
point. `drop_interval` bootstraps it (frames drawn with replacement, FP32 and candidate scored on the same
draws) into a 90% interval, which the report prints beside the drop; an interval that straddles the budget
means the held-out set is too small to decide reliably.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.calibration.dataset import FrameFile
from edge_sdk.decode.base import DecodeParams, Decoder, Detections
from edge_sdk.quant.agreement import deciding_classes, mean_ap, precision_recall, score_shift
from edge_sdk.quant.metrics import (
    MapResult,
    SqnrMeter,
    coco_images,
    coco_map,
    detections_to_annotations,
    detections_to_results,
    resampled_map50_95,
)
from edge_sdk.quant.stats import preprocess_file

#: Threshold candidates are decoded at for mAP (as COCO evaluation does).
EVAL_CONF = 0.001
EVAL_MAX_DET = 300


@dataclass(frozen=True)
class GateSettings:
    decoder: Decoder
    reference: DecodeParams  # run-time thresholds: what counts as an object
    size: tuple[int, int]  # model input (height, width)
    num_classes: int
    threads: int = 0
    min_class_objects: int = 0  # classes with fewer reference objects do not decide (agreement.deciding_classes)
    names: dict[int, str] = field(default_factory=dict)  # class index -> name, for the per-class report
    spec: Any = None  # the model's PreprocessSpec (None: the default letterbox to `size`)

    @property
    def preprocess(self) -> Any:
        """What stats.preprocess_file takes: the model's spec, or the letterbox size."""
        return self.spec if self.spec is not None else self.size

    @property
    def candidate(self) -> DecodeParams:
        return DecodeParams(conf_thres=EVAL_CONF, iou_thres=self.reference.iou_thres, max_det=EVAL_MAX_DET)


@dataclass
class ModelScore:
    map50_95: float | None  # COCO mAP over every class
    map50: float | None
    sqnr_db: dict[str, float | None]
    latency_ms: float  # median per-frame inference time during the evaluation
    detections: int  # detections at the run-time threshold, all frames
    per_frame: list[Detections] = field(default_factory=list, repr=False)  # at EVAL_CONF, for drop_interval
    per_class: dict[int, dict[str, Any]] = field(default_factory=dict)  # category id -> objects, ap50_95, ap50
    deciding_map: float | None = None  # mAP50-95 over the deciding classes: what the drop is taken on
    agreement: dict[str, Any] = field(default_factory=dict)  # precision/recall/F1 and score shift vs FP32

    def as_dict(self) -> dict[str, Any]:
        return {"map50_95": self.map50_95, "map50": self.map50, "deciding_map50_95": self.deciding_map,
                "sqnr_db": self.sqnr_db, "latency_ms": self.latency_ms, "detections": self.detections,
                **self.agreement}


@dataclass
class Reference:
    frames: list[FrameFile]
    outputs: list[list[np.ndarray]]
    output_names: list[str]
    gt: dict[str, Any]
    objects: int
    fp32: ModelScore
    runtime: list[Detections] = field(default_factory=list, repr=False)  # FP32 at the run-time threshold
    deciding: set[int] = field(default_factory=set)  # category ids that decide the gate
    rule: str = ""  # the deciding rule in words, for the report
    _fp32_draws: dict[int, list[float | None]] = field(default_factory=dict, repr=False)  # seed -> FP32 mAP per draw


def _open(path: Path, threads: int) -> Any:
    from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine

    return OnnxRuntimeEngine(path, intra_op_threads=threads)


def _timed(engine: Any, x: np.ndarray) -> tuple[list[np.ndarray], float]:
    t0 = time.perf_counter()
    out = engine.infer(x)
    return out, (time.perf_counter() - t0) * 1000.0


def make_reference(fp32_path: Path, frames: Sequence[FrameFile], settings: GateSettings) -> Reference:
    """Run the FP32 model on the held-out frames once; its detections become the reference objects."""
    outputs: list[list[np.ndarray]] = []
    ref_dets: list[Detections] = []
    low_dets: list[Detections] = []
    times: list[float] = []
    with _open(fp32_path, settings.threads) as engine:
        names = [o.name for o in engine.info.outputs]
        for f in frames:
            out, ms = _timed(engine, preprocess_file(f, settings.preprocess))
            times.append(ms)
            outputs.append(out)
            ref_dets.append(settings.decoder(out, settings.reference))
            low_dets.append(settings.decoder(out, settings.candidate))
    h, w = settings.size
    gt = {"images": coco_images(len(frames), w, h), "annotations": detections_to_annotations(ref_dets),
          "categories": [{"id": c + 1, "name": str(c)} for c in range(settings.num_classes)]}
    score = coco_map(gt, detections_to_results(low_dets))
    counts = {c + 1: sum(int(a["category_id"]) == c + 1 for a in gt["annotations"]) for c in range(settings.num_classes)}
    deciding, rule = deciding_classes({c: {"objects": n} for c, n in counts.items()}, settings.min_class_objects)
    fp32 = ModelScore(score.map50_95, score.map50, {n: None for n in names}, statistics.median(times),
                      sum(len(d) for d in ref_dets), low_dets, score.per_class, mean_ap(score.per_class, deciding))
    return Reference(list(frames), outputs, names, gt, len(gt["annotations"]), fp32, ref_dets, deciding, rule)


def score_candidate(path: Path, ref: Reference, settings: GateSettings) -> ModelScore:
    """mAP of a candidate against the reference objects, SQNR per output, median latency."""
    meter = SqnrMeter()
    dets: list[Detections] = []
    runtime: list[Detections] = []
    times: list[float] = []
    with _open(path, settings.threads) as engine:
        for f, ref_out in zip(ref.frames, ref.outputs):
            out, ms = _timed(engine, preprocess_file(f, settings.preprocess))
            times.append(ms)
            for name, r, o in zip(ref.output_names, ref_out, out):
                meter.add(name, r, o)
            dets.append(settings.decoder(out, settings.candidate))
            runtime.append(settings.decoder(out, settings.reference))
    score: MapResult = coco_map(ref.gt, detections_to_results(dets))
    agreement = {**precision_recall(ref.runtime, runtime),
                 "score_shift": score_shift(ref.runtime, dets, settings.reference.conf_thres)}
    return ModelScore(score.map50_95, score.map50, meter.db(), statistics.median(times), sum(len(d) for d in runtime),
                      dets, score.per_class, mean_ap(score.per_class, ref.deciding), agreement)


def drop_points(fp32: ModelScore, cand: ModelScore) -> float | None:
    """mAP50-95 points the candidate loses against FP32's own score, over the deciding classes (every class
    when no class was set apart); None when there is no reference object."""
    f, c = (fp32.deciding_map, cand.deciding_map) if fp32.deciding_map is not None else (fp32.map50_95, cand.map50_95)
    if f is None or c is None:
        return None
    return round(f - c, 3)


def per_class_table(ref: Reference, cand: ModelScore, names: dict[int, str]) -> list[dict[str, Any]]:
    """One row per class with reference objects: objects, FP32 and candidate AP50-95, the drop, whether it decides."""
    rows = []
    for cat, fp in sorted(ref.fp32.per_class.items()):
        if not fp["objects"]:
            continue
        ap = cand.per_class.get(cat, {}).get("ap50_95")
        drop = round(fp["ap50_95"] - ap, 3) if fp["ap50_95"] is not None and ap is not None else None
        rows.append({"class": names.get(cat - 1, str(cat - 1)), "objects": fp["objects"], "fp32_ap50_95": fp["ap50_95"],
                     "ap50_95": ap, "drop": drop, "decides": cat in ref.deciding})
    return rows


def drop_interval(ref: Reference, cand: ModelScore, draws: int, *, seed: int = 0,
                  level: float = 0.90) -> tuple[float, float] | None:
    """The `level` bootstrap interval of the drop (points): `draws` times, as many frames as the held-out set
    are drawn with replacement and FP32 and the candidate are both scored on them, over the deciding classes
    (metrics.resampled_map50_95: COCOeval's per-image results, accumulated per draw; the FP32 scores are kept
    for the next candidate). None without objects or draws."""
    n = len(ref.frames)
    if draws <= 0 or ref.objects == 0 or n == 0 or len(cand.per_frame) != n or len(ref.fp32.per_frame) != n:
        return None
    rng = np.random.default_rng(seed)
    picks = [rng.integers(0, n, n) for _ in range(draws)]
    keep = ref.deciding or {int(c["id"]) for c in ref.gt["categories"]}
    fp32 = ref._fp32_draws.get(seed)
    if fp32 is None or len(fp32) < draws:
        fp32 = ref._fp32_draws[seed] = resampled_map50_95(ref.gt, detections_to_results(ref.fp32.per_frame), picks, keep)
    cand_maps = resampled_map50_95(ref.gt, detections_to_results(cand.per_frame), picks, keep)
    drops = [f - c for f, c in zip(fp32, cand_maps) if f is not None and c is not None]
    if not drops:
        return None
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(drops, [tail, 100.0 - tail])
    return round(float(lo), 3), round(float(hi), 3)


def output_sqnr(path: Path, frames: Sequence[np.ndarray], ref_outputs: Sequence[list[np.ndarray]], threads: int) -> float:
    """SQNR (dB) of a model's outputs against reference outputs, all outputs and frames pooled."""
    signal = noise = 0.0
    with _open(path, threads) as engine:
        for x, ref in zip(frames, ref_outputs):
            for r, o in zip(ref, engine.infer(x)):
                r64 = r.astype(np.float64)
                signal += float(np.sum(r64 * r64))
                noise += float(np.sum((r64 - o) ** 2))
    if noise <= 0.0:
        return 1000.0
    if signal <= 0.0:
        return -300.0
    return float(10.0 * np.log10(signal / noise))


def timed_block(engine: Any, x: np.ndarray, runs: int) -> list[float]:
    """Latencies (ms) of `runs` back-to-back runs of one engine, after a short pause (the previous session's
    spinning threads go idle) and three warm-up runs."""
    time.sleep(0.05)
    for _ in range(3):
        engine.infer(x)
    return [_timed(engine, x)[1] for _ in range(runs)]


def block_latency(paths: dict[str, Path], x: np.ndarray, runs: int, threads: int) -> dict[str, float]:
    """Median latency (ms) of each model over `runs` timed runs, in blocks: half the runs in model order,
    half in reverse order, so slow drift hits all alike. Not interleaved run by run: each ONNX Runtime
    session's worker threads spin after a run and would steal the CPU from the next session's run."""
    engines = {k: _open(p, threads) for k, p in paths.items()}
    try:
        times: dict[str, list[float]] = {k: [] for k in engines}
        for order in (list(engines), list(reversed(engines))):
            for k in order:
                times[k] += timed_block(engines[k], x, max(1, runs // 2))
        return {k: round(statistics.median(v), 2) for k, v in times.items()}
    finally:
        for e in engines.values():
            e.close()
