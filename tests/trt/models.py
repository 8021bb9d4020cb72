"""Tiny ONNX detectors built in tests (real ONNX, run by the real ONNX Runtime): a YOLOv8-shaped float model
and its Q/DQ variant, so FP16 conversion, comparison and the builder's inputs are exercised on real graphs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def tiny_detector(path: Path, *, hw: tuple[int, int] = (32, 32), nc: int = 2, opset: int = 17, qdq: bool = False,
                  seed: int = 0, batch: int | str = 1) -> Path:
    """images [B,3,H,W] -> [B, 4+nc, (H/4)*(W/4)]: boxes cx,cy,w,h in pixels, then class scores 0..1. `batch`: 1, or
    "batch" for a dynamic one (each image's outputs its own)."""
    rng = np.random.default_rng(seed)
    h, w = hw
    ch = 4 + nc
    weight = rng.normal(0, 0.5, (ch, 3, 4, 4)).astype(np.float32)
    bias = rng.normal(0, 0.2, ch).astype(np.float32)
    scale = np.array([w, h, w / 3, h / 3] + [1.0] * nc, np.float32).reshape(1, ch, 1)
    inits = [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "B"),
             numpy_helper.from_array(scale, "scale"),
             numpy_helper.from_array(np.array([1 if batch == 1 else 0, ch, -1], np.int64), "shape")]
    nodes = []
    x, wname = "images", "W"
    if qdq:
        inits += [numpy_helper.from_array(np.array(1 / 127, np.float32), "s_in"),
                  numpy_helper.from_array(np.array(float(np.abs(weight).max()) / 127, np.float32), "s_w"),
                  numpy_helper.from_array(np.array(0, np.int8), "zp")]
        nodes += [helper.make_node("QuantizeLinear", ["images", "s_in", "zp"], ["x_q"], name="/quant/images_Q"),
                  helper.make_node("DequantizeLinear", ["x_q", "s_in", "zp"], ["x_dq"], name="/quant/images_DQ"),
                  helper.make_node("QuantizeLinear", ["W", "s_w", "zp"], ["w_q"], name="/quant/W_Q"),
                  helper.make_node("DequantizeLinear", ["w_q", "s_w", "zp"], ["w_dq"], name="/quant/W_DQ")]
        x, wname = "x_dq", "w_dq"
    nodes += [helper.make_node("Conv", [x, wname, "B"], ["c"], strides=[4, 4], name="/model.0/conv/Conv"),
              helper.make_node("Sigmoid", ["c"], ["s"], name="/model.0/act/Sigmoid"),
              helper.make_node("Reshape", ["s", "shape"], ["r"], name="/model.1/Reshape"),
              helper.make_node("Mul", ["r", "scale"], ["output0"], name="/model.1/Mul")]
    n = (h // 4) * (w // 4)
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, h, w])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, ch, n])],
                              initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    helper.set_model_props(model, {"names": json.dumps({str(i): f"class{i}" for i in range(nc)}),
                                   "imgsz": json.dumps([h, w]), "stride": json.dumps([4])})
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def calibration_cache(path: Path, header: str = "TRT-100300-EntropyCalibration2",
                      tensors: tuple[str, ...] = ("images", "x_dq", "c", "s", "r", "output0")) -> Path:
    lines = [header] + [f"{t}: 3c010a14" for t in tensors]
    path.write_text("\n".join(lines) + "\n")
    return path
