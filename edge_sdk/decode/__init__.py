"""Decode: raw model outputs to detections in input pixels, then class-aware NMS.

Layouts (chosen by `type` in config, or detected from the output shape and metadata):
- `yolov8`: [1, 4+nc, N] (YOLOv8/YOLO11: cx, cy, w, h, class scores; no objectness)
- `yolov5`: [1, N, 5+nc] (cx, cy, w, h, objectness, class scores)
- `end2end`: [1, K, 6] (x1, y1, x2, y2, score, class; NMS already done in the model)
A user decoder is any callable `(outputs: list[np.ndarray], params: DecodeParams) -> Detections`,
named by a dotted path `package.module:function` in config.
"""

from edge_sdk.decode.base import DecodeParams, Decoder, Detections
from edge_sdk.decode.nms import nms
from edge_sdk.decode.registry import detect_layout, get_decoder
from edge_sdk.decode.yolov8 import decode_yolov8

__all__ = ["DecodeParams", "Detections", "Decoder", "nms", "detect_layout", "get_decoder", "decode_yolov8"]
