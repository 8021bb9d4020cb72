"""Accuracy figures: COCO mAP through edge_sdk.evaluate (COCOeval of pycocotools) and SQNR.

No hand-written mAP: detections and references are turned into COCO dicts and scored by COCOeval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_sdk.decode.base import Detections

#: SQNR reported for an output that is all noise (keeps the JSON free of -Infinity).
SQNR_FLOOR_DB = -300.0


@dataclass(frozen=True)
class MapResult:
    map50_95: float | None  # 0..100; None when the reference holds no objects
    map50: float | None
    per_class: dict[int, dict[str, Any]] = field(default_factory=dict)  # category id -> objects, ap50_95, ap50 (0..100)


def coco_images(count: int, width: int, height: int) -> list[dict[str, Any]]:
    return [{"id": i + 1, "width": width, "height": height, "file_name": f"{i + 1}"} for i in range(count)]


def detections_to_annotations(per_image: list[Detections]) -> list[dict[str, Any]]:
    """Reference objects (COCO ground-truth annotations) from per-image detections."""
    anns: list[dict[str, Any]] = []
    for img, dets in enumerate(per_image, start=1):
        for box, cls in zip(dets.boxes, dets.class_ids):
            x1, y1, x2, y2 = (float(v) for v in box)
            w, h = max(0.0, x2 - x1), max(0.0, y2 - y1)
            anns.append({"id": len(anns) + 1, "image_id": img, "category_id": int(cls) + 1,
                         "bbox": [x1, y1, w, h], "area": w * h, "iscrowd": 0})
    return anns


def detections_to_results(per_image: list[Detections]) -> list[dict[str, Any]]:
    """Scored detections in COCO result format."""
    res: list[dict[str, Any]] = []
    for img, dets in enumerate(per_image, start=1):
        for box, score, cls in zip(dets.boxes, dets.scores, dets.class_ids):
            x1, y1, x2, y2 = (float(v) for v in box)
            res.append({"image_id": img, "category_id": int(cls) + 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                        "score": float(score)})
    return res


def coco_map(gt: dict[str, Any], results: list[dict[str, Any]]) -> MapResult:
    """mAP50-95 and mAP50 (0..100) of `results` against the COCO ground truth dict `gt`, scored by
    edge_sdk.evaluate (COCOeval of pycocotools); None when `gt` holds no object to find."""
    from edge_sdk.evaluate.metrics import coco_map as evaluate_map

    if not [a for a in gt["annotations"] if not a.get("ignore") and not a.get("iscrowd")]:
        return MapResult(None, None)
    res = evaluate_map(gt, results, backend="pycocotools")
    per_class = {c.category_id: {"objects": c.n_gt, "ap50_95": _pct(c.ap50_95), "ap50": _pct(c.ap50)}
                 for c in res.per_class}
    return MapResult(_pct(res.map50_95), _pct(res.map50), per_class)


def resampled_map50_95(gt: dict[str, Any], results: list[dict[str, Any]], picks: list[np.ndarray],
                       categories: set[int]) -> list[float | None]:
    """COCO mAP50-95 (0..100) over `categories` of each multiset of images in `picks` (0-based frame indexes
    drawn with replacement; image id = index + 1, as coco_images numbers them).

    COCOeval matches detections to objects per image and category, so a draw's score only needs those per-image
    results: COCOeval evaluates once, then its own accumulate runs on each draw's images (one drawn twice counts
    twice), at all areas and 100 detections per image as coco_map reads it. The figures are what scoring each
    draw as a new ground truth from scratch gives, at a fraction of the time (the bootstrap of the gate draws 100)."""
    import contextlib
    import copy
    import io

    from edge_sdk.evaluate.metrics import cocoeval

    kept = [a for a in gt["annotations"] if int(a["category_id"]) in categories and not a.get("iscrowd")]
    has_gt = {int(a["image_id"]) for a in kept}
    if not results:
        return [0.0 if has_gt.intersection((pick + 1).tolist()) else None for pick in picks]
    ev = cocoeval({**gt, "annotations": kept, "categories": [c for c in gt["categories"] if int(c["id"]) in categories]},
                  [r for r in results if int(r["category_id"]) in categories])
    p0 = ev._paramsEval
    i0, a0 = len(p0.imgIds), len(p0.areaRng)
    position = {image: i for i, image in enumerate(p0.imgIds)}
    out: list[float | None] = []
    for pick in picks:
        ids = (pick + 1).tolist()
        p = copy.copy(p0)
        p.imgIds, p.areaRng, p.areaRngLbl, p.maxDets = list(range(len(ids))), [p0.areaRng[0]], ["all"], [p0.maxDets[-1]]
        draw = copy.copy(ev)
        draw.evalImgs = [ev.evalImgs[k * a0 * i0 + position[i]] for k in range(len(p0.catIds)) for i in ids]
        draw._paramsEval = p
        with contextlib.redirect_stdout(io.StringIO()):
            draw.accumulate(p)
        precision = np.asarray(draw.eval["precision"])[:, :, :, 0, 0]
        valid = precision[precision > -1]
        out.append(round(100.0 * float(valid.mean()), 3) if valid.size else None)
    return out


def _pct(v: float | None) -> float | None:
    return None if v is None or v < 0 else round(100.0 * float(v), 3)


@dataclass
class SqnrMeter:
    """Signal-to-quantization-noise per output: 10 log10(sum ref^2 / sum (ref - test)^2), over all frames."""

    signal: dict[str, float] = field(default_factory=dict)
    noise: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, ref: np.ndarray, test: np.ndarray) -> None:
        r = ref.astype(np.float64)
        self.signal[name] = self.signal.get(name, 0.0) + float(np.sum(r * r))
        self.noise[name] = self.noise.get(name, 0.0) + float(np.sum((r - test.astype(np.float64)) ** 2))

    def db(self) -> dict[str, float | None]:
        return {k: sqnr_db(self.signal[k], self.noise[k]) for k in self.signal}


def sqnr_db(signal: float, noise: float) -> float | None:
    """SQNR in dB; None stands for infinite (no noise at all)."""
    if noise <= 0.0:
        return None
    if signal <= 0.0:
        return SQNR_FLOOR_DB
    return max(SQNR_FLOOR_DB, round(10.0 * math.log10(signal / noise), 2))
