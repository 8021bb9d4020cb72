"""Quantize, gate, and when over budget repair: keep the most sensitive layers in float and try again.

Attempt 0 quantizes every eligible layer. If a form loses more than the budget, the layers are ranked by
sensitivity (sensitivity.py, on calibration frames) and the worst 1, 2, 4, ... are kept in float (in both
forms; in the CPU form together with their SiLU) until the budget holds or `max_float_layers` is reached.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.quant.forms import FormSpec, ort_spec, quantize_form, trt_spec
from edge_sdk.quant.gate import GateSettings, ModelScore, Reference, drop_points, score_candidate
from edge_sdk.quant.placement import GraphPlan, with_activations
from edge_sdk.quant.sensitivity import LayerSensitivity, rank_layers
from edge_sdk.quant.stats import TensorRanges

log = logging.getLogger(__name__)


@dataclass
class Attempt:
    index: int
    float_layers: list[str]  # chosen by repair (config and decode-tail exclusions come on top)
    paths: dict[str, Path]  # form -> staged Q/DQ model
    scores: dict[str, ModelScore]
    drops: dict[str, float | None]
    passed: bool

    @property
    def worst_drop(self) -> float:
        values = [d for d in self.drops.values() if d is not None]
        return max(values) if len(values) == len(self.drops) else float("inf")

    def as_dict(self) -> dict[str, Any]:
        return {"float_layers": self.float_layers, "passed": self.passed,
                **{f"{form}_drop": d for form, d in self.drops.items()}}


@dataclass
class RepairJob:
    """Everything one quantize-and-gate search needs."""

    model_path: Path
    model: Any  # onnx.ModelProto of model_path
    ranges: TensorRanges
    plan: GraphPlan
    op_types: list[str]
    config_float: set[str]
    forms: tuple[str, ...]  # "trt" always; "ort" when the CPU runs the ORT form
    int8_silu: bool
    budget: float
    reference: Reference
    gate: GateSettings
    work_dir: Path
    sensitivity_inputs: Callable[[], list[np.ndarray]]
    repair: bool = True
    max_float_layers: int = 8
    progress: bool = True
    attempts: list[Attempt] = field(default_factory=list)
    sensitivity: list[LayerSensitivity] = field(default_factory=list)

    def spec(self, form: str, float_layers: set[str]) -> FormSpec:
        floats = self.config_float | float_layers
        if form == "trt":
            return trt_spec(self.plan, self.op_types, floats)
        return ort_spec(self.plan, self.op_types, with_activations(self.model, floats), int8_silu=self.int8_silu)

    def attempt(self, float_layers: list[str]) -> Attempt:
        index = len(self.attempts)
        paths, scores, drops = {}, {}, {}
        for form in self.forms:
            path = quantize_form(self.model_path, self.ranges, self.spec(form, set(float_layers)),
                                 self.work_dir / f"attempt{index}.{form}.onnx")
            paths[form] = path
            scores[form] = score_candidate(path, self.reference, self.gate)
            drops[form] = drop_points(self.reference.fp32, scores[form])
        passed = all(d is not None and d <= self.budget for d in drops.values())
        att = Attempt(index, list(float_layers), paths, scores, drops, passed)
        log.info("attempt %d (%d layers in float): mAP50-95 drop %s -> %s", index, len(float_layers),
                 ", ".join(f"{f} {d if d is not None else '-'}" for f, d in drops.items()),
                 "within budget" if passed else f"over the budget of {self.budget}")
        self.attempts.append(att)
        return att

    def run(self) -> Attempt:
        """Attempt 0, then repair steps while over budget. Returns the passing attempt or the best one."""
        att = self.attempt([])
        if att.passed or not self.repair or self.max_float_layers == 0:
            return att
        candidates = self.plan.quantizable(frozenset(self.config_float))
        log.info("over budget: ranking %d layers by quantization sensitivity", len(candidates))
        self.sensitivity = rank_layers(self.model_path, self.ranges, self.plan, self.op_types, candidates,
                                       self.sensitivity_inputs(), threads=self.gate.threads, progress=self.progress)
        ranked = [s.layer for s in self.sensitivity]
        count = 1
        while True:
            count = min(count, self.max_float_layers, len(ranked))
            att = self.attempt(ranked[:count])
            if att.passed or count >= min(self.max_float_layers, len(ranked)):
                break
            count *= 2
        if att.passed:
            return att
        return min(self.attempts, key=lambda a: a.worst_drop)
