"""Lookups over an ONNX graph (onnx.GraphProto) shared by the graph rewrites and the Q/DQ placement."""

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
