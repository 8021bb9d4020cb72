"""Graph rewrites for the float part of a detection head on ONNX Runtime's CPU provider (see graph_rewrite.py).

softmax-expectation: a Softmax over the channel axis read only by a 1x1 Conv with one output channel (YOLOv8's
DFL: the expected bin of a 16-bin distribution, Softmax -> Conv with weights 0..15) becomes
ReduceMax -> Sub -> Exp -> ReduceSum, and Mul by the weights -> ReduceSum, then Div (plus the bias, if any).
The same function: sum_k w_k exp(x_k - m) / sum_k exp(x_k - m) with m the maximum, as Softmax computes it; the
float rounding differs (on the demo model the boxes move by at most 1.2e-4 pixels). ONNX Runtime runs a
Softmax over a middle axis as transpose, softmax of 16-element rows, transpose back, and the 1x1 Conv through
its blocked layout with a reorder on each side: 1.2 ms of the demo model's 35 (two threads); rewritten, a few
vectorised passes over the tensor, 0.3 ms.

float-conv-weights: a Conv whose output stays float (not a Q/DQ node unit: its input is not dequantized or
its output is not read by exactly one QuantizeLinear, e.g. the logit convs at the end of an INT8 model's
head) but whose weight and bias come from DequantizeLinear of constants gets them as float initializers,
computed exactly as DequantizeLinear does ((q - zero_point) * scale in float32). ONNX Runtime does not fold
DequantizeLinear (it keeps Q/DQ units whole) and its blocked-layout Conv needs constant weights, so those
convs ran in its plain kernel: 0.68 ms against 0.32 ms on the demo INT8 model, same outputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_sdk import onnx_graph
from edge_sdk.onnx_graph import attr, constant_values, opset


def plain_pointwise(conv: Any) -> bool:
    """True when `conv`'s attributes make it a plain 1x1-style Conv: one group, stride and dilation 1, no padding."""
    return bool(attr(conv, "group", 1) == 1 and attr(conv, "auto_pad", "NOTSET") in ("NOTSET", "VALID")
                and all(v == 1 for v in attr(conv, "strides", [1])) and all(v == 1 for v in attr(conv, "dilations", [1]))
                and not any(attr(conv, "pads", [0])))


def _one_channel_pointwise(conv: Any, consts: dict[str, Any]) -> bool:
    """True when `conv` is a plain 1x1 Conv to one output channel with constant weights (and bias)."""
    if conv.op_type != "Conv" or conv.domain not in ("", "ai.onnx") or len(conv.input) < 2:
        return False
    weight = consts.get(conv.input[1])
    if weight is None or weight.dtype != np.float32 or weight.ndim != 4 or weight.shape[0] != 1 or weight.shape[2:] != (1, 1):
        return False  # (float32 only: the replacement's constants must match the graph's float type)
    if len(conv.input) > 2 and conv.input[2] and (consts.get(conv.input[2]) is None or consts[conv.input[2]].size != 1):
        return False
    return plain_pointwise(conv)


def softmax_expectation(model: Any) -> int:
    """Rewrite every channel-axis Softmax read only by a one-channel 1x1 Conv; returns how many. A Transpose
    that only feeds the Softmax (YOLOv8 exports one) is absorbed: the reductions run over the matching axis of
    its input and only the small result is transposed."""
    if opset(model) < 13:  # older Softmax flattens the trailing axes; ReduceSum takes its axes as input from 13
        return 0
    consts = constant_values(model)
    producers, readers = onnx_graph.producers(model.graph), onnx_graph.consumers(model.graph)
    outputs = {o.name for o in model.graph.output}
    todo: dict[int, tuple[Any, Any]] = {}
    for node in model.graph.node:
        if node.op_type != "Softmax" or node.domain not in ("", "ai.onnx") or node.output[0] in outputs:
            continue
        after = readers.get(node.output[0], [])
        if len(after) != 1 or after[0].input[0] != node.output[0] or not _one_channel_pointwise(after[0], consts):
            continue
        if attr(node, "axis", -1) % 4 != 1:  # the Conv's input is 4-D; its channel axis is 1
            continue
        t = producers.get(node.input[0])
        absorbed = (t is not None and t.op_type == "Transpose" and len(attr(t, "perm", [])) == 4
                    and t.output[0] not in outputs and len(readers[t.output[0]]) == 1)
        todo[id(node)] = (after[0], t if absorbed else None)
    if not todo:
        return 0
    gone = {id(conv) for conv, _ in todo.values()} | {id(t) for _, t in todo.values() if t is not None}
    nodes: list[Any] = []
    for node in model.graph.node:
        if id(node) in gone:
            continue
        if id(node) not in todo:
            nodes.append(node)
            continue
        conv, transpose = todo[id(node)]
        replacement, constants = _expectation(node, conv, transpose, opset(model), consts)
        nodes += replacement
        model.graph.initializer.extend(constants)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return len(todo)


def _expectation(softmax: Any, conv: Any, transpose: Any, version: int,
                 consts: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """Nodes and initializers computing conv(softmax(x)) as sum(w * exp(x - max)) / sum(exp(x - max)) (+ bias)."""
    from onnx import helper, numpy_helper

    p = f"{conv.output[0]}/expectation"  # output names are unique
    x = transpose.input[0] if transpose is not None else softmax.input[0]
    perm = [int(v) for v in attr(transpose, "perm", [])] if transpose is not None else [0, 1, 2, 3]
    axis = perm[1]  # where the Softmax's axis lies in x
    shape = [1, 1, 1, 1]
    shape[axis] = -1
    weights = consts[conv.input[1]].astype(np.float32).reshape(shape)
    constants = [numpy_helper.from_array(np.array([axis], np.int64), f"{p}/axes"),
                 numpy_helper.from_array(weights, f"{p}/weights")]
    if version >= 18:
        nodes = [helper.make_node("ReduceMax", [x, f"{p}/axes"], [f"{p}/max"], name=f"{p}/ReduceMax", keepdims=1)]
    else:
        nodes = [helper.make_node("ReduceMax", [x], [f"{p}/max"], name=f"{p}/ReduceMax", axes=[axis], keepdims=1)]
    nodes += [helper.make_node("Sub", [x, f"{p}/max"], [f"{p}/shifted"], name=f"{p}/Sub"),
              helper.make_node("Exp", [f"{p}/shifted"], [f"{p}/exp"], name=f"{p}/Exp"),
              helper.make_node("ReduceSum", [f"{p}/exp", f"{p}/axes"], [f"{p}/den"], name=f"{p}/SumExp", keepdims=1),
              helper.make_node("Mul", [f"{p}/exp", f"{p}/weights"], [f"{p}/weighted"], name=f"{p}/Mul"),
              helper.make_node("ReduceSum", [f"{p}/weighted", f"{p}/axes"], [f"{p}/num"], name=f"{p}/SumWeighted",
                               keepdims=1),
              helper.make_node("Div", [f"{p}/num", f"{p}/den"], [f"{p}/mean"], name=f"{p}/Div")]
    y = f"{p}/mean"
    if len(conv.input) > 2 and conv.input[2]:
        bias = consts[conv.input[2]].astype(np.float32).reshape(1)
        constants.append(numpy_helper.from_array(bias, f"{p}/bias"))
        nodes.append(helper.make_node("Add", [y, f"{p}/bias"], [f"{p}/biased"], name=f"{p}/Add"))
        y = f"{p}/biased"
    if transpose is not None:
        nodes.append(helper.make_node("Transpose", [y], [conv.output[0]], name=f"{p}/Transpose", perm=perm))
    else:
        nodes.append(helper.make_node("Identity", [y], [conv.output[0]], name=f"{p}/Identity"))
    return nodes, constants


def dequantized(dq: Any, consts: dict[str, Any]) -> Any:
    """The float32 value DequantizeLinear `dq` computes from constant inputs, or None."""
    if dq.op_type != "DequantizeLinear" or dq.domain not in ("", "ai.onnx") or attr(dq, "block_size", 0):
        return None
    q, scale = consts.get(dq.input[0]), consts.get(dq.input[1]) if len(dq.input) > 1 else None
    zp = consts.get(dq.input[2]) if len(dq.input) > 2 and dq.input[2] else None
    if q is None or scale is None or (len(dq.input) > 2 and dq.input[2] and zp is None):
        return None
    if scale.dtype != np.float32:  # opset 19+ dequantizes to the scale's type; folded float32 would not match
        return None
    zero = np.zeros(scale.shape, np.int64) if zp is None else zp.astype(np.int64)
    if scale.ndim == 1 and q.ndim > 1:  # per-axis parameters
        shape = [1] * q.ndim
        shape[attr(dq, "axis", 1) % q.ndim] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return ((q.astype(np.int64) - zero).astype(np.float32) * scale).astype(np.float32)


def float_conv_weights(model: Any) -> int:
    """Fold the weight/bias DequantizeLinear of every Conv ONNX Runtime will run in float; returns how many convs."""
    from onnx import numpy_helper

    consts = constant_values(model)
    producers, readers = onnx_graph.producers(model.graph), onnx_graph.consumers(model.graph)
    outputs = {o.name for o in model.graph.output}
    changed = 0
    for node in model.graph.node:
        if node.op_type != "Conv" or node.domain not in ("", "ai.onnx") or len(node.input) < 2:
            continue
        x = producers.get(node.input[0])
        after = readers.get(node.output[0], [])
        unit = (x is not None and x.op_type == "DequantizeLinear" and node.output[0] not in outputs
                and len(after) == 1 and after[0].op_type == "QuantizeLinear")
        if unit:  # ONNX Runtime fuses it into QLinearConv, which needs the DequantizeLinear on the weights
            continue
        folded = False
        for k in (1, 2):
            dq = producers.get(node.input[k]) if len(node.input) > k and node.input[k] else None
            value = dequantized(dq, consts) if dq is not None else None
            if value is None:
                continue
            name = f"{node.input[k]}/folded"
            if name not in consts:
                model.graph.initializer.append(numpy_helper.from_array(value, name))
                consts[name] = value
            node.input[k] = name
            folded = True
        changed += folded
    if changed:
        onnx_graph.drop_unread_dequantize(model)
    return changed
