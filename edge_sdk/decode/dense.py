"""PP-YOLOE / PicoDet (and other GFL-style heads): class score maps and box distributions, no NMS in the graph.

Accepted forms (paddle2onnx and others export them; the outputs may come in any order):
- per level: k score maps [1, N_i, nc] and k distribution maps [1, N_i, 4*(R+1)] (PicoDet: four levels,
  strides 8/16/32/64, R = 7 so 32 bins);
- concatenated: one score map over all anchors ([1, N, nc] or [1, nc, N]) and one distribution map
  ([1, N, 4*(R+1)] or [1, 4*(R+1), N]);
- decoded boxes: scores ([1, N, nc] or [1, nc, N]) and boxes [1, N, 4] x1,y1,x2,y2 in input pixels (PP-YOLOE
  exported without NMS; its `scale_factor` input is filled with 1, so boxes stay in input pixels).

Levels are matched to strides by anchor count (N_i = ceil(H/s) * ceil(W/s)), never by output order. Scores are
probabilities (the exporters apply the sigmoid). A distribution gives each side's distance as the expectation
of a softmax over R+1 bins, times the stride, from the anchor centre `(x + 0.5) * stride`, as PaddleDetection's
PicoDetPostProcess does. Each anchor keeps its best class; NMS is class-aware.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge_sdk.decode.base import DecodeContext, DecodeParams, Detections, as_context, filter_classes
from edge_sdk.decode.grid import anchor_free_counts, grid_points, level_strides
from edge_sdk.decode.nms import nms

DIST_BINS = (8, 16, 17)  # R + 1: PicoDet (reg_max 7), YOLOv8-style (15), PP-YOLOE (16)


@dataclass(frozen=True)
class Part:
    index: int  # which output
    kind: str  # "scores", "dist" or "boxes"
    anchors_last: bool  # [1, F, N] rather than [1, N, F]
    anchors: int


@dataclass(frozen=True)
class DenseLayout:
    levels: tuple[tuple[Part, Part, tuple[int, ...]], ...]  # (scores, dist or boxes, strides)
    bins: int  # R + 1 (0 for decoded boxes)

    def describe(self) -> str:
        kinds = "boxes" if self.bins == 0 else f"{self.bins}-bin distributions"
        strides = [s for *_, group in self.levels for s in group]
        return f"{len(self.levels)} score map(s) with {kinds}, strides {strides}"


def _classify(shape: tuple[int, ...], index: int, size: tuple[int, int], nc: int | None) -> Part | str:
    if len(shape) != 3 or shape[0] != 1:
        return f"output {index} {list(shape)} is not [1, a, b]"
    valid = set(level_strides(size)) | set(anchor_free_counts(size))
    a, b = shape[1], shape[2]
    if a not in valid and b not in valid:
        return f"output {index} {list(shape)}: no axis is an anchor count at input {list(size)}"
    anchors_last = b in valid and (a not in valid or b > a)  # both counts (small inputs): anchors outnumber features
    feat = a if anchors_last else b
    anchors = b if anchors_last else a
    if feat == 4 and nc != 4:
        return Part(index, "boxes", anchors_last, anchors)
    is_dist = feat % 4 == 0 and feat // 4 in DIST_BINS
    is_score = feat == nc if nc is not None else not is_dist
    if is_dist and is_score:
        return f"output {index} {list(shape)}: {feat} could be classes or box bins (give the labels)"
    if not (is_dist or is_score):
        return f"output {index} {list(shape)}: {feat} is neither the class count {nc} nor 4 x bins"
    return Part(index, "dist" if is_dist else "scores", anchors_last, anchors)


@functools.lru_cache(maxsize=16)
def dense_layout(shapes: tuple[tuple[int, ...], ...], size: tuple[int, int], nc: int | None) -> DenseLayout | str:
    """The structure of the outputs, or why they are not this layout."""
    parts = []
    for i, shape in enumerate(shapes):
        part = _classify(shape, i, size, nc)
        if isinstance(part, str):
            return part
        parts.append(part)
    scores = [p for p in parts if p.kind == "scores"]
    others = [p for p in parts if p.kind != "scores"]
    if not scores or len(scores) != len(others) or len({p.kind for p in others}) != 1:
        return "needs score maps, each with one distribution (or box) map of the same anchors"
    per_level = level_strides(size)
    total = anchor_free_counts(size)
    levels = []
    for s in scores:
        mates = [o for o in others if o.anchors == s.anchors]
        if len(mates) != 1:
            return f"{len(mates)} maps pair with the score map of {s.anchors} anchors"
        group = (per_level[s.anchors],) if len(scores) > 1 else total.get(s.anchors, (per_level.get(s.anchors, 0),))
        levels.append((s, mates[0], group))
    strides = [st for *_, g in levels for st in g]
    if 0 in strides or len(set(strides)) != len(strides):
        return f"anchor counts {[s.anchors for s in scores]} do not give distinct strides at {list(size)}"
    feat = shapes[others[0].index][1 if others[0].anchors_last else 2]
    bins = 0 if others[0].kind == "boxes" else feat // 4
    return DenseLayout(tuple(levels), bins)


def _rows(out: np.ndarray, part: Part) -> np.ndarray:
    x: np.ndarray = out[0]
    return x.T if part.anchors_last else x


def decode_dense(outputs: Sequence[np.ndarray], ctx: DecodeContext | DecodeParams | None = None) -> Detections:
    c = as_context(ctx)
    size = c.input_size("ppyoloe")
    layout = dense_layout(tuple(tuple(o.shape) for o in outputs), size, c.model.num_classes)
    if isinstance(layout, str):
        raise ValueError(f"ppyoloe layout: {layout}")
    boxes, scores, ids = [], [], []
    for score_part, box_part, strides in layout.levels:
        cls = _rows(outputs[score_part.index], score_part)
        best = cls.max(axis=1)
        keep = np.flatnonzero(best > c.params.conf_thres)
        if keep.size == 0:
            continue
        reg = _rows(outputs[box_part.index], box_part)[keep].astype(np.float32)
        if layout.bins == 0:
            boxes.append(reg)
        else:
            xy, stride = grid_points(size, strides, 0.5)
            centre = xy[keep] * stride[keep][:, None]
            logits = reg.reshape(-1, 4, layout.bins)
            prob = np.exp(logits - logits.max(axis=2, keepdims=True))
            dist = (prob @ np.arange(layout.bins, dtype=np.float32)) / prob.sum(axis=2) * stride[keep][:, None]
            boxes.append(np.concatenate([centre - dist[:, :2], centre + dist[:, 2:]], axis=1))
        scores.append(best[keep])
        ids.append(np.argmax(cls[keep], axis=1))
    if not boxes:
        return Detections()
    dets = Detections(np.concatenate(boxes).astype(np.float32), np.concatenate(scores).astype(np.float32),
                      np.concatenate(ids).astype(np.int64))
    return nms(filter_classes(dets, c.params), c.params)
