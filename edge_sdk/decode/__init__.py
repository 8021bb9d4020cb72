"""Decode: raw model outputs to detections in input pixels, then class-aware NMS.

Built-in layouts (`decode/layouts.py`, chosen by `decode.type` or detected from every output): yolov8,
yolov5, yolox, end2end, rtdetr, end2end-split, ppyoloe. A plugin is any function
`decode(outputs: Sequence[np.ndarray], ctx: DecodeContext) -> Detections` named by a dotted path
`package.module:function` in config; `ctx` carries the thresholds, the model (input size, output names and
shapes, labels, strides, preprocessing) and the frame's placement (docs/models.md).
"""

from edge_sdk.decode.base import (
    BoundDecoder,
    DecodeContext,
    DecodeModel,
    DecodeParams,
    Decoder,
    Detections,
    filter_classes,
)
from edge_sdk.decode.nms import nms
from edge_sdk.decode.registry import detect_layout, get_decoder
from edge_sdk.decode.yolov8 import decode_yolov8

__all__ = ["BoundDecoder", "DecodeContext", "DecodeModel", "DecodeParams", "Decoder", "Detections", "decode_yolov8",
           "detect_layout", "filter_classes", "get_decoder", "nms"]
