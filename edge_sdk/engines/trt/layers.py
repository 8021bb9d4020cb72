"""Which layers of a built engine run in which precision, from TensorRT's engine inspector.

The builder sets ProfilingVerbosity.DETAILED, so `IEngineInspector.get_engine_information(JSON)` lists every
layer of the built engine (after fusion) with its inputs' and outputs' "Format/Datatype", e.g.

    {"Layers": [{"Name": "/model.0/conv/Conv + /model.0/act/Sigmoid", "LayerType": "CaskConvolution",
                 "Inputs": [{"Name": "images", "Format/Datatype": "Row major linear FP32 format"}],
                 "Outputs": [{"Name": "...", "Format/Datatype": "Channel major FP16 format where channel % 8 == 0"}]}],
     "Bindings": ["images", "output0"]}

A layer's precision here is the type it computes in: INT8 when its activation input or its output is INT8,
else FP16 when either is FP16 (or BF16, FP8), else FP32. The build report lists the count per precision and the
layers not in the precision asked for; `check_precision` refuses an fp32 build that has any FP16 or INT8 layer
(`precision: fp32` never quietly becomes FP16) and an fp16 build with INT8 layers.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from edge_sdk.errors import BuildError

if TYPE_CHECKING:
    import tensorrt as trt

# "Format/Datatype" words -> precision, checked in this order (an INT8 input makes an INT8 layer).
_TYPES = (("int8", "INT8"), ("fp8", "FP8"), ("bf16", "BF16"), ("fp16", "FP16"), ("half", "FP16"), ("fp32", "FP32"),
          ("float", "FP32"), ("int32", "INT32"), ("int64", "INT64"), ("bool", "BOOL"), ("uint8", "UINT8"))
_RANK = {"INT8": 0, "FP8": 1, "FP16": 2, "BF16": 2, "FP32": 3}


def datatype_of(format_datatype: str) -> str:
    """"Channel major FP16 format where channel % 8 == 0" -> "FP16"; "?" when no known type is named."""
    words = set(re.findall(r"[a-z0-9]+", format_datatype.lower()))
    return next((label for word, label in _TYPES if word in words), "?")


@dataclass(frozen=True)
class LayerPrecisions:
    """Precision of each layer of a built engine, and counts per precision."""

    layers: tuple[tuple[str, str, str], ...]  # (name, layer type, precision)
    detailed: bool = True  # False: the engine was built without DETAILED profiling (names only)
    counts: dict[str, int] = field(default_factory=dict)

    def in_precision(self, precision: str) -> list[str]:
        return [name for name, _, p in self.layers if p == precision]

    def describe(self, asked: str | None = None) -> str:
        if not self.detailed:
            return f"{len(self.layers)} layers (precision unknown: built without detailed profiling)"
        counts = ", ".join(f"{n} {p}" for p, n in sorted(self.counts.items(), key=lambda kv: _RANK.get(kv[0], 9)))
        text = f"{len(self.layers)} layers: {counts}"
        if asked in ("fp16", "int8"):
            fp32 = self.in_precision("FP32")
            if fp32:
                shown = ", ".join(fp32[:5]) + (f" and {len(fp32) - 5} more" if len(fp32) > 5 else "")
                text += f"; in FP32: {shown}"
        return text

    def as_dict(self) -> dict[str, object]:
        return {"counts": dict(self.counts), "detailed": self.detailed,
                "layers": [{"name": n, "type": t, "precision": p} for n, t, p in self.layers]}


def _precision(layer: dict[str, object]) -> str:
    types = []
    for side in ("Inputs", "Outputs"):
        tensors = layer.get(side)
        if isinstance(tensors, list) and tensors and isinstance(tensors[0], dict):
            types.append(datatype_of(str(tensors[0].get("Format/Datatype", ""))))
    ranked = [t for t in types if t in _RANK]
    if ranked:
        return min(ranked, key=lambda t: _RANK[t])
    return types[-1] if types else "?"


def parse_engine_information(text: str) -> LayerPrecisions:
    """Parse `get_engine_information(LayerInformationFormat.JSON)`; ValueError if it is not that JSON."""
    data = json.loads(text)
    raw = data.get("Layers") if isinstance(data, dict) else None
    if not isinstance(raw, list):
        raise ValueError("engine information without a Layers list")
    if raw and not isinstance(raw[0], dict):  # names only: built without ProfilingVerbosity.DETAILED
        return LayerPrecisions(tuple((str(n), "?", "?") for n in raw), detailed=False)
    layers = tuple((str(layer.get("Name", "?")), str(layer.get("LayerType", "?")), _precision(layer))
                   for layer in raw if isinstance(layer, dict))
    return LayerPrecisions(layers, True, dict(Counter(p for _, _, p in layers)))


def inspect_layers(engine: trt.ICudaEngine) -> LayerPrecisions:
    """The layer precisions of a deserialized engine (its inspector's JSON)."""
    import tensorrt as trt

    inspector = engine.create_engine_inspector()
    text = inspector.get_engine_information(trt.LayerInformationFormat.JSON)
    return parse_engine_information(str(text))


def check_precision(report: LayerPrecisions, asked: str, where: str) -> None:
    """Refuse a build whose layers are in a lower precision than asked: fp32 with FP16/INT8 layers, fp16 with INT8."""
    if not report.detailed:
        return
    lower = {"fp32": ("FP16", "BF16", "FP8", "INT8"), "fp16": ("INT8", "FP8")}.get(asked, ())
    found = [(p, report.in_precision(p)) for p in lower if report.in_precision(p)]
    if found:
        listed = "; ".join(f"{len(names)} in {p} ({', '.join(names[:3])})" for p, names in found)
        raise BuildError(f"precision {asked} was asked for, but TensorRT built layers in a lower precision: {listed}",
                         where=where, fix="check the model for float16 or Q/DQ tensors, or ask for that precision")
