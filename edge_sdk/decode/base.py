"""Types shared by all decoders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class DecodeParams:
    """Thresholds for turning raw outputs into detections."""

    conf_thres: float = 0.25
    iou_thres: float = 0.45
    max_det: int = 300
    classes: frozenset[int] | None = None  # keep only these class ids; None keeps all
    max_candidates: int = 30000  # cap on boxes entering NMS, best-scoring first


@dataclass
class Detections:
    """Detections of one frame: boxes [N,4] x1,y1,x2,y2 float32, scores [N], class_ids [N] int."""

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    class_ids: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.int64))

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def select(self, keep: np.ndarray) -> Detections:
        return Detections(self.boxes[keep], self.scores[keep], self.class_ids[keep])


Decoder = Callable[[Sequence[np.ndarray], DecodeParams], Detections]


def cxcywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    out = np.empty_like(b)
    half_w, half_h = b[:, 2] / 2, b[:, 3] / 2
    out[:, 0] = b[:, 0] - half_w
    out[:, 1] = b[:, 1] - half_h
    out[:, 2] = b[:, 0] + half_w
    out[:, 3] = b[:, 1] + half_h
    return out


def filter_classes(dets: Detections, params: DecodeParams) -> Detections:
    if params.classes is None or len(dets) == 0:
        return dets
    keep = np.isin(dets.class_ids, np.fromiter(params.classes, dtype=np.int64))
    return dets.select(keep)
