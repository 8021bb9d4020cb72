"""Lookups over an ONNX model and graph shared by the graph rewrites and the Q/DQ placement."""

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
