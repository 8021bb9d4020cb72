"""Structural facts about a detector's graph that its output shapes cannot tell."""

from __future__ import annotations

from typing import Any

#: Operators that move values without computing on them; for those with several inputs, which carry data.
_LAYOUT_OPS = {"Reshape": (0,), "Transpose": (0,), "Flatten": (0,), "Squeeze": (0,), "Unsqueeze": (0,),
               "Identity": (0,), "Slice": (0,), "Split": (0,), "Concat": None}
_HEAD_OPS = {"Conv", "Sigmoid"}


def raw_head_outputs(model: Any) -> frozenset[str]:
    """Graph outputs whose every value comes from a convolution (or a sigmoid of one) through layout
    operators only: the head's raw predictions, not boxes decoded in the graph (which pass through Add, Mul,
    Exp ... with grid and stride constants)."""
    producer = {out: node for node in model.graph.node for out in node.output}
    raw = set()
    for output in model.graph.output:
        stack, seen, ok = [output.name], set(), True
        while stack and ok:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            node = producer.get(name)
            if node is None:  # a graph input or a constant: not a head prediction
                ok = False
            elif node.op_type in _HEAD_OPS:
                continue
            elif node.op_type in _LAYOUT_OPS:
                data = _LAYOUT_OPS[node.op_type]
                stack.extend(node.input if data is None else [node.input[i] for i in data])
            else:
                ok = False
        if ok:
            raw.add(output.name)
    return frozenset(raw)
