"""Pre-SiLU ranges of the CPU form fitted to what the SiLU keeps (edge_sdk/quant/silu_ranges.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from edge_sdk.quant.forms import ort_spec, quantize_form, trt_spec
from edge_sdk.quant.placement import plan_graph
from edge_sdk.quant.silu_ranges import (
    LEVELS,
    SIGMOID_ZERO_BELOW,
    clamp_below,
    fit_silu_input_ranges,
    silu,
    silu_inputs,
    silu_inverse_above,
)
from edge_sdk.quant.stats import TensorRanges
from tests.quant.tiny_detector import tiny_detector

OPS = ["Conv"]


@pytest.mark.parametrize("half_step", [0.004, 0.018, 0.1])
def test_the_clamp_moves_no_output_by_more_than_half_a_step(half_step: float) -> None:
    t = clamp_below(half_step)
    assert t is not None and t > 1.28
    below = np.linspace(-80.0, -t, 20001)
    worst = max(abs(silu(float(x)) - silu(-t)) for x in below)
    assert worst <= half_step + 1e-9
    # and it is the tightest such clamp: 10% closer to zero moves some output by more than half a step
    assert max(abs(silu(float(x)) - silu(-0.9 * t)) for x in below) > half_step


def test_no_clamp_when_half_a_step_reaches_the_silu_minimum() -> None:
    assert clamp_below(0.3) is None


@pytest.mark.parametrize("y", [0.01, 1.0, 8.966, 40.0])
def test_silu_inverse_above(y: float) -> None:
    x = silu_inverse_above(y)
    assert x >= 0 and silu(x) == pytest.approx(y, abs=1e-9)


def _symmetric_ranges(path: Path, frames: int = 16) -> tuple[TensorRanges, list[np.ndarray], list[np.ndarray]]:
    """Every tensor's min/max over random frames, the SiLU inputs made symmetric (-a, a) as the percentile
    calibration makes them; the frames and their FP32 outputs."""
    model = onnx.load(str(path))
    names = [t for n in model.graph.node for t in n.output if t != "output0"]
    model.graph.output.extend([onnx.helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None) for t in names])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    xs = [rng.random((1, 3, 64, 64), dtype=np.float32) for _ in range(frames)]
    outs = [dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {"images": x}))) for x in xs]
    ranges = {t: (float(min(o[t].min() for o in outs)), float(max(o[t].max() for o in outs))) for t in outs[0]}
    for t in silu_inputs(model):
        a = max(abs(v) for v in ranges[t])
        ranges[t] = (-a, a)
    ranges["images"] = (0.0, 1.0)
    return TensorRanges("percentile", ranges), xs, [o["output0"] for o in outs]


def test_only_silu_inputs_are_narrowed(tmp_path: Path) -> None:
    path = tiny_detector(tmp_path / "t.onnx")
    model = onnx.load(str(path))
    assert silu_inputs(model) == {"c0_out": "c0_act", "c1_out": "c1_act"}  # not the tail's Sigmoid -> Mul by a constant
    ranges, _, _ = _symmetric_ranges(path)
    wide = dict(ranges.ranges, c0_out=(-30.0, 30.0), c0_act=(-0.2785, 4.0))
    fitted, changed = fit_silu_input_ranges(TensorRanges("percentile", wide), model)
    assert changed == 2
    lo, hi = fitted.ranges["c0_out"]
    t = clamp_below(4.2785 / LEVELS / 2)
    assert t is not None and lo == pytest.approx(-max(t, SIGMOID_ZERO_BELOW)) and hi == pytest.approx(silu_inverse_above(4.0))
    for name, rng in wide.items():
        if name not in ("c0_out", "c1_out"):
            assert fitted.ranges[name] == rng, name
        new_lo, new_hi = fitted.ranges[name]
        assert rng[0] <= new_lo <= new_hi <= rng[1], name  # never widened
    narrow = dict(wide, c0_out=(-1.0, 2.0))  # already inside what the SiLU keeps: left as it is
    assert fit_silu_input_ranges(TensorRanges("percentile", narrow), model)[0].ranges["c0_out"] == (-1.0, 2.0)


def _snr(ref: list[np.ndarray], got: list[np.ndarray]) -> float:
    return float(10 * np.log10(sum((r ** 2).sum() for r in ref) / sum(((r - g) ** 2).sum() for r, g in zip(ref, got))))


def test_cpu_form_quantizes_the_fitted_range_and_gets_closer_to_fp32(tmp_path: Path) -> None:
    path = tiny_detector(tmp_path / "t.onnx")
    ranges, xs, ref = _symmetric_ranges(path)
    plan = plan_graph(onnx.load(str(path)), OPS)
    spec = ort_spec(plan, OPS, set(), int8_silu=True)
    assert spec.fit_silu_inputs and not trt_spec(plan, OPS, set()).fit_silu_inputs
    snr = {}
    for fit in (True, False):
        out = quantize_form(path, ranges, dataclasses.replace(spec, fit_silu_inputs=fit), tmp_path / f"{fit}.onnx")
        model = onnx.load(str(out))
        inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
        q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "c1_out")
        lo, hi = fit_silu_input_ranges(ranges, onnx.load(str(path)))[0].ranges["c1_out"] if fit else ranges.ranges["c1_out"]
        assert float(inits[q.input[1]]) == pytest.approx((hi - lo) / LEVELS, rel=1e-5)
        sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        snr[fit] = _snr(ref, [sess.run(None, {"images": x})[0] for x in xs])
    assert snr[True] > snr[False] + 0.3, snr


def test_very_negative_inputs_still_give_exactly_zero_in_int8(tmp_path: Path) -> None:
    """QLinearSigmoid quantizes the sigmoid in steps of 1/255: a clamp where it has not yet rounded to 0 (e.g.
    at -5.76, what half an output step alone allows) turns every very negative input into -1 output step."""
    from onnx import TensorProto, helper

    one = numpy_helper.from_array(np.ones((1, 1, 1, 1), np.float32), "w")
    zero = numpy_helper.from_array(np.zeros(1, np.float32), "b")
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["pre"], name="/c0/Conv"),
             helper.make_node("Sigmoid", ["pre"], ["sig"], name="/c0/Sigmoid"),
             helper.make_node("Mul", ["pre", "sig"], ["act"], name="/c0/Mul"),
             helper.make_node("Conv", ["act", "w", "b"], ["y"], name="/c1/Conv"),
             helper.make_node("Add", ["y", "b"], ["out"], name="/tail/Add")]  # the logits leave the last conv float
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 1, 4, 4])], [one, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    path = tmp_path / "silu.onnx"
    onnx.save(model, str(path))
    ranges = TensorRanges("percentile", {"x": (-20.0, 20.0), "pre": (-20.0, 20.0), "sig": (0.0, 1.0),
                                         "act": (-0.2785, 9.0), "y": (-0.2785, 9.0),
                                         "out": (-0.2785, 9.0)})
    assert fit_silu_input_ranges(ranges, model)[0].ranges["pre"][0] == pytest.approx(-SIGMOID_ZERO_BELOW)
    spec = ort_spec(plan_graph(model, OPS), OPS, set(), int8_silu=True, float_input_layer=False)
    out = quantize_form(path, ranges, spec, tmp_path / "q.onnx")
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert {n.op_type for n in onnx.load(str(out)).graph.node} >= {"QuantizeLinear", "DequantizeLinear"}
    for x in (-7.0, -12.0, -19.0):
        y = sess.run(None, {"x": np.full((1, 1, 4, 4), x, np.float32)})[0]
        assert np.all(y == 0.0), (x, y.ravel()[:3])
