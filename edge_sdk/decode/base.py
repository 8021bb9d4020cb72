"""Types shared by all decoders, built-in and plugins.

A decode function takes every model output and a `DecodeContext` and returns `Detections` with boxes
x1,y1,x2,y2 in model-input pixels (the pipeline maps them to the frame with `ctx.placement`):

    def decode(outputs: Sequence[np.ndarray], ctx: DecodeContext) -> Detections

`ctx.params` holds the thresholds; `ctx.model` what is fixed per model (input size, output names and shapes,
labels, strides, preprocessing); `ctx.placement` where this frame landed in the input (scale, padding), or
None when decoding without a frame. Outputs are one image's: batch axis of 1 first, as the model gives them.
Built-in decoders also accept a bare `DecodeParams` in place of the context (decoders that need the input
size then say so).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from edge_sdk.preprocess.geometry import LetterboxInfo
    from edge_sdk.preprocess.spec import PreprocessSpec


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


@dataclass(frozen=True)
class DecodeModel:
    """What a decoder may know about the model, fixed when it is loaded."""

    input_size: tuple[int, int] | None = None  # (height, width) of the model input
    output_names: tuple[str, ...] = ()
    output_shapes: tuple[tuple[int, ...], ...] = ()  # as the model returns them for one inference
    labels: Mapping[int, str] = field(default_factory=dict)
    strides: tuple[int, ...] = ()  # when the model or its exporter states them
    preprocess: PreprocessSpec | None = None

    @property
    def num_classes(self) -> int | None:
        return len(self.labels) or None


@dataclass(frozen=True)
class DecodeContext:
    """Everything a decode function gets beside the outputs."""

    params: DecodeParams = field(default_factory=DecodeParams)
    model: DecodeModel = field(default_factory=DecodeModel)
    placement: LetterboxInfo | None = None

    def input_size(self, layout: str) -> tuple[int, int]:
        """The model input's (height, width); raises when the decoder was called without it."""
        if self.model.input_size is None:
            raise ValueError(f"the {layout} decoder needs the model's input size: call it through "
                             "edge_sdk.decode.bind_decoder (or pass a DecodeContext)")
        return self.model.input_size


DecodeFn = Callable[[Sequence[np.ndarray], DecodeContext], Detections]
#: What the pipeline and tools call: outputs and thresholds in, detections out (a `BoundDecoder`, or any
#: function of that shape).
Decoder = Callable[[Sequence[np.ndarray], DecodeParams], Detections]


def as_context(ctx: DecodeContext | DecodeParams | None) -> DecodeContext:
    """A context from what a built-in decoder was called with."""
    if isinstance(ctx, DecodeContext):
        return ctx
    return DecodeContext(ctx or DecodeParams())


class BoundDecoder:
    """A decode function bound to one model: called like a `Decoder`, with the frame's placement optional."""

    def __init__(self, name: str, fn: DecodeFn, model: DecodeModel) -> None:
        self.name = name
        self.fn = fn
        self.model = model
        self._plain = DecodeContext(DecodeParams(), model)

    def __call__(self, outputs: Sequence[np.ndarray], params: DecodeParams | None = None,
                 placement: LetterboxInfo | None = None) -> Detections:
        if params is None and placement is None:
            ctx = self._plain
        else:
            ctx = DecodeContext(params or DecodeParams(), self.model, placement)
        return self.fn(outputs, ctx)

    def __repr__(self) -> str:
        return f"BoundDecoder({self.name!r})"


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
