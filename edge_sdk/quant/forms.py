"""The two Q/DQ forms, made with onnxruntime.quantization.quantize_static from one set of ranges.

- "trt": what TensorRT's explicit quantization consumes. Symmetric INT8 activations (zero point 0,
  scale amax/127), per-channel symmetric INT8 weights as Q/DQ pairs on the float weights (TensorRT
  8.6 and 10.x fold them), float bias, Q/DQ only on the inputs of the compute nodes (Conv, MatMul, Gemm);
  outputs are not quantized, so Conv+SiLU, the residual Add and the head stay as TensorRT fuses them. A
  separate Q/DQ pair per consumer (DedicatedQDQPair) keeps float consumers of a tensor (the C2f Concat,
  the residual Add) reading float. On ONNX Runtime's CPU this form runs as float convs fed by
  dequantized tensors: correct, and slower than FP32.
- "ort": what ONNX Runtime's CPU integer kernels accelerate (QLinearConv, QLinearSigmoid, QLinearMul,
  QLinearConcat, QLinearAdd on AVX-512 VNNI / AVX2). Asymmetric UINT8 activations, per-channel symmetric
  INT8 weights, INT32 bias, Conv outputs quantized (QLinearConv needs an output scale) over a range fitted
  to what their SiLU keeps (silu_ranges.py), optionally the SiLU and the C2f joins in INT8. Ops that only
  copy bytes (Concat, the C2f Slice/Split, MaxPool, Resize) get one range for all the tensors they connect,
  so ONNX Runtime runs them on UINT8 without requantizing,
  and the input layer (the stem conv on the image) stays float (see placement). The decode tail stays
  float, and the Q/DQ on the logits that leave the final convs are removed, in both forms.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.errors import BuildError
from edge_sdk.quant.placement import GraphPlan, float_for_other_consumers, float_inputs_of, strip_qdq_on
from edge_sdk.quant.silu_ranges import fit_silu_input_ranges
from edge_sdk.quant.stats import ORT_METHOD_NAMES, TensorRanges

log = logging.getLogger(__name__)

#: Ops the "ort" form also runs in INT8 when cpu_int8_silu is on: the activations (SiLU = Sigmoid * x, hard-swish,
#: ReLU and Clip, which ONNX Runtime folds into the conv's output range, LeakyReLU), the C2f joins, SPPF, FPN.
ACTIVATION_OPS = ("Sigmoid", "Mul", "HardSigmoid", "HardSwish", "Relu", "Clip", "LeakyRelu")
ORT_EXTRA_OPS = (*ACTIVATION_OPS, "Add", "Concat", "MaxPool", "Resize", "Split", "Slice")

#: Ops whose output holds bytes of their input(s): the data inputs they share one range with (None: all inputs).
COPY_OPS: dict[str, int | None] = {"Concat": None, "Slice": 1, "Split": 1, "MaxPool": 1, "Resize": 1}


@dataclass(frozen=True)
class FormSpec:
    name: str  # "trt", "ort", "naive"
    op_types: tuple[str, ...]
    exclude: frozenset[str]
    strip_outputs_of: frozenset[str]  # compute nodes whose output Q/DQ are removed (logits)
    float_inputs: frozenset[str] = frozenset()  # nodes kept in float that must read float activations
    shared_copy_ranges: bool = False  # one range for the tensors a copy op connects: no requantization
    fit_silu_inputs: bool = False  # pre-SiLU ranges narrowed to what the SiLU keeps (silu_ranges.py)
    weight_format: str = "u8s8"  # ort form: u8s8, u8s8_7bit or u8u8 (cpu_isa.py: what this CPU sums exactly)

    def describe(self) -> dict[str, Any]:
        return {"form": self.name, "op_types": list(self.op_types), "nodes_in_float": sorted(self.exclude),
                "weight_format": self.weight_format}


def trt_spec(plan: GraphPlan, op_types: list[str], float_nodes: set[str]) -> FormSpec:
    return FormSpec("trt", tuple(op_types), frozenset(float_nodes) | plan.decode_tail, frozenset())


def ort_spec(plan: GraphPlan, op_types: list[str], float_nodes: set[str], *, int8_silu: bool,
             extra_ops: tuple[str, ...] | None = None, float_input_layer: bool = True,
             weight_format: str = "u8s8", strip_outputs: frozenset[str] = frozenset()) -> FormSpec:
    """extra_ops overrides the ops quantized besides `op_types` (sensitivity runs use just the activations);
    strip_outputs: compute nodes whose outputs stay float besides the final ones (placement.feeding_region)."""
    extra = extra_ops if extra_ops is not None else (ORT_EXTRA_OPS if int8_silu else ())
    ops = tuple(op_types) + tuple(extra)
    floats = frozenset(float_nodes) | (plan.input_layer if float_input_layer else frozenset())
    return FormSpec("ort", ops, floats | plan.decode_tail, plan.final_compute | strip_outputs, floats,
                    shared_copy_ranges=any(op in COPY_OPS for op in ops), fit_silu_inputs=True,
                    weight_format=weight_format)


@contextlib.contextmanager
def _quiet_ort_logging() -> Iterator[None]:
    """quantize_static logs its 'consider pre-processing' advice on the root logger; keep it out of reports."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _quantize_args(spec: FormSpec) -> dict[str, Any]:
    from onnxruntime.quantization import QuantFormat, QuantType

    if spec.name == "trt":
        return dict(quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, op_types_to_quantize=list(spec.op_types),
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True,
                                   "OpTypesToExcludeOutputQuantization": list(spec.op_types),
                                   "DedicatedQDQPair": True, "AddQDQPairToWeight": True, "QuantizeBias": False,
                                   "QDQKeepRemovableActivations": True})
    if spec.name == "ort":
        # u8s8_7bit: INT8 weights in [-64, 63] (reduce_range), so AVX2's saturating pair sums never overflow;
        # u8u8: UINT8 weights, which ONNX Runtime multiplies through a kernel that widens first (cpu_isa.py).
        u8u8 = spec.weight_format == "u8u8"
        return dict(quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QUInt8 if u8u8 else QuantType.QInt8, op_types_to_quantize=list(spec.op_types),
                    reduce_range=spec.weight_format == "u8s8_7bit",
                    extra_options={"ActivationSymmetric": False, "WeightSymmetric": not u8u8})
    if spec.name == "naive":
        # quantize_static's defaults: every op it knows, per-tensor weights (Ultralytics-style full INT8).
        return dict(quant_format=QuantFormat.QDQ)
    raise ValueError(f"unknown form {spec.name!r}")


def quantize_form(model_path: Path, ranges: TensorRanges, spec: FormSpec, out_path: Path, *,
                  quantized: set[str] | None = None) -> Path:
    """Write the Q/DQ model of `spec` to `out_path` (not atomic: callers write into a staging folder).
    `quantized`, when given, receives the tensors the quantizer asked ranges for (before the clean-ups)."""
    import onnx

    with tempfile.TemporaryDirectory(prefix="edge-sdk-quant-") as tmp:
        raw = Path(tmp) / "qdq.onnx"
        try:
            if spec.fit_silu_inputs or spec.shared_copy_ranges:  # both read the float graph: load it once
                fp32 = onnx.load(str(model_path), load_external_data=False)
                if spec.fit_silu_inputs:
                    ranges = fit_silu_input_ranges(ranges, fp32)[0]
                if spec.shared_copy_ranges:
                    ranges = share_copy_ranges(ranges, fp32, spec.exclude, spec.op_types)
            with _quiet_ort_logging():
                _quantize_static(model_path, raw, ranges, spec, Path(tmp))
        except Exception as exc:  # onnxruntime.quantization raises ValueError, RuntimeError, KeyError, ...
            raise BuildError(f"onnxruntime.quantization failed ({spec.name} form): {type(exc).__name__}: {exc}",
                             where=str(model_path)) from exc
        model = onnx.load(str(raw))
        if quantized is not None:
            quantized.update(n.input[0] for n in model.graph.node if n.op_type == "QuantizeLinear")
        if spec.name == "trt":
            float_for_other_consumers(model, list(spec.op_types))
        if spec.strip_outputs_of:
            tensors = {o for n in model.graph.node if n.name in spec.strip_outputs_of for o in n.output}
            strip_qdq_on(model, tensors)
        if spec.float_inputs:
            float_inputs_of(model, set(spec.float_inputs))
        _copy_metadata(model_path, model)
        onnx.save(model, str(out_path))
    return out_path


def share_copy_ranges(ranges: TensorRanges, model: Any, exclude: frozenset[str],
                      op_types: tuple[str, ...]) -> TensorRanges:
    """The same statistics, with the tensors joined by quantized copy ops widened to one common range.

    A Concat's inputs and output, a Slice's or Split's input and outputs, a MaxPool's or Resize's input and
    output: connected through each other (the C2f Slice -> bottleneck -> Concat chains), each group gets the
    union of its ranges. ONNX Runtime then drops the Q/DQ around these ops and moves UINT8 bytes instead of
    dequantizing, copying floats and requantizing (TensorRT wants equal scales around a Concat for the same
    reason). Costs a little resolution on the narrower tensors of a group.
    """
    parent: dict[str, str] = {}

    def root(t: str) -> str:
        while parent.setdefault(t, t) != t:
            t = parent[t]
        return t

    out = dict(ranges.ranges)
    for node in model.graph.node:
        if node.op_type not in COPY_OPS or node.op_type not in op_types or node.name in exclude:
            continue
        data = COPY_OPS[node.op_type]
        inputs = list(node.input) if data is None else list(node.input[:data])
        names = [t for t in inputs + list(node.output) if t in out]
        for t in names[1:]:
            parent[root(t)] = root(names[0])
    groups: dict[str, list[str]] = {}
    for t in list(parent):
        groups.setdefault(root(t), []).append(t)
    for members in groups.values():
        lo, hi = min(out[t][0] for t in members), max(out[t][1] for t in members)
        for t in members:
            out[t] = (lo, hi)
    return TensorRanges(ranges.method, out)


def ranges_via_cache_supported() -> bool:
    """Whether this onnxruntime's quantize_static reads ranges from a calibration cache (added in 2026)."""
    import inspect

    from onnxruntime.quantization import quantize_static

    return "calibration_cache_path" in inspect.signature(quantize_static).parameters


def _quantize_static(model_path: Path, raw: Path, ranges: TensorRanges, spec: FormSpec, tmp: Path,
                     via_cache: bool | None = None) -> None:
    """quantize_static with our ranges. Newer onnxruntime reads them from its calibration cache; older ones
    (1.17+) get them as TensorQuantOverrides rmin/rmax over a one-frame calibration that they replace."""
    from onnxruntime.quantization import CalibrationMethod, quantize_static

    args = _quantize_args(spec)
    common = dict(nodes_to_exclude=sorted(spec.exclude), **{k: v for k, v in args.items() if k != "extra_options"})
    extra = dict(args.get("extra_options", {}))
    if via_cache if via_cache is not None else ranges_via_cache_supported():
        cache = ranges.write_ort_cache(tmp / "ranges.json")
        quantize_static(str(model_path), str(raw), None, extra_options=extra,
                        calibrate_method=CalibrationMethod[ORT_METHOD_NAMES[ranges.method]],
                        calibration_cache_path=str(cache), **common)
        return
    extra["TensorQuantOverrides"] = {name: [{"rmin": np.float32(lo), "rmax": np.float32(hi)}]
                                     for name, (lo, hi) in ranges.ranges.items()}
    quantize_static(str(model_path), str(raw), _ZerosReader(model_path), extra_options=extra,
                    calibrate_method=CalibrationMethod.MinMax, **common)


class _ZerosReader:
    """One all-zero input: the calibration it feeds is replaced by the TensorQuantOverrides."""

    def __init__(self, model_path: Path) -> None:
        import onnx

        graph = onnx.load(str(model_path), load_external_data=False).graph
        inits = {i.name for i in graph.initializer}
        inp = next(i for i in graph.input if i.name not in inits)
        shape = [d.dim_value or 1 for d in inp.type.tensor_type.shape.dim]
        self._feed: dict[str, np.ndarray] | None = {inp.name: np.zeros(shape, np.float32)}

    def get_next(self) -> dict[str, np.ndarray] | None:
        feed, self._feed = self._feed, None
        return feed

    def __iter__(self) -> _ZerosReader:
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        feed = self.get_next()
        if feed is None:
            raise StopIteration
        return feed


def _copy_metadata(src: Path, model: Any) -> None:
    """Keep the FP32 model's metadata_props (class names, imgsz, stride) in the Q/DQ model."""
    import onnx

    props = {p.key: p.value for p in onnx.load(str(src), load_external_data=False).metadata_props}
    have = {p.key for p in model.metadata_props}
    for k, v in props.items():
        if k not in have:
            p = model.metadata_props.add()
            p.key, p.value = k, v
