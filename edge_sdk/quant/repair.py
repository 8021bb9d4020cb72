"""Quantize, gate, and when over budget repair: keep the most sensitive layers in float and try again.

Each form (the TensorRT form, and the CPU form when it is built) is its own artifact, so each is gated and
repaired on its own: attempt 0 quantizes every eligible layer; if the form loses more than the budget, its
layers are ranked by sensitivity in that form (sensitivity.py, on calibration frames) and the worst 1, 2,
3, 4, 6, 9, ... are kept in float until the budget holds, `max_float_layers` is reached, a step lowers the
drop by less than `min_gain` points (more float layers no longer help), or `time_limit_s` has passed (one at a
time while each float layer is a large share of the speed; then half as many again each step). At least one
layer always stays INT8: an "INT8" model with none would be the FP32 model under another name. The CPU form
on a CPU without VNNI first chooses its weight format by measurement (first_attempt).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.quant.forms import ACTIVATION_OPS, FormSpec, ort_spec, quantize_form, trt_spec
from edge_sdk.quant.gate import (
    GateSettings,
    ModelScore,
    Reference,
    block_latency,
    drop_interval,
    drop_points,
    score_candidate,
)
from edge_sdk.quant.phases import Phases
from edge_sdk.quant.placement import GraphPlan, feeding_region, with_activations
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
    weight_format: str = ""  # CPU form: u8s8, u8s8_7bit or u8u8

    def as_dict(self) -> dict[str, Any]:
        return {"float_layers": self.float_layers, "drop": self.drop, "passed": self.passed,
                "map50_95": self.score.map50_95, "map50": self.score.map50, "weight_format": self.weight_format}


@dataclass
class FormResult:
    form: str
    attempts: list[Attempt] = field(default_factory=list)
    sensitivity: list[LayerSensitivity] = field(default_factory=list)
    int8_layers: int = 0  # compute layers quantized in the final attempt
    eligible_layers: int = 0
    drop_interval: tuple[float, float] | None = None  # 90% bootstrap interval of the final attempt's drop
    weight_format: str = ""  # the CPU form's chosen weight format ("" for the TensorRT form)
    format_choice: dict[str, Any] = field(default_factory=dict)  # how it was chosen, when there was a choice
    stopped: str = ""  # why the search ended

    @property
    def final(self) -> Attempt:
        mine = [a for a in self.attempts if a.weight_format == self.weight_format] or self.attempts
        passed = [a for a in mine if a.passed]
        if passed:
            return passed[0]
        return min(mine, key=lambda a: a.drop if a.drop is not None else float("inf"))


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
    min_gain: float = 0.0  # repair stops when a step lowers the drop by less than this
    time_limit_s: float = 0.0  # per form; 0 = none
    cpu_formats: tuple[str, ...] = ("u8s8",)  # CPU form weight formats to choose from (cpu_isa.CpuIsa.formats)
    speed_runs: int = 10  # timed runs per format when choosing one
    phases: Phases | None = None
    cpu_format: str = "u8s8"  # the CPU form's weight format in use
    float_inputs: frozenset[str] = frozenset()  # layers whose input stays float in every form (placement, layer_sqnr.py)
    _inputs: list[np.ndarray] | None = None
    _region: tuple[set[str], set[str]] | None = None

    def spec(self, form: str, float_layers: set[str], *, sensitivity: bool = False) -> FormSpec:
        floats = self.config_float | float_layers
        if form == "trt":  # Q/DQ only on compute inputs: a float layer reads float
            return trt_spec(self.plan, self.op_types, floats)
        extra = ACTIVATION_OPS if sensitivity else None
        region, previous = self._float_input_region()
        return ort_spec(self.plan, self.op_types, with_activations(self.model, floats) | region, int8_silu=self.int8_silu,
                        extra_ops=extra, float_input_layer=self.float_input_layer, weight_format=self.cpu_format,
                        strip_outputs=frozenset(previous))

    def _float_input_region(self) -> tuple[set[str], set[str]]:
        """The CPU form quantizes activations and conv outputs too: the layers' inputs stay float only with the
        nodes computing them and the previous convs' outputs float (placement.feeding_region)."""
        if not self.float_inputs:
            return set(), set()
        if self._region is None:
            self._region = feeding_region(self.model, set(self.float_inputs), set(self.plan.compute))
        return self._region

    def attempt(self, result: FormResult, float_layers: list[str]) -> Attempt:
        index = len(result.attempts)
        path = quantize_form(self.model_path, self.ranges, self.spec(result.form, set(float_layers)),
                             self.work_dir / f"attempt{index}.{result.form}.onnx")
        score = score_candidate(path, self.reference, self.gate)
        drop = drop_points(self.reference.fp32, score)
        passed = drop is not None and drop <= self.budget
        att = Attempt(index, result.form, list(float_layers), path, score, drop, passed, result.weight_format)
        log.info("%s attempt %d (%d layers in float%s): mAP50-95 drop %s, %s", FORM_LABELS[result.form], index,
                 len(float_layers), f", {result.weight_format} weights" if result.weight_format else "",
                 drop if drop is not None else "-", "within budget" if passed else f"over the budget of {self.budget}")
        result.attempts.append(att)
        return att

    def _phase(self, name: str) -> Any:
        return self.phases(name) if self.phases is not None else contextlib.nullcontext()

    def first_attempt(self, result: FormResult) -> Attempt:
        """Attempt 0. For the CPU form on a CPU that offers several weight formats (cpu_isa.py: AVX2 without
        VNNI), one attempt per format, and the format chosen by measurement: within budget first (else within
        0.25 points of the lowest drop), then the fastest."""
        formats = self.cpu_formats if result.form == "ort" else ("",)
        tried: dict[str, Attempt] = {}
        for fmt in formats:
            result.weight_format = fmt
            self.cpu_format = fmt or self.cpu_format
            tried[fmt] = self.attempt(result, [])
        if len(tried) == 1:
            result.weight_format = formats[0]
            return next(iter(tried.values()))
        x = self._sensitivity_inputs()[0]
        lat = block_latency({f: a.path for f, a in tried.items()}, x, self.speed_runs, self.gate.threads)
        inf = float("inf")
        best = min(a.drop if a.drop is not None else inf for a in tried.values())
        pool = [f for f, a in tried.items() if a.passed] or \
               [f for f, a in tried.items() if (a.drop if a.drop is not None else inf) <= best + 0.25]
        chosen = min(pool, key=lambda f: lat[f])
        result.weight_format = self.cpu_format = chosen
        result.format_choice = {
            "candidates": {f: {"drop": a.drop, "passed": a.passed, "latency_ms": lat[f]} for f, a in tried.items()},
            "chosen": chosen,
            "reason": (f"{chosen}: {'within budget' if tried[chosen].passed else 'lowest drop'} and fastest of "
                       f"{', '.join(pool)} (this CPU's U8S8 kernels saturate without VNNI, so full-range U8S8 is not used)")}
        log.info("CPU form weight format: %s", result.format_choice["reason"])
        return tried[chosen]

    def sensitivity_frames(self) -> list[np.ndarray]:
        """The calibration frames (preprocessed) per-layer measurements run on; made once."""
        return self._sensitivity_inputs()

    def _sensitivity_inputs(self) -> list[np.ndarray]:
        if self._inputs is None:
            self._inputs = self.sensitivity_inputs()
        return self._inputs

    def run_form(self, form: str) -> FormResult:
        fixed = self.plan.input_layer if form == "ort" and self.float_input_layer else frozenset()
        candidates = self.plan.quantizable(frozenset(self.config_float) | fixed)
        label = FORM_LABELS[form]
        result = FormResult(form, eligible_layers=len(candidates))
        with self._phase(f"quantize and gate, {label}"):
            att = self.first_attempt(result)
        limit = min(self.max_float_layers, len(candidates) - 1)
        if att.passed:
            result.stopped = "attempt 0 within budget"
        elif not self.repair or limit < 1 or self.reference.objects == 0:
            result.stopped = "build.repair off, build.max_float_layers 0, or no reference objects"
        else:
            deadline = time.monotonic() + self.time_limit_s if self.time_limit_s else None
            log.info("%s over budget: ranking %d layers by quantization sensitivity", label, len(candidates))
            with self._phase(f"sensitivity, {label}"):
                result.sensitivity = rank_layers(
                    self.model_path, self.ranges, lambda others: self.spec(form, others, sensitivity=True), candidates,
                    self._sensitivity_inputs(), threads=self.gate.threads, progress=self.progress, label=label,
                    deadline=deadline)
            with self._phase(f"repair, {label}"):
                result.stopped = self._repair(result, [s.layer for s in result.sensitivity], limit, deadline)
            log.info("%s repair stopped: %s", label, result.stopped)
        result.int8_layers = len(candidates) - len(result.final.float_layers)
        if self.bootstrap:
            with self._phase("bootstrap interval"):
                result.drop_interval = drop_interval(self.reference, result.final.score, self.bootstrap)
            if result.drop_interval is not None:
                log.info("%s: mAP50-95 drop %s, 90%% interval %.2f to %.2f over %d draws of the held-out frames",
                         label, result.final.drop, *result.drop_interval, self.bootstrap)
        return result

    def _repair(self, result: FormResult, ranked: list[str], limit: int, deadline: float | None) -> str:
        """Keep 1, 2, 3, 4, 6, 9, ... of the most sensitive layers in float until within budget; stop at the
        limit, when a step lowers the drop by less than `min_gain` (more float layers no longer help), or at the
        deadline. Returns why it stopped."""
        count = 1
        while True:
            if deadline is not None and time.monotonic() > deadline:
                return f"the time limit of {self.time_limit_s:g} s (build.repair_time_limit_s)"
            if count > len(ranked):
                return f"every ranked layer tried ({len(ranked)} ranked before the time limit)"
            previous = result.attempts[-1]
            att = self.attempt(result, ranked[:count])
            if att.passed:
                return f"within budget with {count} layers in float"
            if count == limit:
                return f"the limit of {limit} layers in float (build.max_float_layers)"
            gain = (previous.drop - att.drop) if previous.drop is not None and att.drop is not None else None
            if gain is not None and gain < self.min_gain:
                return (f"{count} layers in float lowered the drop by {gain:.2f} points, less than build.repair_min_gain "
                        f"{self.min_gain:g}: more float layers no longer help")
            count = min(next_float_count(count), limit)

    def run(self) -> dict[str, FormResult]:
        return {form: self.run_form(form) for form in self.forms}
