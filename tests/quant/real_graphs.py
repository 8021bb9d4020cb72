"""Tiny detectors with the quirks of real exports (issue 26), built with onnx.helper for the INT8 tests.

    real_detector(path, opset=9, weights_as_inputs=True)      # the face detector's export
    real_detector(path, raw_head_output=True)                 # a head conv feeding a graph output directly
    real_detector(path, upsample=True)                        # a Resize with an empty `roi` Constant (paddle2onnx)
    real_detector(path, normalization="meanstd")              # ImageNet mean/std in front of the stem
    real_detector(path, activation="hardswish")               # also hardswish_mul, hardswish_clip, relu, leakyrelu
    real_detector(path, batchnorm=True)                       # an unfused BatchNormalization after each conv

Layout as tests/quant/tiny_detector.py: images [1,3,64,64] -> stem Conv 3x3/2 -> Conv 3x3/2 (each with the
activation) -> 1x1 head -> decode tail -> output0 [1, 4+nc, 256] (YOLOv8 layout). Weights come from a seed; each
variant's detections are arbitrary but deterministic, which is all the gate needs (FP32 is its reference). The
normalization variants take what the SDK feeds (0..1) and normalize it themselves, as a user's edited export does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NC = 3
SIZE = 64
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)


def _act(kind: str, x: str, name: str, opset: int) -> tuple[list[Any], str]:
    y = f"{name}_act"
    if kind == "silu":
        return [helper.make_node("Sigmoid", [x], [f"{name}_sig"], name=f"/{name}/Sigmoid"),
                helper.make_node("Mul", [x, f"{name}_sig"], [y], name=f"/{name}/Mul")], y
    if kind == "hardswish_mul":  # x * HardSigmoid(x, 1/6, 0.5): how exporters before opset 14 write hard-swish
        return [helper.make_node("HardSigmoid", [x], [f"{name}_hsig"], name=f"/{name}/HardSigmoid",
                                 alpha=1.0 / 6, beta=0.5),
                helper.make_node("Mul", [x, f"{name}_hsig"], [y], name=f"/{name}/Mul")], y
    if kind == "hardswish_clip":  # x * Clip(x + 3, 0, 6) / 6: paddle2onnx's hard-swish
        return [helper.make_node("Add", [x, "three"], [f"{name}_p3"], name=f"/{name}/Add"),
                helper.make_node("Clip", [f"{name}_p3", "zero", "six"], [f"{name}_clip"], name=f"/{name}/Clip"),
                helper.make_node("Mul", [x, f"{name}_clip"], [f"{name}_mul"], name=f"/{name}/Mul"),
                helper.make_node("Div", [f"{name}_mul", "six"], [y], name=f"/{name}/Div")], y
    op = {"hardswish": "HardSwish", "relu": "Relu", "leakyrelu": "LeakyRelu"}[kind]
    if op == "HardSwish" and opset < 14:
        raise ValueError("HardSwish needs opset 14")
    attrs = {"alpha": 0.1} if op == "LeakyRelu" else {}
    return [helper.make_node(op, [x], [y], name=f"/{name}/{op}", **attrs)], y


def real_detector(path: Path, *, seed: int = 0, opset: int = 17, activation: str = "silu",
                  normalization: str | None = None, weights_as_inputs: bool = False, raw_head_output: bool = False,
                  upsample: bool = False, batch: int = 1, batchnorm: bool = False) -> Path:
    rng = np.random.default_rng(seed)
    inits: list[Any] = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in
                        (("three", 3.0), ("zero", 0.0), ("six", 6.0))]
    nodes: list[Any] = []

    def init(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def conv(name: str, x: str, w: np.ndarray, b: np.ndarray, stride: int) -> str:
        k = w.shape[2]
        nodes.append(helper.make_node("Conv", [x, init(f"{name}.weight", w.astype(np.float32)),
                                               init(f"{name}.bias", b.astype(np.float32))], [f"{name}_out"],
                                      name=f"/{name}/Conv", kernel_shape=[k, k], strides=[stride, stride],
                                      pads=[k // 2] * 4))
        if not batchnorm or name == "head":
            return f"{name}_out"
        c = w.shape[0]  # an unfused BatchNormalization after the conv, as paddle2onnx exports it
        bn = [init(f"{name}.bn.{p}", v.astype(np.float32)) for p, v in
              (("gamma", rng.uniform(0.5, 1.5, c)), ("beta", rng.normal(0, 0.1, c)), ("mean", rng.normal(0, 0.1, c)),
               ("var", rng.uniform(0.5, 2.0, c)))]
        nodes.append(helper.make_node("BatchNormalization", [f"{name}_out", *bn], [f"{name}_bn"], name=f"/{name}/BN"))
        return f"{name}_bn"

    w0, b0 = rng.normal(0, 0.4, (8, 3, 3, 3)), rng.normal(0, 0.1, 8)
    x = "images"
    if normalization == "x255":  # a model trained on 0..255: the node multiplies the SDK's 0..1 input back
        nodes.append(helper.make_node("Mul", [x, init("scale255", np.array(255.0, np.float32))], ["x255"],
                                      name="/norm/Mul"))
        x, w0 = "x255", w0 / 255.0
    elif normalization == "meanstd":
        nodes += [helper.make_node("Sub", [x, init("mean", _MEAN.reshape(1, 3, 1, 1))], ["centred"], name="/norm/Sub"),
                  helper.make_node("Div", ["centred", init("std", _STD.reshape(1, 3, 1, 1))], ["normed"],
                                   name="/norm/Div")]
        x, w0 = "normed", w0 * _STD.reshape(1, 3, 1, 1)
    acts = []
    for name, w, b in (("c0", w0, b0), ("c1", rng.normal(0, 0.25, (16, 8, 3, 3)), rng.normal(0, 0.1, 16))):
        out = conv(name, x, w, b, 2)
        act_nodes, x = _act(activation, out, name, opset)
        nodes += act_nodes
        acts.append(x)
    if upsample:  # FPN-style: nearest x2, then a stride-2 conv back to 16x16; `roi` is an empty Constant
        nodes += [helper.make_node("Constant", [], ["roi"], name="/up/roi",
                                   value=numpy_helper.from_array(np.zeros(0, np.float32), "roi_value")),
                  helper.make_node("Resize", [x, "roi", init("up_scales", np.array([1, 1, 2, 2], np.float32))],
                                   ["up"], name="/up/Resize", mode="nearest")]
        x = conv("c2", "up", rng.normal(0, 0.15, (16, 16, 3, 3)), rng.normal(0, 0.1, 16), 2)
    head = conv("head", x, rng.normal(0, 0.5, (4 + NC, 16, 1, 1)), rng.normal(0, 0.2, 4 + NC), 1)
    split_inputs = ["flat"] if opset < 13 else ["flat", init("split", np.array([4, NC], np.int64))]
    split_attrs = {"split": [4, NC]} if opset < 13 else {}
    nodes += [
        helper.make_node("Reshape", [head, init("shape", np.array([batch, 4 + NC, 256], np.int64))], ["flat"],
                         name="/tail/Reshape"),
        helper.make_node("Split", split_inputs, ["box_raw", "cls_raw"], name="/tail/Split", axis=1, **split_attrs),
        helper.make_node("Sigmoid", ["box_raw"], ["box_sig"], name="/tail/box/Sigmoid"),
        helper.make_node("Mul", ["box_sig", init("box_scale", np.array(float(SIZE), np.float32))], ["box"],
                         name="/tail/box/Mul"),
        helper.make_node("Sigmoid", ["cls_raw"], ["cls"], name="/tail/cls/Sigmoid"),
        helper.make_node("Concat", ["box", "cls"], ["output0"], name="/tail/Concat", axis=1),
    ]
    outputs = [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, 4 + NC, 256])]
    if raw_head_output:  # the raw head map leaves the model as well (exporters that expose every head output)
        outputs.append(helper.make_tensor_value_info(head, TensorProto.FLOAT, [batch, 4 + NC, 16, 16]))
    inputs = [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, SIZE, SIZE])]
    if weights_as_inputs:  # IR 3 style: every initializer is also a graph input
        inputs += [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in inits]
    graph = helper.make_graph(nodes, "real", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 3 if weights_as_inputs else (4 if opset < 13 else 8)
    helper.set_model_props(model, {"names": json.dumps({"0": "face", "1": "car", "2": "sign"}),
                                   "imgsz": json.dumps([SIZE, SIZE])})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
