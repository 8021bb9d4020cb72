"""qdq-silu-lookup (CPU only; see graph_rewrite.py): an INT8 SiLU between Q/DQ pairs,

    DequantizeLinear(x) -> Sigmoid -> QuantizeLinear -> DequantizeLinear -> Mul -> QuantizeLinear
                      `-------------------------------------------------------'

which ONNX Runtime runs as QLinearSigmoid then QLinearMul (two passes over the bytes, the second reading two
inputs), becomes one lookup of each byte in a 256-entry table:

    Transpose to NHWC -> edge_sdk.ByteLookup(table) -> Transpose back to NCHW

The input holds one of 256 values, so the whole SiLU is a function of one byte: the table is what QLinearSigmoid
and QLinearMul give for each, computed in float32 the way ONNX Runtime computes them (the sigmoid's rounding to 8
bits included), so the outputs are the same bytes (tests check them bit for bit, and the demo INT8 model's
outputs are identical). ByteLookup is a native op (ops/byte_lookup.c: AVX-512 VBMI, 64 bytes per two VPERMI2B,
a scalar loop elsewhere), elementwise, so layout does not matter to it; the Transposes cancel against the NHWC
layout ONNX Runtime keeps the INT8 convs in (its transpose optimizer does not move through an unknown op: without
them it would put a pair of real transposes around every lookup).

Demo INT8 model, two threads: QLinearSigmoid + QLinearMul took 8.5 ms of 29.8; the 55 lookups take 1.3 ms of
22.3. Skipped, with a warning, when the native op library is not built (an install without a C compiler).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from edge_sdk import onnx_graph
from edge_sdk.engines import ops
from edge_sdk.onnx_graph import constant_values

log = logging.getLogger(__name__)

_DEFAULT = ("", "ai.onnx")


def _is(node: Any, op_type: str) -> bool:
    return bool(node is not None and node.op_type == op_type and node.domain in _DEFAULT)


def _uint8_params(node: Any, consts: dict[str, Any]) -> tuple[float, int] | None:
    """(scale, zero point) of a per-tensor Q/DQ node with a float32 scale and a UINT8 zero point, else None."""
    if len(node.input) < 3 or not node.input[2]:
        return None
    scale, zero = consts.get(node.input[1]), consts.get(node.input[2])
    if scale is None or zero is None or scale.size != 1 or zero.size != 1:
        return None
    if scale.dtype != np.float32 or zero.dtype != np.uint8 or not float(scale.reshape(-1)[0]) > 0:
        return None
    return float(scale.reshape(-1)[0]), int(zero.reshape(-1)[0])


def silu_table(x: tuple[float, int], sig: tuple[float, int], out: tuple[float, int]) -> np.ndarray:
    """table[v] for every UINT8 byte v: what QLinearSigmoid then QLinearMul give for it, in float32 as ONNX
    Runtime computes them (dequantize, sigmoid, quantize to `sig`; dequantize both, multiply, quantize to `out`;
    rounding half to even). `x`, `sig`, `out`: (scale, zero point) of the input, the sigmoid and the output."""
    f32 = np.float32
    v = (np.arange(256, dtype=f32) - f32(x[1])) * f32(x[0])
    with np.errstate(over="ignore"):
        sigmoid = f32(1) / (f32(1) + np.exp(-v))
    s = np.clip(np.rint(sigmoid / f32(sig[0])) + f32(sig[1]), 0, 255)
    y = v * ((s - f32(sig[1])) * f32(sig[0]))
    table: np.ndarray = np.clip(np.rint(y / f32(out[0])) + f32(out[1]), 0, 255).astype(np.uint8)
    return table


def _silu(mul: Any, producers: dict[str, Any], readers: dict[str, list[Any]],
          consts: dict[str, Any]) -> tuple[list[Any], np.ndarray] | None:
    """For a Mul that ends a Q/DQ SiLU: (its nodes from the input DequantizeLinear to the output QuantizeLinear,
    the table), else None."""
    if not _is(mul, "Mul") or len(mul.input) != 2:
        return None
    after = readers.get(mul.output[0], [])
    if len(after) != 1 or not _is(after[0], "QuantizeLinear"):
        return None
    q_out = after[0]
    for a, b in ((0, 1), (1, 0)):
        dq_x: Any = producers.get(mul.input[a])
        dq_s: Any = producers.get(mul.input[b])
        if not _is(dq_x, "DequantizeLinear") or not _is(dq_s, "DequantizeLinear"):
            continue
        q_s: Any = producers.get(dq_s.input[0])
        sigmoid: Any = producers.get(q_s.input[0]) if _is(q_s, "QuantizeLinear") else None
        if not _is(sigmoid, "Sigmoid") or sigmoid.input[0] != dq_x.output[0]:
            continue
        only = {dq_x.output[0]: {id(sigmoid), id(mul)}, sigmoid.output[0]: {id(q_s)},
                q_s.output[0]: {id(dq_s)}, dq_s.output[0]: {id(mul)}}
        if any({id(n) for n in readers.get(name, [])} != ids for name, ids in only.items()):
            continue
        p_in, p_sig, p_out = (_uint8_params(n, consts) for n in (dq_x, q_s, q_out))
        if p_in is None or p_sig is None or p_out is None or _uint8_params(dq_s, consts) != p_sig:
            continue
        if dq_x.input[0] in consts:
            continue
        return [dq_x, sigmoid, q_s, dq_s, mul, q_out], silu_table(p_in, p_sig, p_out)
    return None


def silu_lookup(model: Any) -> int:
    """Rewrite every UINT8 Q/DQ SiLU on a 4-D tensor into one edge_sdk.ByteLookup; returns how many."""
    from onnx import helper, numpy_helper, shape_inference

    if not any(_is(n, "Sigmoid") for n in model.graph.node):
        return 0
    library = ops.byte_lookup_library()
    if library is None:
        log.warning("graph rewrite qdq-silu-lookup skipped: %s", ops.missing_reason())
        return 0
    consts = constant_values(model)
    producers, readers = onnx_graph.producers(model.graph), onnx_graph.consumers(model.graph)
    outputs = {o.name for o in model.graph.output}
    found = [m for m in (_silu(n, producers, readers, consts) for n in model.graph.node if _is(n, "Mul")) if m]
    found = [m for m in found if not outputs.intersection(n.output[0] for n in m[0][:-1])]
    if not found:
        return 0
    g = shape_inference.infer_shapes(model).graph
    ranks = {vi.name: len(vi.type.tensor_type.shape.dim) for vi in list(g.value_info) + list(g.input)
             if vi.type.tensor_type.HasField("shape")}
    replaced: dict[int, list[Any]] = {}
    dropped: set[int] = set()
    tables: dict[bytes, str] = {}
    for nodes, table in found:
        dq_x, q_out = nodes[0], nodes[-1]
        if ranks.get(dq_x.input[0]) != 4:
            continue
        p = f"{q_out.output[0]}/silu_lookup"  # output names are unique
        name = tables.get(table.tobytes())
        if name is None:  # layers with the same ranges share one table
            name = tables[table.tobytes()] = f"{p}/table"
            model.graph.initializer.append(numpy_helper.from_array(table, name))
        replaced[id(q_out)] = [
            helper.make_node("Transpose", [dq_x.input[0]], [f"{p}/X"], name=f"{p}/ToNHWC", perm=[0, 2, 3, 1]),
            helper.make_node("ByteLookup", [f"{p}/X", name], [f"{p}/Y"], name=p, domain=ops.DOMAIN),
            helper.make_node("Transpose", [f"{p}/Y"], [q_out.output[0]], name=f"{p}/ToNCHW", perm=[0, 3, 1, 2])]
        dropped.update(id(n) for n in nodes[:-1])
    if not replaced:
        return 0
    kept = [new for node in model.graph.node if id(node) not in dropped for new in replaced.get(id(node), [node])]
    del model.graph.node[:]
    model.graph.node.extend(kept)
    if not any(o.domain == ops.DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(ops.DOMAIN, 1))
    return len(replaced)
