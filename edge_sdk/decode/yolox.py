"""YOLOX exported as it is by default (`decode_in_inference` off): one output [1, N, 5+nc] whose box columns
are raw grid offsets and log sizes; objectness and class scores already went through a sigmoid.
Decoded as YOLOX's own demo does: `xy = (raw_xy + grid) * stride`, `wh = exp(raw_wh) * stride`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from edge_sdk.decode.base import DecodeContext, DecodeParams, Detections, as_context
from edge_sdk.decode.grid import anchor_free_counts, grid_points
from edge_sdk.decode.yolov5 import decode_objectness


def decode_yolox(outputs: Sequence[np.ndarray], ctx: DecodeContext | DecodeParams | None = None) -> Detections:
    c = as_context(ctx)
    size = c.input_size("yolox")
    out = outputs[0]
    if out.ndim != 3 or out.shape[0] != 1 or out.shape[2] < 6:
        raise ValueError(f"yolox layout expects [1, N, 5+nc], got {list(out.shape)}")
    strides = anchor_free_counts(size, c.model.strides).get(int(out.shape[1]))
    if strides is None:
        raise ValueError(f"yolox: {out.shape[1]} anchors match no stride set at input {list(size)}")
    xy, stride = grid_points(size, strides, 0.0)
    pred = out[0]
    keep = pred[:, 4] > c.params.conf_thres  # decode only what can pass (objectness bounds the score)
    raw = pred[keep]
    boxes = np.empty((raw.shape[0], raw.shape[1]), np.float32)
    s = stride[keep][:, None]
    boxes[:, :2] = (raw[:, :2] + xy[keep]) * s
    boxes[:, 2:4] = np.exp(np.minimum(raw[:, 2:4], 20.0)) * s
    boxes[:, 4:] = raw[:, 4:]
    return decode_objectness(boxes[None], c.params)
