"""End-to-end NMS-free layout (YOLOv10, YOLO26, exported with NMS): one output [1, K, 6] x1,y1,x2,y2,score,class."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge_sdk.decode.base import DecodeContext, DecodeParams, Detections, as_context, filter_classes


def decode_end2end(outputs: Sequence[np.ndarray], ctx: DecodeContext | DecodeParams | None = None) -> Detections:
    params = as_context(ctx).params
    out = outputs[0]
    if out.ndim != 3 or out.shape[0] != 1 or out.shape[2] != 6:
        raise ValueError(f"end2end layout expects [1, K, 6], got {list(out.shape)}")
    pred = out[0]
    keep = pred[:, 4] > params.conf_thres
    pred = pred[keep]
    order = np.argsort(-pred[:, 4], kind="stable")[: params.max_det]
    pred = pred[order]
    dets = Detections(pred[:, :4].astype(np.float32), pred[:, 4].astype(np.float32), pred[:, 5].astype(np.int64))
    return filter_classes(dets, params)


@dataclass(frozen=True)
class SplitLayout:
    boxes: int
    scores: int
    labels: int
    count: int | None  # output holding the number of valid rows (TensorRT EfficientNMS), if any


def split_layout(outputs: Sequence[tuple[str, tuple[int, ...], str]]) -> SplitLayout | str:
    """Which output is which among boxes [1,K,4], scores [1,K], labels [1,K] (+ a count [1] or [1,1]), from
    shapes, dtypes (integer labels) and names; a reason string when that cannot be told."""
    boxes = [i for i, (_, s, _) in enumerate(outputs) if len(s) == 3 and s[0] == 1 and s[2] == 4]
    if len(boxes) != 1:
        return "needs exactly one boxes output [1, K, 4]"
    k = outputs[boxes[0]][1][1]
    rows = [i for i, (_, s, _) in enumerate(outputs) if tuple(s) == (1, k)]
    count = [i for i, (_, s, _) in enumerate(outputs) if tuple(s) in ((1,), (1, 1))]
    if len(rows) != 2 or len(outputs) != 3 + len(count) or len(count) > 1:
        return "needs boxes [1, K, 4], scores [1, K] and labels [1, K] (and at most a count [1, 1])"
    ints = [i for i in rows if outputs[i][2].startswith(("int", "uint"))]
    if len(ints) != 1:
        named = [i for i in rows if any(w in outputs[i][0].lower() for w in ("label", "class", "cls"))]
        if len(named) != 1:
            return "cannot tell scores from labels (both float, names say neither 'label' nor 'class')"
        ints = named
    scores = next(i for i in rows if i != ints[0])
    return SplitLayout(boxes[0], scores, ints[0], count[0] if count else None)


def decode_end2end_split(outputs: Sequence[np.ndarray], ctx: DecodeContext | DecodeParams | None = None) -> Detections:
    """RT-DETR / D-FINE (official exports) and TensorRT EfficientNMS-style models: boxes [1,K,4] x1,y1,x2,y2 in
    input pixels, scores [1,K], labels [1,K]; optionally the count of valid rows. No NMS."""
    c = as_context(ctx)
    names = c.model.output_names or tuple(str(i) for i in range(len(outputs)))
    layout = split_layout([(n, tuple(o.shape), o.dtype.name) for n, o in zip(names, outputs)])
    if isinstance(layout, str):
        raise ValueError(f"end2end-split layout: {layout}")
    boxes, scores, labels = outputs[layout.boxes][0], outputs[layout.scores][0], outputs[layout.labels][0]
    if layout.count is not None:
        n = int(np.asarray(outputs[layout.count]).ravel()[0])
        boxes, scores, labels = boxes[:n], scores[:n], labels[:n]
    keep = np.flatnonzero(scores > c.params.conf_thres)
    keep = keep[np.argsort(-scores[keep], kind="stable")][: c.params.max_det]
    dets = Detections(boxes[keep].astype(np.float32), scores[keep].astype(np.float32), labels[keep].astype(np.int64))
    return filter_classes(dets, c.params)
