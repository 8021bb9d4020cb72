"""Class-aware greedy non-maximum suppression in NumPy."""

from __future__ import annotations

import numpy as np

from edge_sdk.decode.base import DecodeParams, Detections


def nms_indices(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_thres: float, max_det: int) -> np.ndarray:
    """Indices kept by class-aware NMS, best score first. Boxes of different classes never suppress each other."""
    if boxes.shape[0] == 0:
        return np.zeros((0,), np.int64)
    # Offset each class into its own region so one pass handles all classes.
    span = float(np.max(boxes)) + 1.0
    shifted = boxes + (class_ids.astype(np.float32) * span)[:, None]
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = shifted[:, 0], shifted[:, 1], shifted[:, 2], shifted[:, 3]
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    keep: list[int] = []
    while order.size and len(keep) < max_det:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_thres]
    return np.asarray(keep, dtype=np.int64)


def nms(dets: Detections, params: DecodeParams) -> Detections:
    """Apply class-aware NMS and the max-detections cap."""
    if len(dets) > params.max_candidates:
        top = np.argsort(-dets.scores, kind="stable")[: params.max_candidates]
        dets = dets.select(top)
    keep = nms_indices(dets.boxes, dets.scores, dets.class_ids, params.iou_thres, params.max_det)
    return dets.select(keep)
