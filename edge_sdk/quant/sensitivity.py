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
    ref = reference_outputs(model_path, inputs, threads)
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
            path = quantize_form(model_path, ranges, spec, Path(tmp) / f"l{i}.onnx")
            result.append(LayerSensitivity(layer, round(output_sqnr(path, inputs, ref, threads), 2)))
            path.unlink()
            bar.update(1)
    return sorted(result, key=lambda s: s.sqnr_db)
