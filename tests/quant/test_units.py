"""Units of the INT8 step: TensorRT cache text, the vectorised entropy search, Q/DQ placement helpers, metrics."""

from __future__ import annotations

import contextlib
import io
import struct
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnxruntime.quantization.calibrate import HistogramCollector

from edge_sdk.decode.base import Detections
from edge_sdk.engines.trt.calibrator import lib_version_number, read_calibration_cache
from edge_sdk.engines.trt.version import parse_version
from edge_sdk.quant.entropy import QuietHistogramCollector
from edge_sdk.quant.forms import ort_spec, quantize_form, trt_spec
from edge_sdk.quant.metrics import coco_images, coco_map, detections_to_annotations, detections_to_results, sqnr_db
from edge_sdk.quant.placement import match_nodes, plan_graph, summarize_qdq
from edge_sdk.quant.stats import TensorRanges
from edge_sdk.quant.trt_cache import cache_text, version_number, write_cache
from tests.quant.tiny_detector import tiny_detector

OPS = ["Conv", "MatMul", "Gemm"]


@pytest.mark.parametrize("version", ["8.6.1", "8.6.2", "10.3.0", "10.13.0"])
def test_trt_cache_header_and_scales_match_tensorrts_numbering(tmp_path: Path, version: str) -> None:
    assert version_number(version) == lib_version_number(parse_version(version))
    ranges = TensorRanges("minmax", {"images": (0.0, 1.0), "/m/Conv_output_0": (-3.5, 12.7), "zero": (0.0, 0.0)})
    text = cache_text(ranges, version)
    lines = text.splitlines()
    assert lines[0] == f"TRT-{version_number(version)}-EntropyCalibration2"
    assert "images: " + struct.pack(">f", 1.0 / 127).hex() in lines
    _, scales = read_calibration_cache(write_cache(ranges, version, tmp_path))
    assert scales["/m/Conv_output_0"] == pytest.approx(12.7 / 127, rel=1e-6)
    assert scales["zero"] > 0  # TensorRT refuses zero scales


def test_vectorised_entropy_search_matches_onnxruntime() -> None:
    rng = np.random.default_rng(1)
    batches = [{"a": (rng.standard_normal(30000) * 2).astype(np.float32),
                "b": np.maximum(rng.standard_cauchy(8000), -0.3).astype(np.float32)} for _ in range(2)]
    ours = QuietHistogramCollector("entropy", False, 1024, 128, 99.99, "same")
    ort = HistogramCollector("entropy", False, 1024, 128, 99.99, "same")
    with contextlib.redirect_stdout(io.StringIO()):
        for b in batches:
            ours.collect(b)
            ort.collect(b)
        expected = ort.compute_collection_result()
    got = ours.compute_collection_result()
    for name in expected:
        assert got[name][0] == expected[name][0] and got[name][1] == expected[name][1]
    assert got["b"][1] < batches[0]["b"].max()  # entropy clipped the long tail


def test_plan_finds_the_decode_tail_and_final_convs(tmp_path: Path) -> None:
    model = onnx.load(str(tiny_detector(tmp_path / "t.onnx")))
    plan = plan_graph(model, OPS)
    assert plan.compute == ("/c0/Conv", "/c1/Conv", "/head/Conv")
    assert plan.final_compute == {"/head/Conv"}
    assert {"/tail/Reshape", "/tail/Split", "/tail/box/Mul", "/tail/Concat"} <= plan.decode_tail
    assert "/c1/Mul" not in plan.decode_tail
    matched, unmatched = match_nodes(["/c*/Conv", "/zzz"], [n.name for n in model.graph.node])
    assert matched == {"/c0/Conv", "/c1/Conv"} and unmatched == ["/zzz"]


def test_forms_place_qdq_as_documented(tmp_path: Path) -> None:
    path = tiny_detector(tmp_path / "t.onnx")
    model = onnx.load(str(path))
    plan = plan_graph(model, OPS)
    rng = np.random.default_rng(0)
    names = {t for n in model.graph.node for t in list(n.input) + list(n.output)} - {i.name for i in model.graph.initializer}
    ranges = TensorRanges("minmax", {n: (float(-rng.uniform(0, 2)), float(rng.uniform(0.5, 5))) for n in names})
    trt = onnx.load(str(quantize_form(path, ranges, trt_spec(plan, OPS, set()), tmp_path / "trt.onnx")))
    s = summarize_qdq(trt, OPS)
    assert s.quantized == ("/c0/Conv", "/c1/Conv", "/head/Conv")
    assert s.activation_dq_consumers == {"Conv": 3}  # only compute inputs; the SiLU and the tail read float
    assert s.activation_zero_points_zero and s.activation_types == ("int8",) and s.weights_per_channel
    scale = {i.name: onnx.numpy_helper.to_array(i) for i in trt.graph.initializer}
    q_in = next(n for n in trt.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == "c1_act")
    assert float(scale[q_in.input[1]]) == pytest.approx(max(abs(x) for x in ranges.ranges["c1_act"]) / 127, rel=1e-6)
    # Biases stay float (TensorRT fuses them); weights keep a float Q -> DQ pair that TensorRT folds.
    conv = next(n for n in trt.graph.node if n.name == "/c0/Conv")
    assert conv.input[2] in scale and scale[conv.input[2]].dtype == np.float32

    ort = onnx.load(str(quantize_form(path, ranges, ort_spec(plan, OPS, set(), int8_silu=True), tmp_path / "ort.onnx")))
    s2 = summarize_qdq(ort, OPS)
    assert s2.activation_types == ("uint8",) and s2.quantized == ("/c1/Conv", "/head/Conv")
    assert s2.float_compute == ("/c0/Conv",)  # the input layer stays float in the CPU form
    keep = summarize_qdq(onnx.load(str(quantize_form(path, ranges, ort_spec(plan, OPS, set(), int8_silu=True,
                                                                            float_input_layer=False),
                                                     tmp_path / "all.onnx"))), OPS)
    assert keep.quantized == s.quantized
    producers = {o: n for n in ort.graph.node for o in n.output}
    reshape = next(n for n in ort.graph.node if n.name == "/tail/Reshape")
    assert producers[reshape.input[0]].name == "/head/Conv"  # the logits leave the head conv in float
    floated = onnx.load(str(quantize_form(path, ranges, ort_spec(plan, OPS, {"/c1/Conv", "/c1/Sigmoid", "/c1/Mul"},
                                                                  int8_silu=True), tmp_path / "f.onnx")))
    fprod = {o: n for n in floated.graph.node for o in n.output}
    c1 = next(n for n in floated.graph.node if n.name == "/c1/Conv")
    assert fprod[c1.input[0]].op_type == "Mul"  # a layer kept in float reads the float SiLU output, not a DQ


def test_coco_map_of_identical_and_shifted_detections() -> None:
    boxes = np.array([[10, 10, 50, 60], [100, 100, 180, 150]], np.float32)
    ref = [Detections(boxes, np.array([0.9, 0.8], np.float32), np.array([0, 1]))]
    gt = {"images": coco_images(1, 640, 640), "annotations": detections_to_annotations(ref),
          "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}
    assert coco_map(gt, detections_to_results(ref)).map50_95 == pytest.approx(100.0)
    shifted = [Detections(boxes + 4, ref[0].scores, ref[0].class_ids)]
    res = coco_map(gt, detections_to_results(shifted))
    assert res.map50 == pytest.approx(100.0) and res.map50_95 is not None and res.map50_95 < 90
    assert coco_map(gt, []).map50_95 == 0.0
    empty = {**gt, "annotations": []}
    assert coco_map(empty, detections_to_results(ref)).map50_95 is None
    assert sqnr_db(100.0, 1.0) == 20.0 and sqnr_db(1.0, 0.0) is None


@pytest.mark.parametrize("form", ["trt", "ort"])
def test_older_onnxruntime_path_gives_the_same_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    """ONNX Runtime before calibration_cache_path gets the ranges as TensorQuantOverrides: same Q/DQ model."""
    import edge_sdk.quant.forms as forms

    path = tiny_detector(tmp_path / "t.onnx")
    model = onnx.load(str(path))
    plan = plan_graph(model, OPS)
    rng = np.random.default_rng(3)
    names = {t for n in model.graph.node for t in list(n.input) + list(n.output)} - {i.name for i in model.graph.initializer}
    ranges = TensorRanges("entropy", {n: (float(-rng.uniform(0, 2)), float(rng.uniform(0.5, 5))) for n in names})
    spec = trt_spec(plan, OPS, set()) if form == "trt" else ort_spec(plan, OPS, set(), int8_silu=True)
    assert forms.ranges_via_cache_supported()  # this ONNX Runtime has both paths
    new = onnx.load(str(quantize_form(path, ranges, spec, tmp_path / "new.onnx")))
    monkeypatch.setattr(forms, "ranges_via_cache_supported", lambda: False)
    old = onnx.load(str(quantize_form(path, ranges, spec, tmp_path / "old.onnx")))
    assert [n.op_type for n in new.graph.node] == [n.op_type for n in old.graph.node]
    values = {i.name: onnx.numpy_helper.to_array(i) for i in new.graph.initializer}
    for init in old.graph.initializer:
        np.testing.assert_array_equal(onnx.numpy_helper.to_array(init), values[init.name])


def test_copy_ops_share_one_range_per_connected_group(tmp_path: Path) -> None:
    from onnx import TensorProto, helper

    from edge_sdk.quant.forms import share_copy_ranges

    i64 = TensorProto.INT64
    consts = [helper.make_tensor(n, i64, [1], [v]) for n, v in (("s0", 0), ("s1", 2), ("e", 4), ("ax", 1))]
    nodes = [helper.make_node("Slice", ["x", "s0", "s1", "ax"], ["a"], name="sl_a"),
             helper.make_node("Slice", ["x", "s1", "e", "ax"], ["b"], name="sl_b"),
             helper.make_node("Relu", ["b"], ["c"], name="relu"),
             helper.make_node("Concat", ["a", "c"], ["y"], name="cat", axis=1),
             helper.make_node("Relu", ["y"], ["z"], name="relu2")]
    vi = helper.make_tensor_value_info
    graph = helper.make_graph(nodes, "g", [vi("x", TensorProto.FLOAT, [1, 4])], [vi("z", TensorProto.FLOAT, [1, 4])], consts)
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    model = onnx.load(str(path))
    ranges = TensorRanges("minmax", {"x": (-1.0, 3.0), "a": (-0.5, 1.0), "b": (0.0, 3.0), "c": (0.0, 2.5),
                                     "y": (-0.2, 2.0), "z": (0.0, 9.0)})
    out = share_copy_ranges(ranges, model, frozenset(), ("Slice", "Concat")).ranges
    # x, a, b (Slice) and a, c, y (Concat) form one group through a; z (after a Relu) keeps its own range
    assert {out[t] for t in ("x", "a", "b", "c", "y")} == {(-1.0, 3.0)} and out["z"] == (0.0, 9.0)
    only_concat = share_copy_ranges(ranges, model, frozenset(), ("Concat",)).ranges
    assert only_concat["x"] == (-1.0, 3.0) and only_concat["b"] == (0.0, 3.0)
    assert {only_concat[t] for t in ("a", "c", "y")} == {(-0.5, 2.5)}
    excluded = share_copy_ranges(ranges, model, frozenset({"cat"}), ("Slice", "Concat")).ranges
    assert excluded["c"] == (0.0, 2.5) and excluded["y"] == (-0.2, 2.0)


def test_repair_adds_float_layers_one_at_a_time_first_then_by_half() -> None:
    from itertools import pairwise

    from edge_sdk.quant.repair import next_float_count

    counts = [1]
    while counts[-1] < 20:
        counts.append(next_float_count(counts[-1]))
    # every count up to 4 is tried (each early float layer costs a lot of speed), then steps grow
    assert counts[:5] == [1, 2, 3, 4, 6]
    assert all(b > a for a, b in pairwise(counts))
    assert all(b - a <= max(1, a // 2) for a, b in pairwise(counts))


def test_one_layer_tensorrt_form_by_graph_edit_equals_the_quantizer_s(tmp_path: Path) -> None:
    """Repair ranks layers with one layer in INT8 at a time; for the TensorRT form that model is made by a graph
    edit (a Q/DQ pair on the layer's input, its weights replaced by their INT8 values) instead of a run of
    onnxruntime.quantization per layer: the outputs must be what the quantizer's model gives."""
    from edge_sdk.quant.gate import output_sqnr
    from edge_sdk.quant.sensitivity import one_layer_trt, reference_outputs

    path = tiny_detector(tmp_path / "t.onnx", outlier=True)
    model = onnx.load(str(path))
    plan = plan_graph(model, OPS)
    names = {t for n in model.graph.node for t in list(n.input) + list(n.output)} - {i.name for i in model.graph.initializer}
    rng = np.random.default_rng(4)
    ranges = TensorRanges("minmax", {n: (float(-rng.uniform(0, 2)), float(rng.uniform(0.5, 50))) for n in names})
    xs = [rng.random((1, 3, 64, 64), dtype=np.float32) for _ in range(2)]
    ref = reference_outputs(path, xs, 1)
    for layer in plan.compute:
        fast = one_layer_trt(model, layer, ranges, tmp_path / "fast.onnx")
        slow = quantize_form(path, ranges, trt_spec(plan, OPS, set(plan.compute) - {layer}), tmp_path / "slow.onnx")
        assert fast is not None
        assert output_sqnr(fast, xs, ref, 1) == pytest.approx(output_sqnr(slow, xs, ref, 1), abs=1e-3)  # float sums
