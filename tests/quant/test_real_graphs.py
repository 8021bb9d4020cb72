"""INT8 on the graphs real exports bring (issue 26), each reproduced with a graph built here: every one builds,
or is refused by the preflight in seconds with what to do, before any calibration."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest

from edge_sdk.errors import ModelError
from edge_sdk.quant import build_int8
from edge_sdk.quant.placement import plan_graph, summarize_qdq
from edge_sdk.quant.preflight import Preflight, prepare
from tests.quant.helpers import scene_frames, write_config
from tests.quant.real_graphs import real_detector

OPS = ["Conv", "MatMul", "Gemm"]
LOOSE = {"max_map_drop": 100, "repair": False, "gate_bootstrap": 0}  # random weights: the mechanics, not accuracy


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scene_frames(tmp_path_factory.mktemp("scenes"), 3_300_000, 12, size=(160, 120))


def _preflight(model: Path, work: Path) -> Preflight:
    from edge_sdk.model.resolve import resolve_model

    return prepare(model, resolve_model(model, cache_dir=work / "models", strict_opset=True), OPS, work)


def _build(tmp_path: Path, model: Path, scenes: Path, **build: object) -> dict[str, object]:
    # decode.type given: a model with a second (raw head) output is ambiguous to auto-detection, which refuses it
    _, cfg = write_config(tmp_path, model, scenes, build={**LOOSE, **build}, decode={"type": "yolov8"})
    out = build_int8(cfg, progress=False)
    assert out.report["decision"] == "pass", out.report["decision_detail"]
    return out.report


def test_an_opset_9_model_with_weights_listed_as_inputs_is_converted_and_builds(tmp_path: Path, scenes: Path) -> None:
    # Issue 26: "QuantizeLinear ... Unrecognized attribute: axis" after 6.5 minutes, then "the model has 60 inputs".
    model = real_detector(tmp_path / "face.onnx", opset=9, weights_as_inputs=True)
    report = _build(tmp_path, model, scenes)
    changes = report["preflight"]["changes"]  # type: ignore[index]
    assert any("weight(s) listed as graph inputs" in c for c in changes)
    assert any("opset 9" in c and "13" in c for c in changes)
    assert "preflight" in report["timing"]["phases"]  # type: ignore[index]


def test_a_head_conv_feeding_a_graph_output_builds_with_a_float_output(tmp_path: Path, scenes: Path) -> None:
    # Issue 26: "ValueError: cannot strip Q/DQ feeding graph output".
    model = real_detector(tmp_path / "raw.onnx", raw_head_output=True)
    _build(tmp_path, model, scenes)
    cpu = onnx.load(str(tmp_path / "state" / "build" / "raw" / "model.int8.ort.qdq.onnx"))
    producers = {o: n for n in cpu.graph.node for o in n.output}
    assert [o.name for o in cpu.graph.output] == ["output0", "head_out"]
    assert producers["head_out"].op_type == "Conv"  # the logits leave the conv in float, no Q/DQ pair on them


def test_an_empty_roi_constant_on_resize_calibrates_with_percentile(tmp_path: Path, scenes: Path) -> None:
    # Issue 26: "zero-size array to reduction operation fmax" in the default Percentile calibration.
    model = real_detector(tmp_path / "fpn.onnx", upsample=True)
    report = _build(tmp_path, model, scenes, method="percentile")
    assert any("Constant nodes made initializers" in c for c in report["preflight"]["changes"])  # type: ignore[index]


@pytest.mark.parametrize("normalization", ["x255", "meanstd"])
def test_normalization_in_front_of_the_stem_keeps_the_stem_in_float(tmp_path: Path, scenes: Path,
                                                                      normalization: str) -> None:
    # Issue 26: with a x255 or mean/std node first, cpu_float_input_layer silently did nothing.
    model = real_detector(tmp_path / "norm.onnx", normalization=normalization)
    plan = plan_graph(onnx.load(str(model)), OPS)
    norm = {"x255": {"/norm/Mul"}, "meanstd": {"/norm/Sub", "/norm/Div"}}[normalization]
    assert plan.normalization == norm
    assert plan.input_layer == norm | {"/c0/Conv", "/c0/Sigmoid", "/c0/Mul"}
    report = _build(tmp_path, model, scenes)
    assert report["input_layer"] == {"normalization": sorted(norm), "stem": ["/c0/Conv", "/c0/Mul", "/c0/Sigmoid"]}
    cpu = summarize_qdq(onnx.load(str(tmp_path / "state" / "build" / "norm" / "model.int8.ort.qdq.onnx")), OPS)
    assert "/c0/Conv" in cpu.float_compute and "/c1/Conv" in cpu.quantized


@pytest.mark.parametrize(("activation", "nodes"), [("hardswish", ["HardSwish"]), ("hardswish_mul", ["HardSigmoid", "Mul"]),
                                                    ("hardswish_clip", ["Add", "Clip", "Mul", "Div"]),
                                                    ("relu", ["Relu"]), ("leakyrelu", ["LeakyRelu"])])
def test_other_activations_build_and_count_as_part_of_their_layer(tmp_path: Path, scenes: Path, activation: str,
                                                                   nodes: list[str]) -> None:
    model = real_detector(tmp_path / "act.onnx", activation=activation)
    plan = plan_graph(onnx.load(str(model)), OPS)
    assert plan.input_layer == {"/c0/Conv"} | {f"/c0/{op}" for op in nodes}
    pre = _preflight(model, tmp_path)
    expected = {"hardswish_mul": "HardSwish (x * HardSigmoid)", "hardswish_clip": "HardSwish (x * Clip(x + 3) / 6)"}.get(
        activation, nodes[0])
    assert pre.activations == {expected: 2, "none": 1}  # c0 and c1 end in it; the head's logits in nothing
    report = _build(tmp_path, model, scenes)
    assert report["preflight"]["activations"] == pre.activations  # type: ignore[index]
    cpu = summarize_qdq(onnx.load(str(tmp_path / "state" / "build" / "act" / "model.int8.ort.qdq.onnx")), OPS)
    assert cpu.quantized == ("/c1/Conv", "/head/Conv")


@pytest.mark.parametrize(("kwargs", "message"), [({"batch": 10}, "fixed batch of 10"), ({"fp16": True}, "float16")])
def test_the_preflight_refuses_what_cannot_be_calibrated_before_reading_any_frame(tmp_path: Path, kwargs: dict[str, bool],
                                                                                  message: str) -> None:
    model = real_detector(tmp_path / "bad.onnx", batch=int(kwargs.get("batch", 1)))
    if kwargs.get("fp16"):
        m = onnx.load(str(model))
        m.graph.input[0].type.tensor_type.elem_type = onnx.TensorProto.FLOAT16
        onnx.save(m, str(model))
    # no frames folder at all: the model is refused first, in the preflight
    _, cfg = write_config(tmp_path, model, tmp_path / "no-frames-here", build=LOOSE)
    with pytest.raises(ModelError, match=f"INT8 preflight: .*{message}") as err:
        build_int8(cfg, progress=False)
    assert err.value.fix and err.value.where == str(model)
    assert not (tmp_path / "state").exists()


def test_unfused_batchnorm_is_folded_into_its_conv_with_the_same_outputs(tmp_path: Path) -> None:
    import numpy as np

    from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine

    model = real_detector(tmp_path / "bn.onnx", batchnorm=True, activation="hardswish_clip")
    pre = _preflight(model, tmp_path)
    assert "2 BatchNormalization nodes folded into their convs" in pre.changes
    assert not [n for n in pre.model.graph.node if n.op_type == "BatchNormalization"]
    x = np.random.default_rng(3).random((1, 3, 64, 64), dtype=np.float32)
    with OnnxRuntimeEngine(model, graph_rewrites=False) as a, OnnxRuntimeEngine(pre.path, graph_rewrites=False) as b:
        np.testing.assert_allclose(b.infer(x)[0], a.infer(x)[0], rtol=1e-4, atol=1e-4)
    assert plan_graph(pre.model, OPS).input_layer == {"/c0/Conv", "/c0/Add", "/c0/Clip", "/c0/Mul", "/c0/Div"}
