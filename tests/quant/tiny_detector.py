"""A tiny YOLOv8-layout detector built with onnx.helper, for fast INT8 tests (the demo model is the real one).

images [1,3,64,64] -> Conv 3x3/2 + SiLU -> Conv 3x3/2 + SiLU -> Conv 1x1 (4+nc) -> [1, 4+nc, 256]:
cx, cy, w, h = 64 * sigmoid(.) and class scores = sigmoid(.). Weights come from a seed, so the model is the
same on every run; its detections are arbitrary but deterministic, which is all the gate needs (FP32 is
the reference).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NAMES = {0: "person", 1: "car", 2: "bicycle"}
SIZE = 64


def _conv(name: str, x: str, w: np.ndarray, b: np.ndarray, stride: int, inits: list[onnx.TensorProto]) -> onnx.NodeProto:
    inits += [numpy_helper.from_array(w.astype(np.float32), f"{name}.weight"),
              numpy_helper.from_array(b.astype(np.float32), f"{name}.bias")]
    k = w.shape[2]
    return helper.make_node("Conv", [x, f"{name}.weight", f"{name}.bias"], [f"{name}_out"], name=f"/{name}/Conv",
                            kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4)


def _silu(name: str, x: str) -> list[onnx.NodeProto]:
    return [helper.make_node("Sigmoid", [x], [f"{name}_sig"], name=f"/{name}/Sigmoid"),
            helper.make_node("Mul", [x, f"{name}_sig"], [f"{name}_act"], name=f"/{name}/Mul")]


def tiny_detector(path: Path, seed: int = 0, *, outlier: bool = False) -> Path:
    """outlier: channel 0 of the second conv's output is ~40 everywhere and the head ignores it. FP32 outputs
    do not change, but the head's INT8 input scale is set by that channel, which wipes out the others: the
    head conv is then by far the most quantization-sensitive layer."""
    rng = np.random.default_rng(seed)
    nc = len(NAMES)
    inits: list[onnx.TensorProto] = []
    nodes = [_conv("c0", "images", rng.normal(0, 0.4, (8, 3, 3, 3)), rng.normal(0, 0.1, 8), 2, inits)]
    nodes += _silu("c0", "c0_out")
    w1, b1 = rng.normal(0, 0.25, (16, 8, 3, 3)), rng.normal(0, 0.1, 16)
    wh, bh = rng.normal(0, 0.5, (4 + nc, 16, 1, 1)), rng.normal(0, 0.2, 4 + nc)
    if outlier:
        w1[0], b1[0], wh[:, 0] = 0.0, 40.0, 0.0
    nodes.append(_conv("c1", "c0_act", w1, b1, 2, inits))
    nodes += _silu("c1", "c1_out")
    nodes.append(_conv("head", "c1_act", wh, bh, 1, inits))
    inits += [numpy_helper.from_array(np.array([1, 4 + nc, 256], np.int64), "shape"),
              numpy_helper.from_array(np.array([4, nc], np.int64), "split"),
              numpy_helper.from_array(np.array(float(SIZE), np.float32), "scale"),
              numpy_helper.from_array(np.array(-1.5, np.float32), "cls_bias")]
    nodes += [
        helper.make_node("Reshape", ["head_out", "shape"], ["flat"], name="/tail/Reshape"),
        helper.make_node("Split", ["flat", "split"], ["box_raw", "cls_raw"], name="/tail/Split", axis=1),
        helper.make_node("Sigmoid", ["box_raw"], ["box_sig"], name="/tail/box/Sigmoid"),
        helper.make_node("Mul", ["box_sig", "scale"], ["box"], name="/tail/box/Mul"),
        helper.make_node("Add", ["cls_raw", "cls_bias"], ["cls_shift"], name="/tail/cls/Add"),
        helper.make_node("Sigmoid", ["cls_shift"], ["cls"], name="/tail/cls/Sigmoid"),
        helper.make_node("Concat", ["box", "cls"], ["output0"], name="/tail/Concat", axis=1),
    ]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 4 + nc, 256])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    helper.set_model_props(model, {"names": json.dumps({str(k): v for k, v in NAMES.items()}),
                                   "imgsz": json.dumps([SIZE, SIZE]), "stride": json.dumps([4])})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
