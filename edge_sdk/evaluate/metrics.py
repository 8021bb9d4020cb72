"""COCO detection metrics through a kept library (pycocotools, or faster-coco-eval on request).

Nothing here computes AP by hand: ground truth and detections go to COCOeval, and every figure is
read from its results (`stats`, the `precision` array, the per-image matches in `evalImgs`).

Conventions: COCO category ids are model class index + 1; boxes are COCO [x, y, w, h] in pixels of
the original frame; ground truth with `iscrowd: 1` or `ignore: 1` is neither a miss nor a hit.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from edge_sdk.lazy import missing

BACKENDS = ("pycocotools", "faster-coco-eval")


@dataclass(frozen=True)
class ClassAP:
    """One category's figures, 0..1; None where the category has no ground truth."""

    name: str
    category_id: int
    n_gt: int
    ap50: float | None
    ap50_95: float | None


@dataclass(frozen=True)
class MapResult:
    """Overall COCO mAP (0..1) at IoU 0.5 and averaged over 0.5:0.95, and per category."""

    map50: float
    map50_95: float
    per_class: tuple[ClassAP, ...]
    n_images: int
    n_gt: int
    n_dets: int
    backend: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RecallResult:
    """Share of (non-ignored) ground-truth objects matched by a detection at IoU >= `iou`."""

    recall: float
    matched: int
    total: int
    iou: float
    per_class: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _load_backend(backend: str) -> tuple[Any, Any]:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    try:
        if backend == "pycocotools":
            from pycocotools.coco import COCO
            from pycocotools.cocoeval import COCOeval

            return COCO, COCOeval
        from faster_coco_eval import COCO as FCOCO
        from faster_coco_eval import COCOeval_faster

        return FCOCO, COCOeval_faster
    except ImportError as exc:
        raise missing(backend, needed_for="COCO mAP evaluation") from exc


def _run_cocoeval(gt: dict[str, Any], dets: list[dict[str, Any]], backend: str, iou_thrs: Iterable[float] | None = None) -> Any:
    coco_cls, eval_cls = _load_backend(backend)
    data = dict(gt)
    data.setdefault("info", {})
    data.setdefault("licenses", [])
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = coco_cls()
        coco_gt.dataset = data
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes([dict(d) for d in dets])
        ev = eval_cls(coco_gt, coco_dt, "bbox")
        if iou_thrs is not None:
            ev.params.iouThrs = np.asarray(list(iou_thrs), dtype=np.float64)
        ev.evaluate()
        ev.accumulate()
    return ev


def cocoeval(gt: dict[str, Any], dets: list[dict[str, Any]], backend: str = "pycocotools") -> Any:
    """The evaluated and accumulated COCOeval of `dets` against `gt` (for callers that read its per-image
    results, such as the INT8 gate's bootstrap)."""
    _check(gt, dets)
    return _run_cocoeval(gt, dets, backend)


def _check(gt: dict[str, Any], dets: list[dict[str, Any]]) -> None:
    for key in ("images", "annotations", "categories"):
        if key not in gt:
            raise ValueError(f"ground truth is not COCO: it has no {key!r} list")
    for d in dets[:1]:
        missing = {"image_id", "category_id", "bbox", "score"} - set(d)
        if missing:
            raise ValueError(f"detections must be COCO results; the first lacks {sorted(missing)}")


def _n_gt(gt: dict[str, Any], category_id: int | None = None) -> int:
    return sum(
        1
        for a in gt["annotations"]
        if not a.get("iscrowd") and not a.get("ignore") and (category_id is None or a["category_id"] == category_id)
    )


def coco_map(gt: dict[str, Any], dets: list[dict[str, Any]], backend: str = "pycocotools") -> MapResult:
    """COCO bbox mAP of `dets` (COCO result dicts) against `gt` (a COCO dict), overall and per category.

    Use detections decoded with a low confidence threshold (e.g. 0.001) and up to 100 per image, as
    COCO evaluation expects; mAP is read at maxDets=100 and all object areas.
    """
    _check(gt, dets)
    cats = sorted(gt["categories"], key=lambda c: c["id"])
    if not dets:
        per = tuple(
            ClassAP(
                c["name"], c["id"], _n_gt(gt, c["id"]), 0.0 if _n_gt(gt, c["id"]) else None, 0.0 if _n_gt(gt, c["id"]) else None
            )
            for c in cats
        )
        return MapResult(0.0, 0.0, per, len(gt["images"]), _n_gt(gt), 0, backend)
    ev = _run_cocoeval(gt, dets, backend)
    precision = np.asarray(ev.eval["precision"])  # [T, R, K, A, M]
    cat_ids = list(ev.params.catIds)
    iou_thrs = np.asarray(ev.params.iouThrs)
    t50 = int(np.argmin(np.abs(iou_thrs - 0.5)))
    per_class = []
    for c in cats:
        k = cat_ids.index(c["id"])
        p_all, p50 = precision[:, :, k, 0, -1], precision[t50, :, k, 0, -1]
        n = _n_gt(gt, c["id"])
        per_class.append(
            ClassAP(
                c["name"],
                c["id"],
                n,
                float(np.mean(p50[p50 > -1])) if n and np.any(p50 > -1) else None,
                float(np.mean(p_all[p_all > -1])) if n and np.any(p_all > -1) else None,
            )
        )
    valid_all = precision[:, :, :, 0, -1]
    valid50 = precision[t50, :, :, 0, -1]
    map50_95 = float(np.mean(valid_all[valid_all > -1])) if np.any(valid_all > -1) else 0.0
    map50 = float(np.mean(valid50[valid50 > -1])) if np.any(valid50 > -1) else 0.0
    return MapResult(map50, map50_95, tuple(per_class), len(gt["images"]), _n_gt(gt), len(dets), backend)


def recall_at_iou(
    gt: dict[str, Any],
    dets: list[dict[str, Any]],
    iou: float = 0.5,
    min_score: float = 0.0,
    backend: str = "pycocotools",
) -> RecallResult:
    """Recall of detections scoring >= `min_score` at IoU `iou`, matched by COCOeval (greedy by score,
    one detection per object, same class, at most 100 detections per image, all areas).

    Read from COCOeval's accumulated per-class recall (matched / non-ignored objects of the class).
    """
    _check(gt, dets)
    if not 0.0 < iou < 1.0:
        raise ValueError(f"iou must be in (0, 1), got {iou}")
    kept = [d for d in dets if d["score"] >= min_score]
    cats = {c["id"]: c["name"] for c in gt["categories"]}
    total = _n_gt(gt)
    per_total = {cid: _n_gt(gt, cid) for cid in cats}
    matched = dict.fromkeys(cats, 0)
    if kept:
        ev = _run_cocoeval(gt, kept, backend, iou_thrs=[iou])
        recall = np.asarray(ev.eval["recall"])  # [T, K, A, M]; -1 where a class has no objects
        cat_ids = list(ev.params.catIds)
        for cid in cats:
            r = float(recall[0, cat_ids.index(cid), 0, -1])
            matched[cid] = round(r * per_total[cid]) if r > 0 else 0
    hits = sum(matched.values())
    per_class = {cats[c]: (matched[c] / per_total[c] if per_total[c] else None) for c in sorted(cats)}
    return RecallResult(hits / total if total else 1.0, hits, total, iou, per_class)
