"""Graph rewrites applied in memory before ONNX Runtime loads a model (the file is never changed), each all or
nothing (onnx_graph.transaction: one that fails half-way is skipped with a warning and leaves the graph as it
was, so the next rewrite and the session see a consistent model). Each computes
the same function as what it replaces; softmax-last-axis, softmax-expectation and qdq-pointwise-matmul round
floats differently (by a few ulp), the others give bit-identical outputs. Those for the float part of a detection head
(softmax-expectation, float-conv-weights) live in graph_rewrite_head.py, qdq-pointwise-matmul (integer matmuls
for the float-output 1x1 convs of an INT8 head) in graph_rewrite_matmul.py.

softmax-last-axis: a Softmax over a middle axis (YOLOv8's DFL: Softmax(axis=1) on [1, 16, 4, 8400]) becomes
Transpose -> Softmax(last axis) -> Transpose. ONNX Runtime's CPU kernel is vectorised along the last axis
only: on the demo model the DFL Softmax alone took 4.7 ms of 36 ms; rewritten, 0.7 ms, and ONNX Runtime's
transpose optimizer folds the first Transpose into the one the exporter put before it. The result is
the same function (opset >= 13 Softmax normalises along one axis; older opsets flatten, so they are left alone).

qdq-nearest-upsample (CPU only): a nearest-neighbour Resize by whole factors between a DequantizeLinear and a
QuantizeLinear (YOLO's FPN upsampling in an INT8 Q/DQ model) becomes Transpose to NHWC -> Unsqueeze -> Expand ->
Reshape -> Transpose back, each between a Q/DQ pair with the input's scale. ONNX Runtime runs the INT8 convs in
NHWC and moves the Resize there too, where its UINT8 kernel has no fast path: a per-element loop, single
threaded (1.0 ms of 20.7 on the demo INT8 model, two threads). Rewritten, the transposes cancel against the
layout ONNX Runtime chose, the Q/DQ pairs are dropped, and Expand copies whole channel vectors: 0.1 ms, and
bit-identical outputs (nearest with an integer factor repeats each pixel; only the coordinate modes for which
that holds are rewritten). Float models are left alone: their Resize runs in ONNX Runtime's NCHWc fast path.

qdq-byte-concat (CPU only): a Concat between DequantizeLinear inputs and one QuantizeLinear that all share one
per-tensor scale and zero point (the build quantizes the tensors a Concat joins with one range) becomes a Concat
of the quantized tensors: DequantizeLinear then QuantizeLinear with the same parameters gives back the same bytes,
so the outputs are bit-identical. ONNX Runtime turns the Q/DQ form into QLinearConcat, which runs on one thread
even when it has nothing to requantize (0.64 ms for the demo model's 13 on two threads); its plain Concat
splits the copy across threads (0.53 ms).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_sdk import onnx_graph
from edge_sdk.engines import ops
from edge_sdk.engines.graph_rewrite_head import float_conv_weights, softmax_expectation
from edge_sdk.engines.graph_rewrite_lut import silu_lookup
from edge_sdk.engines.graph_rewrite_matmul import pointwise_integer_matmul
from edge_sdk.onnx_graph import attr, constant_values, opset

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rewritten:
    model_bytes: bytes
    applied: dict[str, int]  # rewrite name -> nodes changed
    libraries: tuple[str, ...] = ()  # native op libraries the session must register (SessionOptions)


def softmax_last_axis(model: Any) -> int:
    """Rewrite every opset-13+ Softmax over a non-last axis of known rank; returns how many were rewritten."""
    from onnx import helper, shape_inference

    if opset(model) < 13:
        return 0
    candidates = [n for n in model.graph.node
                  if n.op_type == "Softmax" and n.domain in ("", "ai.onnx") and attr(n, "axis", -1) != -1]
    if not candidates:
        return 0
    inferred = shape_inference.infer_shapes(model)
    g = inferred.graph
    ranks = {vi.name: len(vi.type.tensor_type.shape.dim) for vi in list(g.value_info) + list(g.input) + list(g.output)
             if vi.type.tensor_type.HasField("shape")}
    todo = {}
    for node in candidates:
        rank = ranks.get(node.input[0])
        if not rank:
            continue
        axis = attr(node, "axis", -1) % rank
        if axis != rank - 1:
            todo[id(node)] = (rank, axis)
    if not todo:
        return 0
    nodes = []
    for node in model.graph.node:
        if id(node) not in todo:
            nodes.append(node)
            continue
        rank, axis = todo[id(node)]
        perm = [i for i in range(rank) if i != axis] + [axis]
        inverse = [perm.index(i) for i in range(rank)]
        moved, normed = f"{node.input[0]}__to_last_axis", f"{node.output[0]}__last_axis"
        nodes.append(helper.make_node("Transpose", [node.input[0]], [moved], name=f"{node.name}/to_last_axis", perm=perm))
        nodes.append(helper.make_node("Softmax", [moved], [normed], name=node.name, axis=rank - 1))
        nodes.append(helper.make_node("Transpose", [normed], [node.output[0]], name=f"{node.name}/back", perm=inverse))
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return len(todo)


#: Resize coordinate modes under which nearest with an integer factor s maps output i to input i // s.
_REPEATING_MODES = {("asymmetric", "floor"), ("half_pixel", "round_prefer_floor"), ("half_pixel", "round_prefer_ceil"),
                    ("pytorch_half_pixel", "round_prefer_floor"), ("pytorch_half_pixel", "round_prefer_ceil")}


def _upsample_factors(node: Any, consts: dict[str, Any]) -> tuple[int, int] | None:
    """(sy, sx) when `node` is a 4-D nearest Resize that repeats each pixel sy x sx times, else None."""
    if node.domain not in ("", "ai.onnx") or attr(node, "mode", "nearest") != "nearest" or attr(node, "axes", None):
        return None
    modes = (attr(node, "coordinate_transformation_mode", "half_pixel"), attr(node, "nearest_mode", "round_prefer_floor"))
    if modes not in _REPEATING_MODES or len(node.input) < 3 or (len(node.input) > 3 and node.input[3]):
        return None
    scales = consts.get(node.input[2])
    if scales is None or scales.shape != (4,):
        return None
    n, c, sy, sx = (float(v) for v in scales)
    if (n, c) != (1.0, 1.0) or not all(v >= 1 and v == int(v) for v in (sy, sx)) or (sy, sx) == (1.0, 1.0):
        return None
    return int(sy), int(sx)


def qdq_nearest_upsample(model: Any) -> int:
    """Rewrite every whole-factor nearest Resize fed by DequantizeLinear and read only by QuantizeLinear."""
    if opset(model) < 13:
        return 0
    consts = constant_values(model)
    producers, readers = onnx_graph.producers(model.graph), onnx_graph.consumers(model.graph)
    outputs = {o.name for o in model.graph.output}
    todo = {}
    for node in model.graph.node:
        if node.op_type != "Resize" or not node.input:
            continue
        factors = _upsample_factors(node, consts)
        dq = producers.get(node.input[0])
        if factors is None or dq is None or dq.op_type != "DequantizeLinear" or len(dq.input) < 2:
            continue
        if any(consts.get(name) is None or consts[name].size != 1 for name in dq.input[1:] if name):
            continue  # per-channel (or computed) parameters: the Q/DQ pairs in NHWC would need another axis
        after = readers.get(node.output[0], [])
        if node.output[0] in outputs or not after or any(r.op_type != "QuantizeLinear" for r in after):
            continue
        todo[id(node)] = (factors, dq)
    nodes: list[Any] = []
    for node in model.graph.node:
        if id(node) not in todo:
            nodes.append(node)
            continue
        (sy, sx), dq = todo[id(node)]
        replacement, constants = _nhwc_repeat(node, dq, sy, sx)
        nodes += replacement
        model.graph.initializer.extend(constants)
    if todo:
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return len(todo)


def _nhwc_repeat(node: Any, dq: Any, sy: int, sx: int) -> tuple[list[Any], list[Any]]:
    """Nodes and initializers computing `node` (the Resize) as NHWC Unsqueeze -> Expand -> Reshape, every
    intermediate between a Q/DQ pair with the scale and zero point of `dq` (the Resize's input) so that ONNX
    Runtime keeps the bytes UINT8."""
    import numpy as np
    from onnx import helper, numpy_helper

    p = f"{node.output[0]}/nhwc_repeat"  # tensor names derive from it: output names are unique, node names need not be
    qdq = list(dq.input[1:])
    nodes: list[Any] = []

    def requantized(name: str) -> str:
        nodes.append(helper.make_node("QuantizeLinear", [name, *qdq], [f"{name}_q"], name=f"{name}/Q"))
        nodes.append(helper.make_node("DequantizeLinear", [f"{name}_q", *qdq], [f"{name}_dq"], name=f"{name}/DQ"))
        return f"{name}_dq"

    constants = [numpy_helper.from_array(np.array([2, 4], np.int64), f"{p}/axes"),
                 numpy_helper.from_array(np.array([1, 1, sy, 1, sx, 1], np.int64), f"{p}/repeats"),
                 numpy_helper.from_array(np.array([0, 2, 3, 1], np.int64), f"{p}/nhwc_order"),
                 numpy_helper.from_array(np.array([1, sy, sx, 1], np.int64), f"{p}/factors")]
    nodes += [helper.make_node("Shape", [dq.input[0]], [f"{p}/shape"], name=f"{p}/Shape"),
              helper.make_node("Gather", [f"{p}/shape", f"{p}/nhwc_order"], [f"{p}/nhwc_shape"], name=f"{p}/Gather"),
              helper.make_node("Mul", [f"{p}/nhwc_shape", f"{p}/factors"], [f"{p}/out_shape"], name=f"{p}/Mul"),
              helper.make_node("Transpose", [node.input[0]], [f"{p}/nhwc"], name=f"{p}/to_nhwc", perm=[0, 2, 3, 1])]
    x = requantized(f"{p}/nhwc")
    nodes.append(helper.make_node("Unsqueeze", [x, f"{p}/axes"], [f"{p}/unsqueezed"], name=f"{p}/Unsqueeze"))
    x = requantized(f"{p}/unsqueezed")
    nodes.append(helper.make_node("Expand", [x, f"{p}/repeats"], [f"{p}/expanded"], name=f"{p}/Expand"))
    x = requantized(f"{p}/expanded")
    nodes.append(helper.make_node("Reshape", [x, f"{p}/out_shape"], [f"{p}/upsampled"], name=f"{p}/Reshape"))
    x = requantized(f"{p}/upsampled")
    nodes.append(helper.make_node("Transpose", [x], [node.output[0]], name=f"{p}/to_nchw", perm=[0, 3, 1, 2]))
    return nodes, constants


def _per_tensor_params(node: Any, consts: dict[str, Any]) -> tuple[bytes, ...] | None:
    """The constant scale and zero point of a Q or DQ node as comparable bytes (dtype included), else None."""
    if len(node.input) < 3 or not node.input[2]:
        return None
    values = [consts[name] for name in node.input[1:3] if name in consts]
    if len(values) != 2 or any(v.size != 1 for v in values):
        return None
    return tuple(v.dtype.str.encode() + v.tobytes() for v in values)


def qdq_byte_concat(model: Any) -> int:
    """Rewrite every Concat of DequantizeLinear outputs read only by one QuantizeLinear, all with the same
    per-tensor scale and zero point, into a Concat of the quantized tensors themselves."""
    consts = constant_values(model)
    producers, readers = onnx_graph.producers(model.graph), onnx_graph.consumers(model.graph)
    outputs = {o.name for o in model.graph.output}
    done = 0
    dropped: set[int] = set()
    for node in model.graph.node:
        if node.op_type != "Concat" or node.domain not in ("", "ai.onnx") or node.output[0] in outputs:
            continue
        after = readers.get(node.output[0], [])
        if len(after) != 1 or after[0].op_type != "QuantizeLinear" or after[0].domain not in ("", "ai.onnx"):
            continue
        dqs = [producers[name] for name in node.input if name in producers]
        if len(dqs) != len(node.input) or any(dq.op_type != "DequantizeLinear" for dq in dqs):
            continue
        params = {_per_tensor_params(n, consts) for n in [after[0], *dqs]}
        if len(params) != 1 or None in params:
            continue
        q = after[0]
        node.input[:] = [dq.input[0] for dq in dqs]
        node.output[0] = q.output[0]
        dropped.add(id(q))
        done += 1
    if done:
        keep = [n for n in model.graph.node if id(n) not in dropped]
        del model.graph.node[:]
        model.graph.node.extend(keep)
        onnx_graph.drop_unread_dequantize(model)  # the Concat's inputs no longer need theirs
    return done


#: In the order they run: softmax-expectation takes the Softmax it rewrites away from softmax-last-axis, and
#: qdq-pointwise-matmul the 1x1 convs it rewrites away from float-conv-weights.
REWRITES = {"softmax-expectation": softmax_expectation, "softmax-last-axis": softmax_last_axis,
            "qdq-nearest-upsample": qdq_nearest_upsample, "qdq-byte-concat": qdq_byte_concat,
            "qdq-silu-lookup": silu_lookup, "qdq-pointwise-matmul": pointwise_integer_matmul,
            "float-conv-weights": float_conv_weights}
#: Rewrites tuned to ONNX Runtime's CPU provider (its NHWC layout for INT8, its blocked-layout float Conv).
CPU_ONLY = frozenset({"softmax-expectation", "qdq-nearest-upsample", "qdq-byte-concat", "qdq-silu-lookup",
                      "qdq-pointwise-matmul", "float-conv-weights"})
_TRIGGERS = frozenset({"Softmax", "Resize", "DequantizeLinear"})


def rewrite_for_cpu(path: Path, *, cpu: bool = True) -> Rewritten | None:
    """The model with every applicable rewrite, serialized; None when nothing applies (load the file as is).
    `cpu` False (a GPU provider) skips the CPU-only rewrites."""
    import onnx

    try:
        head = onnx.load(str(path), load_external_data=False)
    except Exception:  # the session reports an unreadable model properly
        return None
    if not any(n.op_type in _TRIGGERS for n in head.graph.node):
        return None
    if any(t.data_location == onnx.TensorProto.EXTERNAL for t in head.graph.initializer):
        log.debug("%s keeps its weights in external files: graph rewrites skipped", path)
        return None
    applied = {}
    for name, rewrite in REWRITES.items():
        if name in CPU_ONLY and not cpu:
            continue
        try:
            with onnx_graph.transaction(head):  # a rewrite that fails half-way leaves the graph as it was
                count = rewrite(head)
        except Exception as exc:  # a rewrite is an optimisation: never a reason not to run the model
            log.warning("graph rewrite %s skipped on %s: %s", name, path, exc)
            continue
        if count:
            applied[name] = count
    if not applied:
        return None
    native = any(o.domain == ops.DOMAIN for o in head.opset_import)
    library = ops.byte_lookup_library() if native else None
    return Rewritten(head.SerializeToString(), applied, (str(library),) if library else ())
