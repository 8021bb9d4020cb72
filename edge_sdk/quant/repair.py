"""Quantize, gate, and when over budget repair: keep the most sensitive layers in float and try again.

Each form (the TensorRT form, and the CPU form when it is built) is its own artifact, so each is gated and
repaired on its own: attempt 0 quantizes every eligible layer; if the form loses more than the budget, its
layers are ranked by sensitivity in that form (sensitivity.py, on calibration frames) and the worst 1, 2,
3, 4, 6, 9, ... are kept in float until the budget holds or `max_float_layers` is reached (one at a time
while each float layer is a large share of the speed; then half as many again each step). At least one
layer always stays INT8: an "INT8" model with none would be the FP32 model under another name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.quant.forms import FormSpec, ort_spec, quantize_form, trt_spec
from edge_sdk.quant.gate import GateSettings, ModelScore, Reference, drop_interval, drop_points, score_candidate
from edge_sdk.quant.placement import GraphPlan, with_activations
from edge_sdk.quant.report import FORM_LABELS
from edge_sdk.quant.sensitivity import LayerSensitivity, rank_layers
from edge_sdk.quant.stats import TensorRanges

log = logging.getLogger(__name__)


def next_float_count(count: int) -> int:
    """The repair schedule: 1, 2, 3, 4, 6, 9, 13, ... layers in float."""
    return count + 1 if count < 4 else count + count // 2


@dataclass
class Attempt:
    index: int
    form: str
    float_layers: list[str]  # chosen by repair (config and decode-tail exclusions come on top)
    path: Path
    score: ModelScore
    drop: float | None
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        return {"float_layers": self.float_layers, "drop": self.drop, "passed": self.passed,
                "map50_95": self.score.map50_95, "map50": self.score.map50}


@dataclass
class FormResult:
    form: str
    attempts: list[Attempt] = field(default_factory=list)
    sensitivity: list[LayerSensitivity] = field(default_factory=list)
    int8_layers: int = 0  # compute layers quantized in the final attempt
    eligible_layers: int = 0
    drop_interval: tuple[float, float] | None = None  # 90% bootstrap interval of the final attempt's drop

    @property
    def final(self) -> Attempt:
        passed = [a for a in self.attempts if a.passed]
        if passed:
            return passed[0]
        return min(self.attempts, key=lambda a: a.drop if a.drop is not None else float("inf"))


@dataclass
class RepairJob:
    """Everything the quantize-gate-repair search of every form needs."""

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
    float_input_layer: bool = True
    bootstrap: int = 0  # draws for the final attempt's drop interval
    _inputs: list[np.ndarray] | None = None

    def spec(self, form: str, float_layers: set[str], *, sensitivity: bool = False) -> FormSpec:
        floats = self.config_float | float_layers
        if form == "trt":
            return trt_spec(self.plan, self.op_types, floats)
        extra = ("Sigmoid", "Mul") if sensitivity else None
        return ort_spec(self.plan, self.op_types, with_activations(self.model, floats), int8_silu=self.int8_silu,
                        extra_ops=extra, float_input_layer=self.float_input_layer)

    def attempt(self, result: FormResult, float_layers: list[str]) -> Attempt:
        index = len(result.attempts)
        path = quantize_form(self.model_path, self.ranges, self.spec(result.form, set(float_layers)),
                             self.work_dir / f"attempt{index}.{result.form}.onnx")
        score = score_candidate(path, self.reference, self.gate)
        drop = drop_points(self.reference.fp32, score)
        passed = drop is not None and drop <= self.budget
        att = Attempt(index, result.form, list(float_layers), path, score, drop, passed)
        log.info("%s attempt %d (%d layers in float): mAP50-95 drop %s, %s", FORM_LABELS[result.form], index,
                 len(float_layers), drop if drop is not None else "-",
                 "within budget" if passed else f"over the budget of {self.budget}")
        result.attempts.append(att)
        return att

    def run_form(self, form: str) -> FormResult:
        fixed = self.plan.input_layer if form == "ort" and self.float_input_layer else frozenset()
        candidates = self.plan.quantizable(frozenset(self.config_float) | fixed)
        result = FormResult(form, eligible_layers=len(candidates))
        att = self.attempt(result, [])
        limit = min(self.max_float_layers, len(candidates) - 1)
        if not att.passed and self.repair and limit >= 1 and self.reference.objects > 0:
            log.info("%s over budget: ranking %d layers by quantization sensitivity", FORM_LABELS[form], len(candidates))
            if self._inputs is None:
                self._inputs = self.sensitivity_inputs()
            result.sensitivity = rank_layers(
                self.model_path, self.ranges, lambda others: self.spec(form, others, sensitivity=True), candidates,
                self._inputs, threads=self.gate.threads, progress=self.progress, label=FORM_LABELS[form])
            ranked = [s.layer for s in result.sensitivity]
            count = 1
            while True:
                att = self.attempt(result, ranked[:count])
                if att.passed or count == limit:
                    break
                count = min(next_float_count(count), limit)
        result.int8_layers = len(candidates) - len(result.final.float_layers)
        if self.bootstrap:
            result.drop_interval = drop_interval(self.reference, result.final.score, self.bootstrap)
            if result.drop_interval is not None:
                log.info("%s: mAP50-95 drop %s, 90%% interval %.2f to %.2f over %d draws of the held-out frames",
                         FORM_LABELS[form], result.final.drop, *result.drop_interval, self.bootstrap)
        return result

    def run(self) -> dict[str, FormResult]:
        return {form: self.run_form(form) for form in self.forms}
