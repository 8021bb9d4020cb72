"""End-to-end NMS-free layout (YOLOv10, YOLO26, exported with NMS): one output [1, K, 6] x1,y1,x2,y2,score,class."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge_sdk.decode.base import DecodeParams, Detections, filter_classes


def decode_end2end(outputs: Sequence[np.ndarray], params: DecodeParams) -> Detections:
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
