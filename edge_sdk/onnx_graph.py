"""Lookups over an ONNX model and graph, one clean-up, the activation patterns of detectors, and `transaction`
(all-or-nothing graph changes), shared by the graph rewrites, the Q/DQ placement and the INT8 preflight."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterator
from typing import Any


def consumers(graph: Any) -> dict[str, list[Any]]:
    """Tensor name -> the nodes that read it, in graph order (empty optional inputs skipped)."""
    out: dict[str, list[Any]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            if name:
                out[name].append(node)
    return out


def producers(graph: Any) -> dict[str, Any]:
    """Tensor name -> the node that writes it."""
    return {o: node for node in graph.node for o in node.output}


def opset(model: Any) -> int:
    """The model's default-domain opset version (0 when it has none)."""
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def attr(node: Any, name: str, default: Any) -> Any:
    """A node attribute's value (strings decoded), or `default` when the node does not set it."""
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            value = helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def constant_values(model: Any) -> dict[str, Any]:
    """Initializers and Constant-node outputs, as numpy arrays."""
    from onnx import numpy_helper

    values = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output:
            tensor = next((a.t for a in node.attribute if a.name == "value"), None)
            if tensor is not None:
                values[node.output[0]] = numpy_helper.to_array(tensor)
    return values


def drop_unread_dequantize(model: Any) -> None:
    """Remove the DequantizeLinear nodes nothing reads any more, and the initializers only they used."""
    graph = model.graph
    outputs = {o.name for o in graph.output}
    readers = consumers(graph)
    dead = [n for n in graph.node
            if n.op_type == "DequantizeLinear" and not any(readers.get(o) or o in outputs for o in n.output)]
    if not dead:
        return
    dead_ids = {id(n) for n in dead}
    keep = [n for n in graph.node if id(n) not in dead_ids]
    del graph.node[:]
    graph.node.extend(keep)
    if any(a.type in (5, 10) for n in graph.node for a in n.attribute):  # GRAPH/GRAPHS: subgraphs may read them
        return
    used = {name for n in graph.node for name in n.input} | outputs
    orphans = {name for n in dead for name in n.input} - used
    kept = [t for t in graph.initializer if t.name not in orphans]
    del graph.initializer[:]
    graph.initializer.extend(kept)


@contextlib.contextmanager
def transaction(model: Any) -> Iterator[Any]:
    """Apply a graph transformation all or nothing: when the block raises, `model` is restored to what it was
    before the block (every node, initializer, input, output, opset and property), then the error propagates.

        with onnx_graph.transaction(model):
            rewrite(model)              # a failure half-way leaves no half-rewritten graph behind

    Costs one copy of the model (a few milliseconds for a 12 MB detector)."""
    snapshot = type(model)()
    snapshot.CopyFrom(model)
    try:
        yield model
    except BaseException:
        model.CopyFrom(snapshot)
        raise


#: Activation ops a conv's output may go through (single-input, elementwise), besides the two-node forms
#: x * Sigmoid(x) (SiLU) and x * HardSigmoid(x) (hard-swish as older exporters write it).
ACTIVATION_OPS = frozenset({"Relu", "LeakyRelu", "Clip", "HardSwish", "HardSigmoid", "Sigmoid", "Tanh", "Elu",
                            "PRelu", "Mish", "Gelu", "Selu", "Softplus"})
#: The gates of x * gate(x) activations: SiLU (Sigmoid) and hard-swish (HardSigmoid).
GATE_OPS = frozenset({"Sigmoid", "HardSigmoid"})


def activation_after(graph: Any, tensor: str, readers: dict[str, list[Any]] | None = None) -> list[Any]:
    """The activation applied to `tensor`, as its nodes: [act] for a one-node activation read alone (ReLU,
    LeakyReLU, Clip, HardSwish, ...), [gate, mul] for x * gate(x) (SiLU, hard-swish as Sigmoid/HardSigmoid
    then Mul), [add, clip, mul, div] for x * Clip(x + 3, 0, 6) / 6 (paddle2onnx's hard-swish); [] when `tensor`
    feeds anything else too."""
    readers = consumers(graph) if readers is None else readers
    after = readers.get(tensor, [])
    if len(after) == 1 and after[0].op_type in ACTIVATION_OPS and after[0].input[0] == tensor:
        return [after[0]]
    if len(after) == 2:
        gate = next((n for n in after if n.op_type in GATE_OPS and n.input[0] == tensor), None)
        mul = next((n for n in after if n.op_type == "Mul"), None)
        if gate is not None and mul is not None and sorted(mul.input) == sorted([tensor, gate.output[0]]):
            return [gate, mul]
        return _clip_hardswish(tensor, after, readers)
    return []


def layer_tail(graph: Any, node: Any, readers: dict[str, list[Any]]) -> tuple[list[Any], list[Any]]:
    """(an unfused BatchNormalization reading `node`'s output alone, or [], the activation after it) of a compute
    node: what makes a layer with it."""
    tensor = node.output[0]
    after = readers.get(tensor, [])
    bn = [after[0]] if len(after) == 1 and after[0].op_type == "BatchNormalization" else []
    return bn, activation_after(graph, bn[0].output[0] if bn else tensor, readers)


def _only_reader(readers: dict[str, list[Any]], tensor: str, op_type: str) -> Any:
    after = readers.get(tensor, [])
    return after[0] if len(after) == 1 and after[0].op_type == op_type else None


def _clip_hardswish(tensor: str, after: list[Any], readers: dict[str, list[Any]]) -> list[Any]:
    """x * Clip(x + 3, 0, 6) / 6 (paddle2onnx's hard-swish: Add, Clip, Mul by x, Div; or Div before the Mul)."""
    add = next((n for n in after if n.op_type == "Add"), None)
    mul = next((n for n in after if n.op_type == "Mul"), None)
    clip = _only_reader(readers, add.output[0], "Clip") if add is not None else None
    if clip is None or mul is None:
        return []
    if clip.output[0] in mul.input:  # Add -> Clip -> Mul(x, .) -> Div
        div = _only_reader(readers, mul.output[0], "Div")
        return [add, clip, mul, div] if div is not None else []
    div = _only_reader(readers, clip.output[0], "Div")  # Add -> Clip -> Div -> Mul(x, .)
    if div is not None and sorted(mul.input) == sorted([tensor, div.output[0]]):
        return [add, clip, div, mul]
    return []
