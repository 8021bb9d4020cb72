"""Which layers INT8 hurts most: the output SQNR with only that layer quantized (TensorRT form).

Each compute node is quantized alone (every other one float) and the model's outputs are compared with
FP32 on a few calibration frames (never held-out ones). A low SQNR means the layer alone adds much noise;
repair keeps the worst in float. Cost: one quantization and one short run per layer.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_sdk.calibration.progress import Progress
from edge_sdk.quant.forms import quantize_form, trt_spec
from edge_sdk.quant.gate import output_sqnr
from edge_sdk.quant.placement import GraphPlan
from edge_sdk.quant.stats import TensorRanges


@dataclass(frozen=True)
class LayerSensitivity:
    layer: str
    sqnr_db: float  # output SQNR with only this layer in INT8; lower = more sensitive


def reference_outputs(model_path: Path, inputs: Sequence[np.ndarray], threads: int) -> list[list[np.ndarray]]:
    from edge_sdk.engines.onnxrt import OnnxRuntimeEngine

    with OnnxRuntimeEngine(model_path, intra_op_threads=threads) as engine:
        return [engine.infer(x) for x in inputs]


def rank_layers(model_path: Path, ranges: TensorRanges, plan: GraphPlan, op_types: list[str], candidates: list[str],
                inputs: Sequence[np.ndarray], *, threads: int = 0, progress: bool = True) -> list[LayerSensitivity]:
    """Sensitivity of each candidate layer, most sensitive first."""
    ref = reference_outputs(model_path, inputs, threads)
    result: list[LayerSensitivity] = []
    with tempfile.TemporaryDirectory(prefix="edge-sdk-sens-") as tmp, \
            Progress(len(candidates), "layer sensitivity", unit="layer", enabled=progress) as bar:
        for i, layer in enumerate(candidates):
            others = set(candidates) - {layer}
            path = quantize_form(model_path, ranges, trt_spec(plan, op_types, others), Path(tmp) / f"l{i}.onnx")
            result.append(LayerSensitivity(layer, round(output_sqnr(path, inputs, ref, threads), 2)))
            path.unlink()
            bar.update(1)
    return sorted(result, key=lambda s: s.sqnr_db)
