"""Class-aware greedy non-maximum suppression in NumPy."""

from __future__ import annotations

import numpy as np

from edge_sdk.decode.base import DecodeParams, Detections

#: Up to this many candidates NMS computes every pair's IoU at once (a 1024 x 1024 float32 matrix is 4 MiB);
#: above it, one row at a time. Both give the same boxes: the same float32 arithmetic, the same greedy order.
MATRIX_MAX = 1024


def nms_indices(boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_thres: float, max_det: int) -> np.ndarray:
    """Indices kept by class-aware NMS, best score first. Boxes of different classes never suppress each other.

    Greedy: the best remaining box is kept and every later box whose IoU with it is not <= `iou_thres` is
    dropped. With a few dozen candidates (a typical frame) the pairwise IoU matrix costs less than one numpy
    round per kept box (measured on the demo model: 65 candidates, ~7 kept)."""
    if boxes.shape[0] == 0:
        return np.zeros((0,), np.int64)
    # Offset each class into its own region so one pass handles all classes.
    span = float(np.max(boxes)) + 1.0
    shifted = boxes + (class_ids.astype(np.float32) * span)[:, None]
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = shifted[:, 0], shifted[:, 1], shifted[:, 2], shifted[:, 3]
    areas = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    if order.size <= MATRIX_MAX:
        return _greedy_matrix(order, x1, y1, x2, y2, areas, iou_thres, max_det)
    keep: list[int] = []
    while order.size and len(keep) < max_det:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0)
        h = np.maximum(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0)
        inter = w * h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_thres]
    return np.asarray(keep, dtype=np.int64)


def _greedy_matrix(order: np.ndarray, x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray,
                   areas: np.ndarray, iou_thres: float, max_det: int) -> np.ndarray:
    """The greedy loop on a precomputed IoU matrix (rows and columns in score order)."""
    a, bx1, by1, bx2, by2 = areas[order], x1[order], y1[order], x2[order], y2[order]
    w = np.maximum(np.minimum(bx2[:, None], bx2[None, :]) - np.maximum(bx1[:, None], bx1[None, :]), 0)
    h = np.maximum(np.minimum(by2[:, None], by2[None, :]) - np.maximum(by1[:, None], by1[None, :]), 0)
    inter = w * h
    iou = inter / np.maximum(a[:, None] + a[None, :] - inter, 1e-9)
    dropped = ~(iou <= iou_thres)  # row r: what keeping box r drops (NaN drops, as in the row-at-a-time loop)
    removed = np.zeros(order.size, dtype=bool)
    keep: list[int] = []
    for r in range(order.size):
        if removed[r]:
            continue
        keep.append(int(order[r]))
        if len(keep) >= max_det:
            break
        removed |= dropped[r]
    return np.asarray(keep, dtype=np.int64)


def nms(dets: Detections, params: DecodeParams) -> Detections:
    """Apply class-aware NMS and the max-detections cap."""
    if len(dets) > params.max_candidates:
        top = np.argsort(-dets.scores, kind="stable")[: params.max_candidates]
        dets = dets.select(top)
    keep = nms_indices(dets.boxes, dets.scores, dets.class_ids, params.iou_thres, params.max_det)
    return dets.select(keep)
