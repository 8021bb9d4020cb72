"""Comparing two detectors' outputs frame by frame with stated tolerances (GPU against CPU)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_sdk.decode.base import Detections


@dataclass(frozen=True)
class Tolerance:
    iou_min: float = 0.99  # a matched box overlaps its reference at least this much
    score_diff: float = 1e-3  # and their scores differ by at most this
    near_threshold: float = 1e-3  # a detection without a partner is forgiven only this close to conf_thres


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def compare(ref: Detections, got: Detections, conf_thres: float,
            tol: Tolerance = Tolerance()) -> tuple[list[str], dict[str, float]]:
    """Problems (empty when within tolerance) and figures: matched, worst IoU, largest score difference."""
    problems: list[str] = []
    used: set[int] = set()
    worst_iou, worst_score = 1.0, 0.0
    matched = 0
    for i in np.argsort(-ref.scores):
        candidates = [(iou(ref.boxes[i], got.boxes[j]), j) for j in range(len(got))
                      if j not in used and got.class_ids[j] == ref.class_ids[i]]
        best_iou, j = max(candidates, default=(0.0, -1))
        if j < 0 or best_iou < tol.iou_min:
            if abs(float(ref.scores[i]) - conf_thres) > tol.near_threshold:
                problems.append(f"reference detection {i} (class {ref.class_ids[i]}, score {ref.scores[i]:.4f}) "
                                f"has no partner (best IoU {best_iou:.4f})")
            continue
        used.add(j)
        matched += 1
        diff = abs(float(ref.scores[i]) - float(got.scores[j]))
        worst_iou, worst_score = min(worst_iou, best_iou), max(worst_score, diff)
        if diff > tol.score_diff:
            problems.append(f"detection {i}: score {ref.scores[i]:.5f} vs {got.scores[j]:.5f}")
    for j in range(len(got)):
        if j not in used and abs(float(got.scores[j]) - conf_thres) > tol.near_threshold:
            problems.append(f"extra detection (class {got.class_ids[j]}, score {got.scores[j]:.4f})")
    return problems, {"matched": matched, "worst_iou": worst_iou, "worst_score_diff": worst_score}
