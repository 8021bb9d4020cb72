"""How an INT8 candidate agrees with FP32 beyond mAP: per-class AP and which classes decide the gate, precision,
recall and F1 at the run-time threshold, and the shift of the confidence scores.

Which classes decide: mAP is the mean of per-class AP, so a class with one held-out object moves it as much as
one with a thousand (issue 26: a YOLOv8n failed at a drop of 8.93 points that came from one class with one
object, while the classes with 73 and 13 objects lost under 1.5). The gate therefore decides on the mean AP
of the classes with at least `min_objects` reference objects; the others are reported, not deciding. When no
class has that many, every class decides (and the report says so).

Score shift: INT8 can lower confidences while mAP, a ranking measure, looks fine; objects then fall under the
run-time threshold in the field. For every reference object (an FP32 detection at the run-time threshold) the
candidate's best-overlapping detection of the same class (IoU >= 0.5, at the evaluation threshold) is paired
with it; the report gives the median and 10th/90th percentiles of candidate score minus FP32 score, and how
many objects the candidate scores under the run-time threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from edge_sdk.decode.base import Detections
from edge_sdk.tracking.assign import iou_matrix

MATCH_IOU = 0.5


def deciding_classes(per_class: dict[int, dict[str, Any]], min_objects: int) -> tuple[set[int], str]:
    """(category ids that decide the gate, the rule in words) from the reference's per-class object counts."""
    present = {c for c, v in per_class.items() if v["objects"] > 0}
    enough = {c for c in present if per_class[c]["objects"] >= min_objects}
    if min_objects <= 0 or enough == present:
        return present, "mAP50-95 over every class with reference objects (COCO mAP)"
    few = len(present - enough)
    if not enough:
        return present, (f"mAP50-95 over every class: no class has {min_objects} reference objects in the held-out "
                         f"frames (build.gate_min_class_objects), so all {len(present)} decide; capture more frames")
    return enough, (f"mAP50-95 over the {len(enough)} classes with at least {min_objects} reference objects; {few} "
                    f"class{'es' if few > 1 else ''} with fewer reported but not deciding (build.gate_min_class_objects)")


def mean_ap(per_class: dict[int, dict[str, Any]], classes: set[int], key: str = "ap50_95") -> float | None:
    values = [per_class[c][key] for c in classes if c in per_class and per_class[c][key] is not None]
    return round(float(np.mean(values)), 3) if values else None


def _greedy_matches(ref: Detections, cand: Detections) -> list[tuple[int, int]]:
    """One-to-one (ref index, cand index) pairs of the same class at IoU >= 0.5, candidates by falling score."""
    if not len(ref) or not len(cand):
        return []
    iou = iou_matrix(ref.boxes.astype(np.float64), cand.boxes.astype(np.float64))
    same = ref.class_ids[:, None] == cand.class_ids[None, :]
    iou = np.where(same, iou, 0.0)
    taken: set[int] = set()
    pairs = []
    for j in np.argsort(-cand.scores, kind="stable"):
        col = iou[:, j].copy()
        if taken:
            col[list(taken)] = 0.0
        i = int(np.argmax(col))
        if col[i] >= MATCH_IOU:
            taken.add(i)
            pairs.append((i, int(j)))
    return pairs


def precision_recall(ref: Sequence[Detections], cand_runtime: Sequence[Detections]) -> dict[str, Any]:
    """Precision, recall and F1 of the candidate's detections at the run-time threshold against the reference
    objects (IoU >= 0.5, same class, one-to-one)."""
    matched = sum(len(_greedy_matches(r, c)) for r, c in zip(ref, cand_runtime))
    objects = sum(len(r) for r in ref)
    found = sum(len(c) for c in cand_runtime)
    p = matched / found if found else (1.0 if not objects else 0.0)
    r = matched / objects if objects else 1.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4), "matched": matched,
            "reference_objects": objects, "detections": found, "iou": MATCH_IOU}


def score_shift(ref: Sequence[Detections], cand_low: Sequence[Detections], conf_thres: float) -> dict[str, Any]:
    """Candidate score minus FP32 score over reference objects paired with a candidate detection (see module)."""
    deltas: list[float] = []
    unmatched = below = 0
    for r, c in zip(ref, cand_low):
        pairs = dict(_greedy_matches(r, c))
        unmatched += len(r) - len(pairs)
        for i, j in pairs.items():
            deltas.append(float(c.scores[j]) - float(r.scores[i]))
            below += float(c.scores[j]) < conf_thres
    if not deltas:
        return {"paired": 0, "unpaired": unmatched, "median": None, "p10": None, "p90": None, "mean": None,
                "below_conf_thres": 0, "conf_thres": conf_thres}
    d = np.asarray(deltas)
    return {"paired": len(deltas), "unpaired": unmatched, "median": round(float(np.median(d)), 4),
            "p10": round(float(np.percentile(d, 10)), 4), "p90": round(float(np.percentile(d, 90)), 4),
            "mean": round(float(d.mean()), 4), "below_conf_thres": int(below), "conf_thres": conf_thres}
