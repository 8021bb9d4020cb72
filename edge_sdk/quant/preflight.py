"""INT8 preflight: before any calibration, make the FP32 graph quantizable or refuse it in seconds, with what to do.

    resolved = resolve_model(fp32, cfg.model, strict_opset=True, ...)   # the model's own checks and fixes
    pre = prepare(fp32, resolved, op_types, work)  # then INT8's
    dry_run(pre, {"trt": spec, "ort": spec}, work, threads)   # the tensors calibration must measure
    pre.path      # the prepared float model calibration, the gate and quantization read
    pre.changes   # what was fixed, for the build report

edge_sdk.model.prepare (the one place a model file is fixed) has already removed weights listed as graph
inputs (the face detector of issue 26 had 60 "inputs"), fixed a dynamic or batch-N input where the outputs
allow, and converted an opset below 13 (QuantizeLinear has no `axis` before 13; strict: a model it cannot
convert is refused). On that model, what INT8 adds (each fix the same function, applied all or nothing):
- Constant nodes (e.g. the empty `roi` of a Resize, which made Percentile calibration fail on a zero-size
  array): turned into initializers, which calibration never reads;
- BatchNormalization after a Conv (unfused exports): folded into the conv, as ONNX Runtime does at load;
- unnamed or duplicate node names: named (the quantizer and build.exclude_nodes address nodes by name);
- a float16 model, a batch other than 1, more than one image input, no Conv/MatMul/Gemm: refused.
Then a dry run: both forms are quantized with placeholder ranges and run once in ONNX Runtime, so a graph the
quantizer or the runtime cannot handle is refused now, not after minutes of calibration.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk import onnx_graph
from edge_sdk.errors import EdgeSdkError, ModelError

log = logging.getLogger(__name__)

#: The opset quantization needs: QuantizeLinear/DequantizeLinear with `axis` (per-channel weights).
MIN_OPSET = 13
_FLOAT16 = 10


@dataclass
class Preflight:
    path: Path  # the prepared float model
    model: Any  # its onnx.ModelProto
    changes: list[str] = field(default_factory=list)
    activations: dict[str, int] = field(default_factory=dict)  # activation after compute nodes -> count
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"changes": self.changes, "activations": self.activations, "seconds": round(self.seconds, 2)}


def _refuse(message: str, path: Path, fix: str) -> ModelError:
    return ModelError(f"INT8 preflight: {message}", where=str(path), fix=fix)


def constants_to_initializers(model: Any) -> int:
    """Turn every top-level Constant node holding a tensor into an initializer; returns how many."""
    from onnx import numpy_helper

    moved = []
    for node in model.graph.node:
        if node.op_type != "Constant" or node.domain not in ("", "ai.onnx") or len(node.output) != 1:
            continue
        tensor = next((a.t for a in node.attribute if a.name == "value" and a.HasField("t")), None)
        if tensor is None:
            continue
        moved.append((node, numpy_helper.from_array(numpy_helper.to_array(tensor), node.output[0])))
    if not moved:
        return 0
    gone = {id(n) for n, _ in moved}
    keep = [n for n in model.graph.node if id(n) not in gone]
    del model.graph.node[:]
    model.graph.node.extend(keep)
    model.graph.initializer.extend(t for _, t in moved)
    return len(moved)


def fold_batchnorm(model: Any) -> int:
    """Fold every inference BatchNormalization that alone reads a Conv's output into that Conv's weights and
    bias (what ONNX Runtime does at load in float; the quantizer must see it done, or the BN runs in float
    between the INT8 conv and its activation). The same function, floats rounded differently. Returns how many."""
    from onnx import numpy_helper

    graph = model.graph
    consts = onnx_graph.constant_values(model)
    readers, producers = onnx_graph.consumers(graph), onnx_graph.producers(graph)
    gone: set[int] = set()
    for bn in graph.node:
        conv = producers.get(bn.input[0]) if bn.op_type == "BatchNormalization" else None
        if conv is None or conv.op_type != "Conv" or len(readers.get(conv.output[0], [])) != 1 or len(bn.output) != 1:
            continue
        params = [consts.get(name) for name in bn.input[1:5]]
        w = consts.get(conv.input[1])
        b = consts.get(conv.input[2]) if len(conv.input) > 2 and conv.input[2] else None
        if w is None or any(p is None for p in params) or (len(conv.input) > 2 and conv.input[2] and b is None):
            continue
        gamma, beta, mean, var = (np.asarray(p, np.float64) for p in params)
        factor = gamma / np.sqrt(var + float(onnx_graph.attr(bn, "epsilon", 1e-5)))
        bias = np.zeros(w.shape[0]) if b is None else np.asarray(b, np.float64)
        fused_w = (w.astype(np.float64) * factor.reshape(-1, *([1] * (w.ndim - 1)))).astype(np.float32)
        fused_b = ((bias - mean) * factor + beta).astype(np.float32)
        prefix = f"{bn.output[0]}/folded"
        graph.initializer.extend([numpy_helper.from_array(fused_w, f"{prefix}.weight"),
                                  numpy_helper.from_array(fused_b, f"{prefix}.bias")])
        conv.input[1:] = [f"{prefix}.weight", f"{prefix}.bias"]
        conv.output[0] = bn.output[0]
        gone.add(id(bn))
    if gone:
        keep = [n for n in graph.node if id(n) not in gone]
        del graph.node[:]
        graph.node.extend(keep)
        used = {i for n in graph.node for i in n.input}
        kept = [t for t in graph.initializer if t.name in used]
        del graph.initializer[:]
        graph.initializer.extend(kept)
    return len(gone)


def _image_input(model: Any, path: Path) -> Any:
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise _refuse(f"the model has {len(inputs)} inputs ({', '.join(i.name for i in inputs[:5])}); a detector "
                      "takes one image tensor", path, "export the model with a single image input")
    inp = inputs[0]
    tt = inp.type.tensor_type
    if tt.elem_type == _FLOAT16:
        raise _refuse(f"input {inp.name!r} is float16; calibration needs the FP32 model", path,
                      "point model.path at the FP32 export (INT8 is calibrated from float32 activations)")
    dims = tt.shape.dim
    if dims and dims[0].HasField("dim_value") and dims[0].dim_value not in (0, 1):
        raise _refuse(f"input {inp.name!r} has a fixed batch of {dims[0].dim_value}; calibration and the gate feed "
                      "one frame at a time", path, "re-export with batch 1 (or a dynamic batch)")
    return inp


def placeholder_ranges(model: Any) -> Any:
    """A range for every non-constant tensor of the graph ([-1, 1]; the image [0, 1]): what the dry run
    quantizes with. The values do not matter, only that every tensor the quantizer asks for has one."""
    from edge_sdk.quant.stats import TensorRanges

    consts = {i.name for i in model.graph.initializer}
    names = {t for n in model.graph.node for t in list(n.input) + list(n.output) if t and t not in consts}
    names |= {i.name for i in model.graph.input if i.name not in consts}
    return TensorRanges("minmax", {t: (-1.0, 1.0) for t in names})


def activations_of(model: Any, op_types: list[str]) -> dict[str, int]:
    """How many compute nodes end in each activation (SiLU, HardSwish, Relu, LeakyRelu, ...; 'none')."""
    graph = model.graph
    readers = onnx_graph.consumers(graph)
    counts: Counter[str] = Counter()
    for node in graph.node:
        if node.op_type not in op_types:
            continue
        act = onnx_graph.layer_tail(graph, node, readers)[1]
        name = "none" if not act else act[0].op_type if len(act) == 1 else \
            {"Sigmoid": "SiLU", "HardSigmoid": "HardSwish (x * HardSigmoid)",
             "Add": "HardSwish (x * Clip(x + 3) / 6)"}[act[0].op_type]
        counts[name] += 1
    return dict(sorted(counts.items()))


def prepare(source: Path, resolved: Any, op_types: list[str], work: Path) -> Preflight:
    """The INT8 checks and fixes of the module docstring on the model edge_sdk.model.resolve_model prepared from
    `source` (its fixes are listed first), without the dry run. Raises ModelError when refused."""
    import onnx

    from edge_sdk.quant.placement import name_nodes

    t0 = time.monotonic()
    path = Path(resolved.path)
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # DecodeError, OSError, ...
        raise ModelError(f"cannot read ONNX model: {exc}", where=str(path),
                         fix="re-export the model or check that the file was copied completely") from exc
    changes = list(resolved.prepared.fixes)
    if onnx_graph.opset(model) < MIN_OPSET:
        raise _refuse(f"the model is opset {onnx_graph.opset(model)}; INT8 needs opset {MIN_OPSET}+ (per-channel "
                      "QuantizeLinear)", source, f"re-export with opset {MIN_OPSET} or later")
    _image_input(model, source)
    folded = constants_to_initializers(model)
    if folded:
        changes.append(f"{folded} Constant nodes made initializers (calibration reads no constant)")
    with onnx_graph.transaction(model):
        fused = fold_batchnorm(model)
    if fused:
        changes.append(f"{fused} BatchNormalization nodes folded into their convs")
    if name_nodes(model):
        changes.append("unnamed or duplicate node names given unique names")
    if not any(n.op_type in op_types for n in model.graph.node):
        raise _refuse(f"the model has no {'/'.join(op_types)} node: nothing to run in INT8", source,
                      "check build.op_types, or run this model in FP32 (model.precision: fp32)")
    if len(changes) > len(resolved.prepared.fixes):
        path = work / "fp32.prepared.onnx"
        onnx.save(model, str(path))
    for change in changes:
        log.info("INT8 preflight: %s", change)
    return Preflight(path, model, changes, activations_of(model, op_types), time.monotonic() - t0)


def dry_run(pre: Preflight, specs: dict[str, Any], work: Path, threads: int, *, optional: frozenset[str] = frozenset()
            ) -> set[str]:
    """Quantize each form (name -> FormSpec) with placeholder ranges and run it once on a blank image: a graph
    the quantizer or ONNX Runtime cannot handle is refused now (a form in `optional`, which is not built, only
    adds its tensors when it can be made). Returns the tensors the forms quantize (what calibration must
    measure). Raises ModelError."""
    t0 = time.monotonic()
    ranges = placeholder_ranges(pre.model)
    quantized: set[str] = set()
    for form, spec in specs.items():
        out = work / f"preflight.{form}.onnx"
        try:
            quantized |= _check_form(pre, form, spec, out, ranges, threads)
        except ModelError:
            if form not in optional:
                raise
        finally:
            out.unlink(missing_ok=True)
    pre.seconds += time.monotonic() - t0
    # graph outputs the quantizer renamed (a conv feeding one directly) are measured under their own name
    return (quantized & set(ranges.ranges)) | {o.name for o in pre.model.graph.output}


def _check_form(pre: Preflight, form: str, spec: Any, out: Path, ranges: Any, threads: int) -> set[str]:
    """Quantize one form and run it once; the tensors it quantizes. Raises ModelError."""
    from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
    from edge_sdk.quant.forms import quantize_form
    from edge_sdk.quant.report import FORM_LABELS

    label = FORM_LABELS.get(form, form)
    quantized: set[str] = set()
    try:
        quantize_form(pre.path, ranges, spec, out, quantized=quantized)
        with OnnxRuntimeEngine(out, intra_op_threads=threads) as engine:
            inp = engine.info.inputs[0]  # a blank input of the model's own shape and type (NHWC, uint8 ...)
            engine.infer(np.zeros(tuple(d if isinstance(d, int) else 1 for d in inp.shape), inp.dtype))
    except EdgeSdkError as exc:
        raise _refuse(f"the {label} cannot be made or run: {exc.message[:300]}", pre.path,
                      "keep the failing nodes in float with build.exclude_nodes, or set build.cpu_form: trt "
                      "(no CPU form); the message names the node") from exc
    except Exception as exc:  # ONNX Runtime's own exception types
        raise _refuse(f"the {label} does not run on ONNX Runtime: {str(exc).strip()[:300]}", pre.path,
                      "keep the failing nodes in float with build.exclude_nodes") from exc
    # ORT's quantizer asks for the range of every input and output of a node it quantizes (whether it removes a
    # ReLU/Clip depends on the ranges), so all of those are measured, not only what the placeholder run used
    floats = float_tensors(pre.model)
    for node in pre.model.graph.node:
        if node.op_type in spec.op_types and node.name not in spec.exclude:
            quantized.update(t for t in list(node.input) + list(node.output) if t in floats)
    return quantized


def float_tensors(model: Any) -> set[str]:
    """The non-constant float32 tensors of the graph, by shape inference (a Slice's int64 indices are not)."""
    from onnx import TensorProto, shape_inference

    inferred = shape_inference.infer_shapes(model).graph
    consts = {i.name for i in model.graph.initializer}
    infos = list(inferred.value_info) + list(inferred.input) + list(inferred.output)
    return {v.name for v in infos if v.type.tensor_type.elem_type == TensorProto.FLOAT and v.name not in consts}
