"""Where Q/DQ go: graph analysis of the FP32 model, exclusions, and checks of a quantized model.

Terms used here:
- compute nodes: the op types TensorRT runs in INT8 (config build.op_types, default Conv/MatMul/Gemm);
- the decode tail: nodes after which no compute node follows (YOLOv8: the per-level Concat, Reshape,
  Split, the DFL Softmax and its fixed 1x1 Conv, the anchor arithmetic and the class Sigmoid). Box
  coordinates in input pixels leave the model there; 8 bits over 0..640 is a 2.5 px step, so the tail
  stays float in every form;
- final compute nodes: compute nodes whose output feeds only the tail (YOLOv8: the last 1x1 convs of
  the box and class branches): their inputs are quantized, their outputs (logits) are not;
- the input layer: compute nodes that read the image (the stem conv on the 3-channel image; through the
  normalization an exporter put in front of it: x255, mean/std, a channel swap) with the activation on their
  output, and that normalization. ONNX Runtime's CPU form keeps it in float: three input channels leave its INT8 kernel
  mostly idle, so quantizing the image and converting layouts costs more than the float conv (measured on the
  demo model: 2.0 ms float against 2.5 ms INT8 for that layer), and it is the layer most sensitive to
  quantization in most detectors.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from edge_sdk import onnx_graph

#: Ops that only move or reshape data: the DFL conv counts as fed by Softmax through them.
_LAYOUT_OPS = frozenset({"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "Identity"})


@dataclass(frozen=True)
class GraphPlan:
    compute: tuple[str, ...]  # compute nodes in graph order
    decode_tail: frozenset[str]  # nodes with no compute node downstream (and the DFL conv)
    final_compute: frozenset[str]  # compute nodes whose outputs feed only the tail
    node_types: dict[str, str]
    input_layer: frozenset[str] = frozenset()  # compute nodes reading the image, their activation, the normalization
    normalization: frozenset[str] = frozenset()  # nodes normalizing the image in front of the stem (x255, mean/std)

    def quantizable(self, excluded: frozenset[str]) -> list[str]:
        return [n for n in self.compute if n not in excluded and n not in self.decode_tail]


def _fed_by_softmax(node: Any, producers: dict[str, Any]) -> bool:
    src = producers.get(node.input[0]) if node.input else None
    while src is not None and src.op_type in _LAYOUT_OPS:
        src = producers.get(src.input[0]) if src.input else None
    return src is not None and src.op_type == "Softmax"


def plan_graph(model: Any, op_types: list[str], *, keep_decode_float: bool = True) -> GraphPlan:
    """Analyse an FP32 ONNX model (onnx.ModelProto). Node names must be unique and non-empty."""
    graph = model.graph
    names = [n.name for n in graph.node]
    if len(set(names)) != len(names) or not all(names):
        raise ValueError("every node needs a unique, non-empty name (run `name_nodes` first)")
    consumers, producers = onnx_graph.consumers(graph), onnx_graph.producers(graph)
    ops = set(op_types)
    dfl = {n.name for n in graph.node if n.op_type in ops and _fed_by_softmax(n, producers)} if keep_decode_float else set()
    compute_nodes = {n.name for n in graph.node if n.op_type in ops and n.name not in dfl}
    # reaches[n]: some compute node is downstream of n's outputs. Nodes are in topological order in ONNX.
    reaches: dict[str, bool] = {}
    for node in reversed(graph.node):
        reaches[node.name] = any(c.name in compute_nodes or reaches.get(c.name, False)
                                 for o in node.output for c in consumers.get(o, []))
    tail = {n.name for n in graph.node if not reaches[n.name] and n.name not in compute_nodes} | dfl
    final = {n.name for n in graph.node if n.name in compute_nodes and not reaches[n.name]}
    compute = tuple(n.name for n in graph.node if n.name in compute_nodes)
    front, stem = input_layer_of(model, compute_nodes)
    return GraphPlan(compute, frozenset(tail if keep_decode_float else set()), frozenset(final),
                     {n.name: n.op_type for n in graph.node}, frozenset(with_activations(model, stem) | front),
                     frozenset(front))


#: Ops an exporter puts between the image and the stem conv with constant operands: scale (x255, /255),
#: mean/std (Sub, Div or Mul), a type cast, a channel swap or layout change.
_PREPROCESS_OPS = frozenset({"Mul", "Div", "Sub", "Add", "Cast", "Transpose", "Identity", "Reshape", "Slice",
                             "Gather", "Concat", "Split"})


def input_layer_of(model: Any, compute_nodes: set[str]) -> tuple[set[str], set[str]]:
    """(the normalization nodes in front of the stem, the stem compute nodes).

    The stem is the compute nodes that read the image: the graph input itself, or the graph input after
    nodes that only normalize it with constants (x255, mean/std, an RGB/BGR Gather or Slice+Concat, a
    Transpose from NHWC). Those normalization nodes are returned too: the CPU form keeps them in float with the
    stem, since quantizing the image before its normalization would quantize it twice."""
    graph = model.graph
    consts = {i.name for i in graph.initializer} | {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    readers = onnx_graph.consumers(graph)
    image = [i.name for i in graph.input if i.name not in consts]
    front: set[str] = set()
    stem: set[str] = set()
    seen = set(image)
    todo = list(image)
    while todo:
        tensor = todo.pop()
        for node in readers.get(tensor, []):
            if node.name in compute_nodes:
                stem.add(node.name)
            elif (node.op_type in _PREPROCESS_OPS and node.domain in ("", "ai.onnx")
                  and all(i in seen or i in consts or not i for i in node.input)):
                front.add(node.name)
                for out in node.output:
                    if out not in seen:
                        seen.add(out)
                        todo.append(out)
    return front, stem


def match_nodes(patterns: list[str], names: list[str]) -> tuple[set[str], list[str]]:
    """Node names matching any pattern (exact or fnmatch), and the patterns that matched nothing."""
    matched: set[str] = set()
    unmatched = []
    for pat in patterns:
        hits = {n for n in names if n == pat or fnmatch.fnmatchcase(n, pat)}
        if not hits:
            unmatched.append(pat)
        matched |= hits
    return matched, unmatched


def name_nodes(model: Any) -> bool:
    """Give unnamed (or duplicate-named) nodes a stable unique name; True if anything changed."""
    seen: set[str] = set()
    changed = False
    for i, node in enumerate(model.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{i}" if f"{node.op_type}_{i}" not in seen else f"{node.op_type}_{i}_n"
            changed = True
        seen.add(node.name)
    return changed


def strip_qdq_on(model: Any, tensors: set[str]) -> int:
    """Remove QuantizeLinear/DequantizeLinear pairs sitting on `tensors`: consumers read the float tensor again.

    A pair whose DequantizeLinear writes a graph output (a head conv feeding an output directly: the quantizer
    renamed the conv's output and gave the graph output's name to the DequantizeLinear) is removed too: the
    float tensor takes the graph output's name back. All or nothing (onnx_graph.transaction). Returns how many
    Q nodes were removed.
    """
    with onnx_graph.transaction(model):
        return _strip_qdq_on(model, tensors)


def _strip_qdq_on(model: Any, tensors: set[str]) -> int:
    graph = model.graph
    consumers = onnx_graph.consumers(graph)
    outputs = {o.name for o in graph.output}
    inputs = {i.name for i in graph.input}
    drop: set[int] = set()
    rename: dict[str, str] = {}
    removed = 0
    for q in graph.node:
        if q.op_type != "QuantizeLinear" or q.input[0] not in tensors or q.output[0] in outputs:
            continue
        dqs = consumers.get(q.output[0], [])
        if not dqs or any(d.op_type != "DequantizeLinear" for d in dqs):
            continue
        exposed = [d.output[0] for d in dqs if d.output[0] in outputs]
        if len(exposed) > 1 or (exposed and (q.input[0] in outputs or q.input[0] in inputs)):
            continue  # one float tensor cannot carry two graph outputs' names (or a graph input's)
        target = exposed[0] if exposed else q.input[0]
        removed += 1
        drop.add(id(q))
        for d in dqs:
            drop.add(id(d))
            if d.output[0] != target:
                rename[d.output[0]] = target
        if target != q.input[0]:
            rename[q.input[0]] = target
    if not drop:
        return 0
    kept = [n for n in graph.node if id(n) not in drop]
    for node in kept:
        for i, name in enumerate(node.input):
            node.input[i] = rename.get(name, name)
        for i, name in enumerate(node.output):
            node.output[i] = rename.get(name, name)
    stale = set(rename)
    kept_info = [vi for vi in graph.value_info if vi.name not in stale and vi.name not in outputs]
    del graph.value_info[:]
    graph.value_info.extend(kept_info)
    del graph.node[:]
    graph.node.extend(kept)
    used = {i for n in graph.node for i in n.input}
    unused = [init for init in graph.initializer if init.name not in used]
    for init in unused:
        graph.initializer.remove(init)
    return removed


def float_for_other_consumers(model: Any, compute_op_types: list[str]) -> int:
    """Rewire every non-compute consumer of an activation DequantizeLinear to the float tensor it came from.

    onnxruntime.quantization's DedicatedQDQPair gives *every* consumer of a quantized tensor its own pair,
    float consumers too (the C2f Concat, the residual Add). TensorRT does not need those: here they read
    float again, and pairs nothing reads any more are removed. Returns how many inputs were rewired.
    """
    ops = set(compute_op_types)
    return _rewire_to_float(model, lambda node: node.op_type not in ops)


def float_inputs_of(model: Any, node_names: set[str]) -> int:
    """Make the named nodes read float activations (a layer kept in float must not see quantized inputs)."""
    return _rewire_to_float(model, lambda node: node.name in node_names)


def _rewire_to_float(model: Any, wanted: Any) -> int:
    with onnx_graph.transaction(model):
        return _rewire_impl(model, wanted)


def _rewire_impl(model: Any, wanted: Any) -> int:
    graph = model.graph
    producers = onnx_graph.producers(graph)
    inits = {i.name for i in graph.initializer}
    rewired = 0
    for node in graph.node:
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") or not wanted(node):
            continue
        for i, name in enumerate(node.input):
            dq = producers.get(name)
            if dq is None or dq.op_type != "DequantizeLinear":
                continue
            q = producers.get(dq.input[0])
            if q is None or q.op_type != "QuantizeLinear" or q.input[0] in inits:
                continue
            node.input[i] = q.input[0]
            rewired += 1
    if rewired:
        _drop_dead_qdq(graph)
    return rewired


def _drop_dead_qdq(graph: Any) -> None:
    outputs = {o.name for o in graph.output}
    while True:
        used = {i for n in graph.node for i in n.input} | outputs
        dead = [n for n in graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear") and n.output[0] not in used]
        if not dead:
            break
        for n in dead:
            graph.node.remove(n)
    used = {i for n in graph.node for i in n.input}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


@dataclass(frozen=True)
class QdqSummary:
    """What a Q/DQ model quantizes: per compute node, whether its input and weight come through DQ."""

    quantized: tuple[str, ...]  # compute nodes with a DQ'd activation input and DQ'd weights
    float_compute: tuple[str, ...]  # compute nodes left in float
    q_nodes: int
    dq_nodes: int
    activation_dq_consumers: dict[str, int]  # op type -> how many activation DQ outputs feed it
    activation_zero_points_zero: bool
    activation_types: tuple[str, ...]  # element types of activation Q outputs, e.g. ("int8",)
    weights_per_channel: bool


def summarize_qdq(model: Any, compute_op_types: list[str]) -> QdqSummary:
    from onnx import TensorProto, numpy_helper

    graph = model.graph
    producers = onnx_graph.producers(graph)
    consumers = onnx_graph.consumers(graph)
    inits = {i.name: i for i in graph.initializer}
    const_values = {n.output[0]: n for n in graph.node if n.op_type == "Constant"}

    def is_weight_dq(dq: Any) -> bool:
        src = dq.input[0]
        if src in inits:
            return True
        q = producers.get(src)
        return q is not None and q.op_type == "QuantizeLinear" and (q.input[0] in inits or q.input[0] in const_values)

    quantized, float_compute = [], []
    per_channel = True
    for node in graph.node:
        if node.op_type not in compute_op_types:
            continue
        act = producers.get(node.input[0])
        w = producers.get(node.input[1]) if len(node.input) > 1 else None
        if act is not None and act.op_type == "DequantizeLinear" and w is not None and w.op_type == "DequantizeLinear":
            quantized.append(node.name)
            scale = inits.get(w.input[1])
            if scale is None or numpy_helper.to_array(scale).size <= 1:
                per_channel = False
        else:
            float_compute.append(node.name)
    dq_consumers: dict[str, int] = defaultdict(int)
    zp_zero = True
    act_types: set[str] = set()
    for node in graph.node:
        if node.op_type == "DequantizeLinear" and not is_weight_dq(node):
            for c in consumers.get(node.output[0], []):
                dq_consumers[c.op_type] += 1
        is_act_q = node.op_type == "QuantizeLinear" and node.input[0] not in inits and node.input[0] not in const_values
        if is_act_q and len(node.input) > 2 and node.input[2] in inits:
            zp = numpy_helper.to_array(inits[node.input[2]])
            zp_zero = zp_zero and bool((zp == 0).all())
            act_types.add(TensorProto.DataType.Name(inits[node.input[2]].data_type).lower())
    return QdqSummary(tuple(quantized), tuple(float_compute),
                      sum(n.op_type == "QuantizeLinear" for n in graph.node),
                      sum(n.op_type == "DequantizeLinear" for n in graph.node),
                      dict(dq_consumers), zp_zero, tuple(sorted(act_types)), per_channel)


def feeding_region(model: Any, layers: set[str], compute_nodes: set[str]) -> tuple[set[str], set[str]]:
    """(the non-compute nodes that compute `layers`' activation inputs back to the previous compute nodes, those
    compute nodes). A layer whose input must stay float (layer_sqnr.py) needs that whole region float in a form that
    quantizes activations and outputs (the CPU form): the activation after the previous conv and that conv's output
    carry the same per-tensor range as the layer's input."""
    graph = model.graph
    producers = onnx_graph.producers(graph)
    consts = {i.name for i in graph.initializer} | {o for n in graph.node if n.op_type == "Constant" for o in n.output}
    region: set[str] = set()
    previous: set[str] = set()
    todo = [n.input[0] for n in graph.node if n.name in layers and n.input]
    seen: set[str] = set()
    while todo:
        tensor = todo.pop()
        node = producers.get(tensor)
        if tensor in seen or tensor in consts or node is None:
            continue
        seen.add(tensor)
        if node.name in compute_nodes:
            previous.add(node.name)
            continue
        region.add(node.name)
        todo.extend(i for i in node.input if i)
    return region, previous


def with_activations(model: Any, compute_nodes: set[str]) -> set[str]:
    """`compute_nodes` plus the activation applied to their outputs (SiLU's Sigmoid and Mul, hard-swish,
    ReLU, LeakyReLU, Clip, ...; see onnx_graph.activation_after), through an unfused BatchNormalization: a
    layer kept in float whole."""
    graph = model.graph
    readers = onnx_graph.consumers(graph)
    out = set(compute_nodes)
    for node in graph.node:
        if node.name not in compute_nodes:
            continue
        bn, act = onnx_graph.layer_tail(graph, node, readers)
        out |= {n.name for n in bn + act}
    return out
