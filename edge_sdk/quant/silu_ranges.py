"""The range of a tensor a SiLU reads, fitted to what the SiLU keeps (the CPU form).

In the "ort" form a Conv's output is quantized before its SiLU (QLinearConv needs an output scale; TensorRT
fuses Conv+SiLU and never quantizes that tensor, so its form is left alone). The calibrated range of a
pre-activation is wide on both sides, and wider than it needs to be:

- above: SiLU(x) is within a hair of x for large x, and the SiLU's own output is clipped at its calibrated
  maximum; inputs above the x where SiLU(x) reaches that maximum give the same quantized output, so the
  input range ends there;
- below: SiLU(x) is between SiLU(-T) and 0 for every x < -T (T above 1.28, where SiLU has its minimum).
  With T chosen so that |SiLU(-T)| is half a step of the SiLU's output scale, clamping the input at -T moves
  no output by more than the rounding the output quantization does anyway. The INT8 SiLU (QLinearSigmoid,
  then QLinearMul) needs more: its sigmoid is quantized in steps of 1/255, and only an input whose sigmoid
  rounds to 0 gives exactly 0; a clamp above that point would turn every very negative input into -1 step,
  a bias the next conv sums up (clamping at -6, -4, -3 measured gate drops of 1.23, 1.81, 5.08 against 1.17).
  So T is at least where the sigmoid is 0.4 of its step (6.46): below it the SiLU gives 0 either way.

On the demo model (percentile calibration makes pre-activation ranges symmetric, like [-16.8, 16.6] for a
SiLU whose output reaches 9) the 57 pre-SiLU ranges narrow about 2x; the build's CPU form then passes the gate
with one layer kept in float instead of two, at an output SQNR against FP32 of 36.4 dB instead of 35.0.
"""

from __future__ import annotations

import math
from typing import Any

from edge_sdk import onnx_graph
from edge_sdk.quant.stats import TensorRanges

#: SiLU has its minimum, -0.2785, at x = -1.2785; below it SiLU rises monotonically towards 0.
SILU_MIN_AT = -1.2784645
LEVELS = 255  # UINT8 activations of the CPU form
#: Inputs below -SIGMOID_ZERO_BELOW have a sigmoid under 0.4 of QLinearSigmoid's step (1/255): it rounds to 0.
SIGMOID_ZERO_BELOW = math.log(LEVELS / 0.4 - 1.0)


def silu(x: float) -> float:
    return x / (1.0 + math.exp(-x)) if x >= 0 else x * math.exp(x) / (1.0 + math.exp(x))


def silu_inverse_above(y: float) -> float:
    """The x >= 0 with SiLU(x) = y (y >= 0), by bisection: SiLU is increasing there and x <= y + 1."""
    lo, hi = 0.0, y + 1.0
    for _ in range(64):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if silu(mid) < y else (lo, mid)
    return hi


def clamp_below(half_step: float) -> float | None:
    """The T > 1.28 with |SiLU(-T)| = half_step; None when half a step reaches SiLU's minimum (no clamp)."""
    if half_step >= -silu(SILU_MIN_AT):
        return None
    lo, hi = -SILU_MIN_AT, 100.0
    for _ in range(64):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if -silu(-mid) > half_step else (lo, mid)
    return hi


def silu_inputs(model: Any) -> dict[str, str]:
    """Tensor -> the SiLU's output tensor, for every tensor read only by a Sigmoid and a Mul of it by that
    Sigmoid's output (the exporter's SiLU)."""
    consumers = onnx_graph.consumers(model.graph)
    out: dict[str, str] = {}
    for tensor, readers in consumers.items():
        if len(readers) != 2 or sorted(r.op_type for r in readers) != ["Mul", "Sigmoid"]:
            continue
        sig = next(r for r in readers if r.op_type == "Sigmoid")
        mul = next(r for r in readers if r.op_type == "Mul")
        if sorted(mul.input) == sorted([tensor, sig.output[0]]):
            out[tensor] = mul.output[0]
    return out


def fit_silu_input_ranges(ranges: TensorRanges, model: Any) -> tuple[TensorRanges, int]:
    """`ranges` with each SiLU input's range narrowed as the module explains (never widened); and how many
    ranges changed."""
    fitted = dict(ranges.ranges)
    changed = 0
    for tensor, act in silu_inputs(model).items():
        if tensor not in fitted or act not in fitted:
            continue
        lo, hi = fitted[tensor]
        out_lo, out_hi = fitted[act]
        new_hi = min(hi, silu_inverse_above(out_hi)) if out_hi > 0 else hi
        t = clamp_below((max(out_hi, 0.0) - min(out_lo, 0.0)) / LEVELS / 2)
        new_lo = max(lo, -max(t, SIGMOID_ZERO_BELOW)) if t is not None else lo
        if new_lo < 0 < new_hi and (new_lo, new_hi) != (lo, hi):
            fitted[tensor] = (new_lo, new_hi)
            changed += 1
    return TensorRanges(ranges.method, fitted), changed

