"""RT-DETR as Ultralytics exports it. No NMS: the queries are the detections.

- `rtdetr`: [1, K, 4+nc], K queries with cx, cy, w, h normalised to 0..1 and per-class scores (sigmoid); the
  best class per query (Ultralytics before 8.4).
- `rtdetr-topk`: [1, K, 6], the top K (query, class) pairs as normalised cx, cy, w, h, score, class
  (Ultralytics 8.4 and later; its metadata says `head: RTDETRDecoder`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge_sdk.decode.base import DecodeContext, DecodeParams, Detections, as_context, cxcywh_to_xyxy, filter_classes


def decode_rtdetr(outputs: Sequence[np.ndarray], ctx: DecodeContext | DecodeParams | None = None) -> Detections:
    c = as_context(ctx)
    h, w = c.input_size("rtdetr")
    out = outputs[0]
    if out.ndim != 3 or out.shape[0] != 1 or out.shape[2] < 5:
        raise ValueError(f"rtdetr layout expects [1, K, 4+nc], got {list(out.shape)}")
    pred = out[0]
    cls = pred[:, 4:]
    scores = cls.max(axis=1)
    keep = np.flatnonzero(scores > c.params.conf_thres)
    keep = keep[np.argsort(-scores[keep], kind="stable")][: c.params.max_det]
    boxes = cxcywh_to_xyxy(pred[keep, :4].astype(np.float32)) * np.array([w, h, w, h], np.float32)
    dets = Detections(boxes, scores[keep].astype(np.float32), np.argmax(cls[keep], axis=1).astype(np.int64))
    return filter_classes(dets, c.params)


def decode_rtdetr_topk(outputs: Sequence[np.ndarray], ctx: DecodeContext | DecodeParams | None = None) -> Detections:
    c = as_context(ctx)
    h, w = c.input_size("rtdetr-topk")
    out = outputs[0]
    if out.ndim != 3 or out.shape[0] != 1 or out.shape[2] != 6:
        raise ValueError(f"rtdetr-topk layout expects [1, K, 6], got {list(out.shape)}")
    pred = out[0]
    keep = np.flatnonzero(pred[:, 4] > c.params.conf_thres)
    keep = keep[np.argsort(-pred[keep, 4], kind="stable")][: c.params.max_det]
    boxes = cxcywh_to_xyxy(pred[keep, :4].astype(np.float32)) * np.array([w, h, w, h], np.float32)
    dets = Detections(boxes, pred[keep, 4].astype(np.float32), pred[keep, 5].astype(np.int64))
    return filter_classes(dets, c.params)
