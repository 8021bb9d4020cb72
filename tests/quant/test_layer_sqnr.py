"""Placement by each layer's own INT8 error (edge_sdk/quant/layer_sqnr.py): a layer whose output INT8 cannot
reproduce (a depthwise conv whose input channels span very different ranges, a head fed by an outlier channel)
stays float before the gate; a balanced layer does not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge_sdk.quant import build_int8
from edge_sdk.quant.layer_sqnr import below, layer_sqnr
from edge_sdk.quant.placement import feeding_region, summarize_qdq
from edge_sdk.quant.stats import TensorRanges
from tests.quant.helpers import scene_frames, write_config
from tests.quant.tiny_detector import tiny_detector


def _scaled_depthwise(path: Path, spread: float) -> Path:
    """x [1,4,16,16] -> Mul by per-channel [spread, 1, 1, 1] -> depthwise 3x3 whose weights undo that scale (as
    BatchNormalization folded into a depthwise conv does) -> y. FP32 output: the same for every spread."""
    rng = np.random.default_rng(1)
    gain = np.array([spread, 1.0, 1.0, 1.0], np.float32)
    w = rng.normal(0, 1, (4, 1, 3, 3)).astype(np.float32) / gain[:, None, None, None]
    inits = [numpy_helper.from_array(gain.reshape(1, 4, 1, 1), "gain"), numpy_helper.from_array(w, "dw.weight")]
    nodes = [helper.make_node("Mul", ["x", "gain"], ["t"], name="/scale/Mul"),
             helper.make_node("Conv", ["t", "dw.weight"], ["y"], name="/dw/Conv", group=4, kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1])]
    graph = helper.make_graph(nodes, "dw", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 16, 16])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(("spread", "low"), [(1.0, False), (40.0, True)])
def test_a_depthwise_conv_is_flagged_only_when_its_input_channels_span_very_different_ranges(
        tmp_path: Path, spread: float, low: bool) -> None:
    path = _scaled_depthwise(tmp_path / "dw.onnx", spread)
    frames = [np.random.default_rng(i).uniform(-1, 1, (1, 4, 16, 16)).astype(np.float32) for i in range(2)]
    ranges = TensorRanges("minmax", {"t": (-spread, spread)})
    own = layer_sqnr(path, onnx.load(str(path)), ranges, ["/dw/Conv"], frames)
    # one step of 1/127 of the range: ~40 dB on balanced channels; the three narrow ones get 3 levels at 40x
    assert (own["/dw/Conv"] < 20) is low, own
    assert below(own, 20.0, ["/dw/Conv", "/other/Conv"]) == ({"/dw/Conv": own["/dw/Conv"]} if low else {})


def test_below_never_keeps_every_layer_in_float() -> None:
    assert below({"a": 5.0, "b": 12.0}, 20.0, ["a", "b"]) == {"a": 5.0}
    assert below({"a": 5.0, "b": 30.0}, 20.0, ["a", "b"]) == {"a": 5.0}


def test_the_layer_an_outlier_channel_ruins_stays_float_before_the_gate(tmp_path: Path) -> None:
    # tiny_detector(outlier=True): the head's input has one channel at ~40 that the head ignores; per-tensor INT8
    # leaves the other channels a few levels. Repair found it after a failed attempt (test_build_tiny.py, with this
    # placement off); placement keeps it float from attempt 0.
    model = tiny_detector(tmp_path / "outlier.onnx", outlier=True)
    frames = scene_frames(tmp_path / "frames", 3_100_000, 16)
    _, cfg = write_config(tmp_path, model, frames, build={"max_map_drop": 8, "gate_min_class_objects": 0})
    out = build_int8(cfg, progress=False)
    rep = out.report
    low = rep["layers_in_float"]["low_sqnr"]
    assert list(low) == ["/head/Conv"] and low["/head/Conv"] < 20
    assert rep["decision"] == "pass", rep["decision_detail"]
    assert len(rep["int8"]["trt"]["attempts"]) == 1 and rep["int8"]["trt"]["layers_in_float"] == []
    assert "/head/Conv" in summarize_qdq(onnx.load(str(out.model("trt"))), ["Conv"]).float_compute
    assert "/head/Conv (placement: its own INT8 output at" in (out.folder / "report.txt").read_text()


def test_the_cpu_form_keeps_what_feeds_a_float_layer_float(tmp_path: Path) -> None:
    # The CPU form quantizes conv outputs and activations too: the head's input (c1's SiLU) and c1's output carry
    # the range that ruins the head, so they stay float with it.
    model = onnx.load(str(tiny_detector(tmp_path / "t.onnx")))
    region, previous = feeding_region(model, {"/head/Conv"}, {"/c0/Conv", "/c1/Conv", "/head/Conv"})
    assert region == {"/c1/Sigmoid", "/c1/Mul"} and previous == {"/c1/Conv"}
    assert feeding_region(model, {"/c0/Conv"}, {"/c0/Conv", "/c1/Conv", "/head/Conv"}) == (set(), set())
