"""What ships, chosen by measurement: for each target runtime, the precision the build ships, the timings that
chose it, where they were measured, and why. One record per target in the build report (`report["ships"]`)
and in the manifest (`manifest["ships"]`), which is what `edge-sdk run` follows.

    decision = choose_by_speed(TARGET_CPU, "int8", "fp32", {"int8": 18.0, "fp32": 34.0}, min_speedup=1.1,
                               measured_on={"cpu": "Intel Xeon", "isa": "avx512_vnni"})
    record(report, decision)          # report["ships"]["onnxruntime-cpu"] = decision.as_dict()

Targets: "onnxruntime-cpu" (the INT8 CPU form against FP32, measured by `edge-sdk build` on the machine it
runs on: INT8 ships only when at least `build.cpu_min_speedup` times faster) and "tensorrt" (the INT8 engine
against FP16, measured when the engine is built; quant/ship_record.py's `record_in_build` adds that record to a
published build).
A target that ships its baseline is never a silent downgrade: the report's text says it, and `edge-sdk run`
logs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

TARGET_CPU = "onnxruntime-cpu"
TARGET_TRT = "tensorrt"


@dataclass(frozen=True)
class ShipDecision:
    target: str  # TARGET_CPU, TARGET_TRT
    chosen: str  # the precision that ships: "int8", or the baseline
    preferred: str  # what the build tries to ship ("int8")
    baseline: str  # what ships otherwise ("fp32" on ONNX Runtime's CPU, "fp16" on TensorRT)
    speedup: float | None  # baseline latency / preferred latency; None when not measured
    min_speedup: float  # the margin the preferred precision must reach
    latency_ms: dict[str, float | None] = field(default_factory=dict)  # precision -> median latency
    measured_on: dict[str, Any] = field(default_factory=dict)  # {"cpu", "isa"} or {"gpu", "tensorrt"}
    reason: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "chosen": self.chosen, "preferred": self.preferred, "baseline": self.baseline,
                "speedup": self.speedup, "min_speedup": self.min_speedup, "latency_ms": dict(self.latency_ms),
                "measured_on": dict(self.measured_on), "reason": self.reason}


def choose_by_speed(target: str, preferred: str, baseline: str, latency_ms: dict[str, float | None],
                    min_speedup: float, measured_on: dict[str, Any]) -> ShipDecision:
    """`preferred` ships when measured at least `min_speedup` times faster than `baseline`; else the baseline.
    Unmeasured (a latency missing or zero) ships the baseline, unless `min_speedup` is 0 (ship it regardless)."""
    p, b = latency_ms.get(preferred), latency_ms.get(baseline)
    speedup = round(b / p, 3) if p and b else None
    where = ", ".join(str(v) for v in measured_on.values() if v) or "this machine"
    up, base = preferred.upper(), baseline.upper()
    if min_speedup <= 0:
        chosen, reason = preferred, f"{up} ships whatever its speed (the required speedup is 0)"
    elif speedup is None:
        chosen, reason = baseline, f"{up} was not timed against {base}, so it cannot be shown faster: {base} ships"
    elif speedup >= min_speedup:
        chosen, reason = preferred, f"{up} measured {speedup:.2f}x {base} on {where}, at least the {min_speedup:.2f}x required"
    else:
        chosen, reason = baseline, (f"{up} measured {speedup:.2f}x {base} on {where}, below the {min_speedup:.2f}x "
                                    f"required: {base} ships")
    return ShipDecision(target, chosen, preferred, baseline, speedup, min_speedup, dict(latency_ms), dict(measured_on),
                        reason)


def record(report: dict[str, Any], decision: ShipDecision) -> None:
    report.setdefault("ships", {})[decision.target] = decision.as_dict()


def shipped(record_holder: dict[str, Any], target: str) -> dict[str, Any] | None:
    """The decision recorded for `target` in a report or manifest, or None (builds made before this record)."""
    ships = record_holder.get("ships")
    return ships.get(target) if isinstance(ships, dict) else None


def render(report: dict[str, Any]) -> list[str]:
    """One line per target: what ships and why."""
    ships = report.get("ships") or {}
    return [f"ships on {target}: {d['chosen'].upper()} ({d['reason']})" for target, d in ships.items()]
