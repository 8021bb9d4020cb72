"""Boxes decoded in the graph, with objectness: one output [1, N, 5+nc] with cx, cy, w, h (input pixels),
objectness, class scores. YOLOv5/YOLOv7 (anchor-based), YOLOX exported with decode_in_inference, YOLOv6."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge_sdk.decode.base import DecodeContext, DecodeParams, Detections, as_context, cxcywh_to_xyxy, filter_classes
from edge_sdk.decode.nms import nms


def decode_yolov5(outputs: Sequence[np.ndarray], ctx: DecodeContext | DecodeParams | None = None) -> Detections:
    return decode_objectness(outputs[0], as_context(ctx).params)


def decode_objectness(out: np.ndarray, params: DecodeParams) -> Detections:
    """[1, N, 5+nc] cx, cy, w, h, objectness, class scores -> detections (score = objectness x class)."""
    if out.ndim != 3 or out.shape[0] != 1 or out.shape[2] < 6:
        raise ValueError(f"yolov5 layout expects [1, N, 5+nc], got {list(out.shape)}")
    pred = out[0]
    obj = pred[:, 4]
    cand = obj > params.conf_thres
    pred = pred[cand]
    cls = pred[:, 5:] * pred[:, 4:5]
    class_ids = np.argmax(cls, axis=1)
    scores = cls[np.arange(cls.shape[0]), class_ids]
    keep = scores > params.conf_thres
    if not np.any(keep):
        return Detections()
    boxes = cxcywh_to_xyxy(pred[keep, :4].astype(np.float32))
    dets = Detections(boxes, scores[keep].astype(np.float32), class_ids[keep].astype(np.int64))
    return nms(filter_classes(dets, params), params)
