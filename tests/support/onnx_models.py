"""Tiny ONNX graphs built in tests: models whose output is a known constant tensor, so each decoder
layout can be run end to end through the real ONNX Runtime engine."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def constant_output_model(path: Path, output: np.ndarray, *, input_hw: tuple[int, int] = (64, 64),
                          names: dict[int, str] | None = None, input_shape: list[int] | None = None) -> Path:
    """An ONNX model with input `images` [1,3,H,W] whose output `output0` is always `output`.

    The output is `const + 0 * ReduceSum(images)`, so the input is really consumed.
    """
    h, w = input_hw
    shape = input_shape or [1, 3, h, w]
    const = numpy_helper.from_array(output.astype(np.float32), name="const")
    zero = numpy_helper.from_array(np.zeros((), np.float32), name="zero")
    nodes = [
        helper.make_node("ReduceSum", ["images"], ["s"], keepdims=0),
        helper.make_node("Mul", ["s", "zero"], ["z"]),
        helper.make_node("Add", ["const", "z"], ["output0"]),
    ]
    graph = helper.make_graph(nodes, "const", [helper.make_tensor_value_info("images", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))],
                              initializer=[const, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    if names is not None:
        helper.set_model_props(model, {"names": json.dumps({str(k): v for k, v in names.items()}),
                                       "imgsz": json.dumps([h, w]), "stride": json.dumps([8, 16, 32])})
    onnx.save(model, str(path))
    return path


def never_ending_model(path: Path, *, input_shape: list[int], output_shape: list[int]) -> Path:
    """An ONNX model that answers a uniform input (the blank probe a loader runs) at once, but never returns on
    a real image: a Loop of (max - min of the input) * 1e15 iterations before `output0`, a zero tensor of
    `output_shape`. Stands in for an engine that hangs on real frames (a driver deadlock, a spinning plugin)."""
    one = numpy_helper.from_array(np.ones((), np.float32), name="one")
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["v_in", "one"], ["v_out"])],
        "spin", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [])], initializer=[one])
    inits = [numpy_helper.from_array(np.array(1e15, np.float32), name="scale"),
             numpy_helper.from_array(np.array(True), name="go"),
             numpy_helper.from_array(np.zeros(output_shape, np.float32), name="zeros"),
             numpy_helper.from_array(np.zeros((), np.float32), name="zero")]
    nodes = [helper.make_node("ReduceMax", ["images"], ["hi"], keepdims=0),
             helper.make_node("ReduceMin", ["images"], ["lo"], keepdims=0),
             helper.make_node("Sub", ["hi", "lo"], ["spread"]),
             helper.make_node("Mul", ["spread", "scale"], ["trips_f"]),
             helper.make_node("Cast", ["trips_f"], ["trips"], to=TensorProto.INT64),
             helper.make_node("Loop", ["trips", "go", "lo"], ["spun"], body=body),
             helper.make_node("Mul", ["spun", "zero"], ["z"]),
             helper.make_node("Add", ["zeros", "z"], ["output0"])]
    graph = helper.make_graph(nodes, "never-ending", [helper.make_tensor_value_info("images", TensorProto.FLOAT, input_shape)],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, output_shape)], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


def per_image_model(path: Path, *, input_hw: tuple[int, int] = (64, 64), batch: int | str = "batch",
                    names: dict[int, str] | None = None) -> Path:
    """A YOLOv8-layout 'detector' ([B,6,84] for 2 classes on a 64x64 input) that sees, in each image, one car
    whose centre x in input pixels is 8 + 48 * (the image's mean value): each image's result is its own, so a
    batch that mixes cameras shows where every result went. `batch`: "batch" (dynamic) or a fixed size."""
    h, w = input_hw
    anchors = (h // 8) * (w // 8) + (h // 16) * (w // 16) + (h // 32) * (w // 32)
    base = np.zeros((1, 6, anchors), np.float32)
    base[0, :4, :] = 1.0
    base[0, :, 0] = [8, 32, 16, 8, 0.05, 0.9]
    mask = np.zeros((1, 6, anchors), np.float32)
    mask[0, 0, 0] = 48.0
    inits = [numpy_helper.from_array(base, "base"), numpy_helper.from_array(mask, "mask")]
    nodes = [helper.make_node("ReduceMean", ["images"], ["m4"], axes=[1, 2, 3], keepdims=1),
             helper.make_node("Squeeze", ["m4", "sq"], ["m3"]),
             helper.make_node("Mul", ["m3", "mask"], ["shift"]),
             helper.make_node("Add", ["base", "shift"], ["output0"])]
    inits.append(numpy_helper.from_array(np.array([3], np.int64), "sq"))
    graph = helper.make_graph(nodes, "per-image",
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, h, w])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, 6, anchors])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    names = names if names is not None else {0: "person", 1: "car"}
    helper.set_model_props(model, {"names": json.dumps({str(k): v for k, v in names.items()}),
                                   "imgsz": json.dumps([h, w]), "stride": json.dumps([8, 16, 32])})
    onnx.save(model, str(path))
    return path
