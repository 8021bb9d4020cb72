"""Lookups over an ONNX model and graph, and one clean-up, shared by the graph rewrites and the Q/DQ placement."""

from __future__ import annotations

from collections import defaultdict
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
