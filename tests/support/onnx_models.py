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
