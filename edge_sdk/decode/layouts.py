"""The built-in output layouts, registered once: name, what it looks like, how to recognise it from every
output, its decode function, and the preprocessing its family uses when the model does not say.

Recognition looks at all outputs (names, shapes for one inference, dtypes), the input size and, where shapes
cannot tell, the graph (`raw_head_outputs`). A layout matches only when it accounts for every output.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from edge_sdk.decode.base import DecodeFn
from edge_sdk.decode.dense import DenseLayout, decode_dense, dense_layout
from edge_sdk.decode.end2end import SplitLayout, decode_end2end, decode_end2end_split, split_layout
from edge_sdk.decode.grid import anchor_free_counts, cells
from edge_sdk.decode.rtdetr import decode_rtdetr, decode_rtdetr_topk
from edge_sdk.decode.yolov5 import decode_yolov5
from edge_sdk.decode.yolov8 import decode_yolov8
from edge_sdk.decode.yolox import decode_yolox

IMAGENET = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
RTDETR_HEAD = "RTDETRDecoder"


@dataclass(frozen=True)
class OutputInfo:
    name: str
    shape: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class ModelFacts:
    """What recognition may use besides the outputs."""

    input_size: tuple[int, int]
    num_classes: int | None = None  # from the labels, when there are any
    strides: tuple[int, ...] = ()
    raw_outputs: frozenset[str] = frozenset()  # outputs straight from the head's convolutions
    side_inputs: tuple[str, ...] = ()  # side inputs the loader filled in (orig_target_sizes, ...)
    end2end: bool = False  # the exporter says the head is one-to-one (Ultralytics `end2end: True`: YOLOv10, YOLO26)
    head: str = ""  # the head's class as the exporter names it (Ultralytics 8.4+ metadata `head`)


Matcher = Callable[[tuple[OutputInfo, ...], ModelFacts], "str | None"]


@dataclass(frozen=True)
class Layout:
    name: str
    looks_like: str  # for the list in refusals and docs
    families: str
    match: Matcher  # a description of the match, or None
    decode: DecodeFn
    preprocess: dict[str, object] = field(default_factory=dict)  # the family's convention, where unstated
    family: str = ""


def _one(outs: tuple[OutputInfo, ...]) -> tuple[int, int] | None:
    if len(outs) != 1 or len(outs[0].shape) != 3 or outs[0].shape[0] != 1:
        return None
    return outs[0].shape[1], outs[0].shape[2]


def _free(f: ModelFacts) -> dict[int, tuple[int, ...]]:
    return anchor_free_counts(f.input_size, f.strides)


def _based(f: ModelFacts) -> dict[int, tuple[int, ...]]:
    return {3 * n: group for n, group in _free(f).items()}


def _classes_fit(channels: int, extra: int, f: ModelFacts) -> bool:
    return channels - extra >= 1 and (f.num_classes is None or channels == extra + f.num_classes)


def match_yolov8(outs: tuple[OutputInfo, ...], f: ModelFacts) -> str | None:
    ab = _one(outs)
    if ab is None or ab[1] not in _free(f) or not _classes_fit(ab[0], 4, f):
        return None
    return f"{list(outs[0].shape)}: 4 box rows + {ab[0] - 4} class rows over {ab[1]} anchors (strides {_free(f)[ab[1]]})"


def match_yolov5(outs: tuple[OutputInfo, ...], f: ModelFacts) -> str | None:
    ab = _one(outs)
    if ab is None or not _classes_fit(ab[1], 5, f):
        return None
    if ab[0] in _based(f):
        return f"{list(outs[0].shape)}: {ab[0]} = 3 anchors x {ab[0] // 3} cells, boxes decoded in the graph"
    if ab[0] in _free(f) and outs[0].name not in f.raw_outputs:
        return f"{list(outs[0].shape)}: {ab[0]} anchor-free cells, boxes decoded in the graph"
    return None


def match_yolox(outs: tuple[OutputInfo, ...], f: ModelFacts) -> str | None:
    ab = _one(outs)
    if ab is None or ab[0] not in _free(f) or outs[0].name not in f.raw_outputs or not _classes_fit(ab[1], 5, f):
        return None
    return f"{list(outs[0].shape)}: raw grid offsets from the head's convolutions over {ab[0]} cells"


def match_end2end(outs: tuple[OutputInfo, ...], f: ModelFacts) -> str | None:
    ab = _one(outs)
    if ab is None or ab[1] != 6 or ab[0] in _free(f) or ab[0] in _based(f) or f.head == RTDETR_HEAD:
        return None
    return f"{list(outs[0].shape)}: {ab[0]} rows of x1,y1,x2,y2,score,class"


def match_rtdetr(outs: tuple[OutputInfo, ...], f: ModelFacts) -> str | None:
    ab = _one(outs)
    if ab is None or f.num_classes is None or ab[1] != 4 + f.num_classes or ab[0] in _free(f) or ab[0] in _based(f):
        return None
    if ab[1] == 6 and (f.end2end or f.head == RTDETR_HEAD):  # the exporter said which [1, K, 6] it is
        return None
    return f"{list(outs[0].shape)}: {ab[0]} queries of normalised cx,cy,w,h + {f.num_classes} class scores"


def match_rtdetr_topk(outs: tuple[OutputInfo, ...], f: ModelFacts) -> str | None:
    ab = _one(outs)
    if ab is None or ab[1] != 6 or f.head != RTDETR_HEAD:
        return None
    return f"{list(outs[0].shape)}: top {ab[0]} of normalised cx,cy,w,h,score,class (head {f.head})"


def match_split(outs: tuple[OutputInfo, ...], f: ModelFacts) -> str | None:
    got = split_layout([(o.name, o.shape, o.dtype) for o in outs])
    if not isinstance(got, SplitLayout):
        return None
    return (f"boxes {outs[got.boxes].name!r}, scores {outs[got.scores].name!r}, labels {outs[got.labels].name!r}"
            + (f", count {outs[got.count].name!r}" if got.count is not None else ""))


def match_dense(outs: tuple[OutputInfo, ...], f: ModelFacts) -> str | None:
    if len(outs) < 2:
        return None
    got = dense_layout(tuple(o.shape for o in outs), f.input_size, f.num_classes)
    return got.describe() if isinstance(got, DenseLayout) else None


LAYOUTS: tuple[Layout, ...] = (
    Layout("yolov8", "[1, 4+nc, N]: cx,cy,w,h + class scores per anchor, N = anchors at strides 8/16/32",
           "YOLOv8, YOLO11, YOLOv5u, YOLOv9 and YOLO26 (one-to-many head) from Ultralytics", match_yolov8,
           decode_yolov8, family="Ultralytics"),
    Layout("yolov5", "[1, N, 5+nc]: cx,cy,w,h (decoded in the graph) + objectness + class scores",
           "YOLOv5, YOLOv7 (anchor-based), YOLOX with decode_in_inference, YOLOv6", match_yolov5, decode_yolov5),
    Layout("yolox", "[1, N, 5+nc] straight from the head: grid offsets, log sizes, objectness, class scores",
           "YOLOX (default export)", match_yolox, decode_yolox,
           {"channel_order": "bgr", "scale": 1.0, "align": "top-left", "pad_value": 114}, "YOLOX"),
    Layout("end2end", "[1, K, 6]: x1,y1,x2,y2,score,class (NMS done in the model)",
           "YOLOv10, YOLO26, Ultralytics exports with nms=True", match_end2end, decode_end2end, family="Ultralytics"),
    Layout("rtdetr", "[1, K, 4+nc]: K queries of normalised cx,cy,w,h + class scores (no NMS)",
           "RT-DETR from Ultralytics before 8.4", match_rtdetr, decode_rtdetr, {"resize": "stretch"},
           "Ultralytics RT-DETR"),
    Layout("rtdetr-topk", "[1, K, 6]: normalised cx,cy,w,h,score,class, metadata head RTDETRDecoder (no NMS)",
           "RT-DETR from Ultralytics 8.4 and later", match_rtdetr_topk, decode_rtdetr_topk, {"resize": "stretch"},
           "Ultralytics RT-DETR"),
    Layout("end2end-split", "boxes [1,K,4] + scores [1,K] + labels [1,K] (+ count): x1,y1,x2,y2 in input pixels",
           "RT-DETR / RT-DETRv2 / D-FINE (official exports), TensorRT EfficientNMS exports", match_split,
           decode_end2end_split, {"resize": "stretch"}, "RT-DETR/D-FINE"),
    Layout("ppyoloe", "score maps [1,N,nc] + box distributions [1,N,4*(R+1)] (per level or joined) or boxes [1,N,4]",
           "PP-YOLOE, PP-PicoDet (paddle2onnx, without NMS), GFL-style heads", match_dense, decode_dense,
           {"resize": "stretch", "scale": 1 / 255, **IMAGENET}, "PaddleDetection"),
)
BY_NAME = {layout.name: layout for layout in LAYOUTS}


def describe_outputs(outs: tuple[OutputInfo, ...]) -> str:
    return ", ".join(f"{o.name} {list(o.shape)} {o.dtype}" for o in outs)


__all__ = ["BY_NAME", "LAYOUTS", "Layout", "ModelFacts", "OutputInfo", "cells", "describe_outputs"]
