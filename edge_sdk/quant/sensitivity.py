"""Which layers INT8 hurts most: the output SQNR with only that layer quantized, in a given form.

Each candidate layer is quantized alone (every other one float) and the model's outputs are compared with
FP32 on a few calibration frames (never held-out ones, which stay the gate's). A low SQNR means the layer
alone adds much noise; repair keeps the worst in float. Cost: one quantization and one short run per layer.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.calibration.progress import Progress
from edge_sdk.quant.forms import FormSpec, quantize_form
from edge_sdk.quant.gate import output_sqnr
from edge_sdk.quant.stats import TensorRanges

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LayerSensitivity:
    layer: str
    sqnr_db: float  # output SQNR with only this layer in INT8; lower = more sensitive


def reference_outputs(model_path: Path, inputs: Sequence[np.ndarray], threads: int) -> list[list[np.ndarray]]:
    from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine

    with OnnxRuntimeEngine(model_path, intra_op_threads=threads) as engine:
        return [engine.infer(x) for x in inputs]


def rank_layers(model_path: Path, ranges: TensorRanges, spec_with_float: Callable[[set[str]], FormSpec],
                candidates: list[str], inputs: Sequence[np.ndarray], *, threads: int = 0, progress: bool = True,
                label: str = "", deadline: float | None = None) -> list[LayerSensitivity]:
    """Sensitivity of each candidate, most sensitive first. `spec_with_float(others)` gives the form's spec
    with `others` kept in float. Past `deadline` (time.monotonic()) the layers not yet measured are left out."""
    import onnx

    ref = reference_outputs(model_path, inputs, threads)
    base = onnx.load(str(model_path))
    result: list[LayerSensitivity] = []
    desc = f"layer sensitivity{' (' + label + ')' if label else ''}"
    with tempfile.TemporaryDirectory(prefix="edge-sdk-sens-") as tmp, \
            Progress(len(candidates), desc, unit="layer", enabled=progress) as bar:
        for i, layer in enumerate(candidates):
            if deadline is not None and time.monotonic() > deadline:
                log.warning("sensitivity ranking stopped at the repair time limit: %d of %d layers measured", i,
                            len(candidates))
                break
            spec = spec_with_float(set(candidates) - {layer})
            out = Path(tmp) / f"l{i}.onnx"
            path = one_layer_trt(base, layer, ranges, out) if spec.name == "trt" else None
            if path is None:
                path = quantize_form(model_path, ranges, spec, out)
            result.append(LayerSensitivity(layer, round(output_sqnr(path, inputs, ref, threads), 2)))
            path.unlink()
            bar.update(1)
    return sorted(result, key=lambda s: s.sqnr_db)


def one_layer_trt(model: Any, layer: str, ranges: TensorRanges, out: Path) -> Path | None:
    """The TensorRT form with only `layer` in INT8, written to `out` without onnxruntime.quantization (about 0.5
    CPU-s a layer on the demo model, with ORT's quantizer walking the whole graph each time): a Q/DQ pair on its
    activation input (symmetric INT8, amax / 127, as the form's calibrated scale) and its weights replaced by
    their per-output-channel symmetric INT8 values (round half to even, [-127, 127]), which is what
    DequantizeLinear gives back. None when the layer is not a plain conv/matmul with constant weights and a
    calibrated input (the caller quantizes it the slow way)."""
    import onnx
    from onnx import helper, numpy_helper

    node = next((n for n in model.graph.node if n.name == layer), None)
    weights = {t.name: t for t in model.graph.initializer}
    if node is None or len(node.input) < 2 or node.input[0] not in ranges.ranges or node.input[1] not in weights:
        return None
    m = onnx.ModelProto()
    m.CopyFrom(model)
    target = next(n for n in m.graph.node if n.name == layer)
    x, w_name = target.input[0], target.input[1]
    w = numpy_helper.to_array(weights[w_name]).astype(np.float32)
    if w.ndim < 2:
        return None
    axis = 0 if node.op_type == "Conv" else w.ndim - 1  # output channels: Conv [Cout, ...], MatMul/Gemm [.., Cout]
    amax = np.max(np.abs(w), axis=tuple(a for a in range(w.ndim) if a != axis), keepdims=True)
    scale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    w_q = (np.clip(np.rint(w / scale), -127, 127) * scale).astype(np.float32)
    p = f"{layer}/one_layer"
    m.graph.initializer.extend([numpy_helper.from_array(w_q, f"{p}/w"),
                                numpy_helper.from_array(np.array(max(ranges.amax(x) / 127.0, 1e-8), np.float32),
                                                        f"{p}/x_scale"),
                                numpy_helper.from_array(np.array(0, np.int8), f"{p}/x_zero")])
    at = next(i for i, n in enumerate(m.graph.node) if n.name == layer)  # just before the layer: still topological
    m.graph.node.insert(at, helper.make_node("DequantizeLinear", [f"{p}/x_q", f"{p}/x_scale", f"{p}/x_zero"],
                                             [f"{p}/x_dq"], name=f"{p}/DQ"))
    m.graph.node.insert(at, helper.make_node("QuantizeLinear", [x, f"{p}/x_scale", f"{p}/x_zero"], [f"{p}/x_q"],
                                             name=f"{p}/Q"))
    target.input[0], target.input[1] = f"{p}/x_dq", f"{p}/w"
    onnx.save(m, str(out))
    return out
