"""Detector graphs of each family, built with onnx.helper, that really look at the image: a cell whose pixels
are bright (as the family's preprocessing delivers them) gives a detection of known size centred on it.

Every family's head is built from one brightness map per stride: `B_s = Sigmoid(Conv_s(x))`, a convolution
with kernel = stride = s that takes the cell's mean over channels and compares it with the value a pixel of 200
has after the family's preprocessing. So a white 8x8 patch on the stride-8 grid lights one stride-8 cell, the
padding (114) and black do not, and a model fed the wrong preprocessing sees nothing: the tests check
preprocessing, decoding and the mapping back to the frame together. Boxes are 16 x 16 input pixels, centred on
the cell (`(g + 0.5) * s`), encoded as each family encodes them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from edge_sdk.decode.grid import cells
from edge_sdk.preprocess import PreprocessSpec

BOX = 16.0
SHARP = 10.0  # logit of a fully white cell above the threshold


class Graph:
    """A graph under construction: nodes, initializers, a name counter."""

    def __init__(self, spec: PreprocessSpec, dynamic: bool = False, batch: int = 1) -> None:
        self.spec = spec
        self.batch = batch
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.count = 0
        h, w = spec.size
        dims: list[int | str] = [batch, 3, h, w] if spec.layout == "nchw" else [batch, h, w, 3]
        if dynamic:
            dims = ["batch", 3, "height", "width"] if spec.layout == "nchw" else ["batch", "height", "width", 3]
        elem = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "uint8": TensorProto.UINT8}[spec.dtype]
        self.input = helper.make_tensor_value_info("images", elem, dims)
        x = "images"
        if spec.dtype != "float32":
            x = self.op("Cast", [x], to=TensorProto.FLOAT)
        if spec.layout == "nhwc":
            x = self.op("Transpose", [x], perm=[0, 3, 1, 2])
        self.x = x

    def name(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def const(self, value: np.ndarray, stem: str = "c") -> str:
        name = self.name(stem)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: Sequence[str], **attrs: object) -> str:
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [out], **attrs))
        return out

    def brightness(self, stride: int) -> str:
        """[1, 1, h, w]: ~1 where a stride x stride cell is bright, ~0 elsewhere (Sigmoid of a Conv)."""
        a, b = self.spec.channel_affine()
        white = float(np.mean(a * 255 + b))
        threshold = float(np.mean(a * 200 + b))
        k = SHARP / (white - threshold)
        weight = np.full((1, 3, stride, stride), k / (3 * stride * stride), np.float32)
        conv = self.op("Conv", [self.x, self.const(weight, "w"), self.const(np.array([-k * threshold], np.float32))],
                       kernel_shape=[stride, stride], strides=[stride, stride])
        return self.op("Sigmoid", [conv])

    def flat(self, x: str, channels: int) -> str:
        """[B, C, h, w] -> [B, C, h*w] (B baked into the Reshape, as exporters of a fixed batch do)."""
        return self.op("Reshape", [x, self.const(np.array([self.batch, channels, -1], np.int64))])

    def conv_const(self, channels: int, stride: int, bias: np.ndarray) -> str:
        """A Conv of the image with zero weights: the constant `bias` per channel at every cell (a head output
        that comes from a convolution, as raw heads do)."""
        weight = np.zeros((channels, 3, stride, stride), np.float32)
        return self.op("Conv", [self.x, self.const(weight, "w0"), self.const(bias.astype(np.float32))],
                       kernel_shape=[stride, stride], strides=[stride, stride])

    def save(self, path: Path, outputs: list[tuple[str, str, int]], props: dict[str, str] | None = None,
             opset: int = 17) -> Path:
        """Save with `outputs` = (tensor, graph output name, elem type)."""
        for tensor, out_name, _ in outputs:
            self.nodes.append(helper.make_node("Identity", [tensor], [out_name]))
        graph = helper.make_graph(self.nodes, "det", [self.input],
                                  [helper.make_tensor_value_info(n, t, None) for _, n, t in outputs],
                                  initializer=self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8
        if props:
            helper.set_model_props(model, props)
        onnx.save(model, str(path))
        return path


def centres(size: tuple[int, int], stride: int) -> np.ndarray:
    """[2, n] cell centres (x, y) in input pixels, row-major."""
    hs, ws = math.ceil(size[0] / stride), math.ceil(size[1] / stride)
    xv, yv = np.meshgrid(np.arange(ws), np.arange(hs))
    return np.stack([(xv.ravel() + 0.5) * stride, (yv.ravel() + 0.5) * stride]).astype(np.float32)


F = TensorProto.FLOAT
NAMES = {0: "bright", 1: "other"}
ULTRA = {"author": "Ultralytics", "stride": "32", "task": "detect", "names": str(NAMES)}


def yolov8(path: Path, spec: PreprocessSpec, *, dynamic: bool = False, batch: int = 1) -> Path:
    """[B, 4+nc, N]: cx, cy, w, h + class scores (decoded in the graph, Ultralytics-style metadata). With a
    fixed `batch` > 1 baked into its Reshapes, as some exporters leave it."""
    g = Graph(spec, dynamic, batch)
    rows = []
    for s in (8, 16, 32):
        c = centres(spec.size, s)
        boxes = np.tile(np.concatenate([c, np.full((2, c.shape[1]), BOX, np.float32)])[None], (batch, 1, 1))
        score = g.flat(g.brightness(s), 1)
        rows.append(g.op("Concat", [g.const(boxes), score, g.op("Mul", [score, g.const(np.float32(0))])], axis=1))
    out = g.op("Concat", rows, axis=2)
    h, w = spec.size
    return g.save(path, [(out, "output0", F)], {**ULTRA, "imgsz": str([h, w])})


def yolov5(path: Path, spec: PreprocessSpec) -> Path:
    """[1, 3N, 5+nc] anchor-based, decoded in the graph: 3 anchors per cell, the first one bright."""
    g = Graph(spec)
    parts = []
    for s in (8, 16, 32):
        c = centres(spec.size, s)
        n = c.shape[1]
        boxes = np.concatenate([c, np.full((2, n), BOX, np.float32)]).T[None]  # [1, n, 4]
        obj = g.op("Transpose", [g.flat(g.brightness(s), 1)], perm=[0, 2, 1])  # [1, n, 1]
        cls = np.tile(np.array([1.0, 0.0], np.float32), (1, n, 1))
        first = g.op("Concat", [g.const(boxes), obj, g.const(cls)], axis=2)
        dark = np.concatenate([boxes, np.zeros((1, n, 1), np.float32), cls], axis=2)
        parts.append(g.op("Concat", [first, g.const(np.concatenate([dark, dark], axis=1))], axis=1))
    return g.save(path, [(g.op("Concat", parts, axis=1), "output", F)])


def yolox(path: Path, spec: PreprocessSpec) -> Path:
    """[1, N, 5+nc] straight from the head: xy offsets 0.5 and log(16 / s) sizes from zero-weight convs,
    objectness and class scores from sigmoids (YOLOX's default export)."""
    g = Graph(spec)
    levels = []
    for s in (8, 16, 32):
        reg = g.conv_const(4, s, np.array([0.5, 0.5, math.log(BOX / s), math.log(BOX / s)]))
        cls = g.op("Sigmoid", [g.conv_const(2, s, np.array([20.0, -20.0]))])
        levels.append(g.flat(g.op("Concat", [reg, g.brightness(s), cls], axis=1), 7))
    out = g.op("Transpose", [g.op("Concat", levels, axis=2)], perm=[0, 2, 1])
    return g.save(path, [(out, "output", F)])


def end2end(path: Path, spec: PreprocessSpec, box: Sequence[float], *, rtdetr: bool = False,
            one_to_one: bool = True) -> Path:
    """One fixed query box (input pixels) whose score is the stride-8 brightness maximum; [1, 10, 6] rows of
    x1,y1,x2,y2,score,class (with Ultralytics' `end2end: True` unless `one_to_one` is off), or (`rtdetr`)
    [1, 10, 4+nc] normalised cx,cy,w,h + class scores."""
    g = Graph(spec)
    score = g.op("ReduceMax", [g.flat(g.brightness(8), 1)], axes=[2], keepdims=1)  # [1, 1, 1]
    h, w = spec.size
    if rtdetr:  # three classes, so the output [1, 10, 7] is not also an end2end [1, K, 6]
        x1, y1, x2, y2 = box
        first = np.array([[[(x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h]]], np.float32)
        row = g.op("Concat", [g.const(first), score, g.const(np.zeros((1, 1, 2), np.float32))], axis=2)
        rest = np.zeros((1, 9, 7), np.float32)
        names = {0: "bright", 1: "other", 2: "third"}
        out = g.op("Concat", [row, g.const(rest)], axis=1)
        return g.save(path, [(out, "output0", F)], {**ULTRA, "names": str(names), "imgsz": str([h, w])})
    else:
        row = g.op("Concat", [g.const(np.array([[box]], np.float32)), score,
                              g.const(np.zeros((1, 1, 1), np.float32))], axis=2)
        rest = np.zeros((1, 9, 6), np.float32)
    out = g.op("Concat", [row, g.const(rest)], axis=1)
    hint = {"end2end": "True"} if one_to_one else {}
    return g.save(path, [(out, "output0", F)], {**ULTRA, **hint, "imgsz": str([h, w])})


def detr_official(path: Path, spec: PreprocessSpec, box_normalised: Sequence[float]) -> Path:
    """RT-DETR / D-FINE official export: inputs images + orig_target_sizes [1, 2] (w, h); outputs labels [1, K]
    int64, boxes [1, K, 4] = normalised x1,y1,x2,y2 x (w, h, w, h), scores [1, K]."""
    g = Graph(spec)
    sizes = helper.make_tensor_value_info("orig_target_sizes", TensorProto.INT64, [1, 2])
    wh = g.op("Cast", ["orig_target_sizes"], to=TensorProto.FLOAT)
    scale = g.op("Tile", [g.op("Unsqueeze", [wh, g.const(np.array([1], np.int64))]),
                          g.const(np.array([1, 1, 2], np.int64))])  # [1, 1, 4]
    norm = np.zeros((1, 5, 4), np.float32)
    norm[0, 0] = box_normalised
    boxes = g.op("Mul", [g.const(norm), scale])
    best = g.op("ReduceMax", [g.flat(g.brightness(8), 1)], axes=[1, 2], keepdims=0)  # [1]
    scores = g.op("Concat", [g.op("Unsqueeze", [best, g.const(np.array([1], np.int64))]),
                             g.const(np.zeros((1, 4), np.float32))], axis=1)
    labels = g.const(np.zeros((1, 5), np.int64))
    path = g.save(path, [(labels, "labels", TensorProto.INT64), (boxes, "boxes", F), (scores, "scores", F)])
    model = onnx.load(str(path))
    model.graph.input.append(sizes)
    onnx.save(model, str(path))
    return path


def picodet(path: Path, spec: PreprocessSpec, *, joined: bool = False, boxes_out: bool = False) -> Path:
    """PP-PicoDet as paddle2onnx gives it: per level a score map [1, n, nc] and a distribution map
    [1, n, 4 * 8] (strides 8/16/32/64); `joined`: one of each over all anchors (PP-YOLOE style);
    `boxes_out`: scores [1, nc, N] and decoded boxes [1, N, 4] (PP-YOLOE exported without NMS)."""
    g = Graph(spec)
    bins = 8
    logits = np.full((4, bins), -10.0, np.float32)
    scores, dists, boxes = [], [], []
    for s in (8, 16, 32, 64):
        n = cells(spec.size, s)
        b = g.flat(g.brightness(s), 1)
        scores.append(g.op("Transpose", [g.op("Concat", [b, g.op("Mul", [b, g.const(np.float32(0))])], axis=1)],
                           perm=[0, 2, 1]))  # [1, n, 2]
        side = BOX / 2 / s  # distance in bins of this stride; the expectation lands on it
        lo, frac = int(side), side - int(side)
        lg = logits.copy()
        if lo < bins:
            lg[:, lo] = math.log(max(1 - frac, 1e-6))
            if frac and lo + 1 < bins:
                lg[:, lo + 1] = math.log(frac)
        dists.append(g.const(np.tile(lg.reshape(1, 1, 4 * bins), (1, n, 1))))
        c = centres(spec.size, s)
        boxes.append(np.concatenate([c - BOX / 2, c + BOX / 2]).T[None])
    if boxes_out:
        joined_scores = g.op("Transpose", [g.op("Concat", scores, axis=1)], perm=[0, 2, 1])  # [1, 2, N]
        return g.save(path, [(joined_scores, "tmp_scores", F),
                             (g.const(np.concatenate(boxes, axis=1)), "concat_boxes", F)])
    if joined:
        return g.save(path, [(g.op("Concat", scores, axis=1), "scores", F),
                             (g.op("Concat", dists, axis=1), "distributions", F)])
    outs = [(t, f"transpose_{2 * i}.tmp_0", F) for i, t in enumerate(scores)]
    outs += [(t, f"transpose_{2 * i + 1}.tmp_0", F) for i, t in enumerate(dists)]
    return g.save(path, outs)
