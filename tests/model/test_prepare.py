"""The loader's checks and fixes on small real ONNX graphs, each run through ONNX Runtime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge_sdk.errors import ModelError
from edge_sdk.model.prepare import PrepareRequest, prepare_model
from edge_sdk.model.verify import run_graph

W = np.random.default_rng(0).normal(0, 0.3, (6, 3, 3, 3)).astype(np.float32)


def conv_model(path: Path, shape: list[int | str], *, opset: int = 17, weights_as_inputs: bool = False,
               dtype: int = TensorProto.FLOAT, nhwc: bool = False, extra_inputs: list[str] = (),  # type: ignore[assignment]
               props: dict[str, str] | None = None, batch_reshape: int | None = None) -> Path:
    """images -> (Transpose if NHWC) -> Conv 3x3 -> Flatten per image: a small fully convolutional 'detector'."""
    nodes, x = [], "images"
    if dtype == TensorProto.UINT8:
        nodes.append(helper.make_node("Cast", [x], ["xf"], to=TensorProto.FLOAT))
        x = "xf"
    if nhwc:
        nodes.append(helper.make_node("Transpose", [x], ["xt"], perm=[0, 3, 1, 2]))
        x = "xt"
    nodes.append(helper.make_node("Conv", [x, "W"], ["c"], pads=[1, 1, 1, 1]))
    target = [batch_reshape, 6, -1] if batch_reshape else [0, 6, -1]
    shape_init = numpy_helper.from_array(np.array(target, np.int64), "shape")
    nodes.append(helper.make_node("Reshape", ["c", "shape"], ["out"]))
    inits = [numpy_helper.from_array(W, "W"), shape_init]
    inputs = [helper.make_tensor_value_info("images", dtype, shape)]
    if weights_as_inputs:
        inputs += [helper.make_tensor_value_info("W", TensorProto.FLOAT, list(W.shape)),
                   helper.make_tensor_value_info("shape", TensorProto.INT64, [3])]
    for name in extra_inputs:
        inputs.append(helper.make_tensor_value_info(name, TensorProto.INT64, [1, 2]))
        nodes.append(helper.make_node("Identity", [name], [f"{name}_out"]))
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)]
    outputs += [helper.make_tensor_value_info(f"{n}_out", TensorProto.INT64, None) for n in extra_inputs]
    graph = helper.make_graph(nodes, "m", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 3 if weights_as_inputs else 8
    if props:
        helper.set_model_props(model, props)
    onnx.save(model, str(path))
    return path


def test_a_clean_model_is_used_as_it_is(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "m.onnx", [1, 3, 32, 32])
    p = prepare_model(m, cache_dir=tmp_path / "cache")
    assert p.path == m and p.fixes == () and p.input.layout == "nchw" and p.input.size == (32, 32)
    assert not (tmp_path / "cache").exists()


def test_weights_listed_as_inputs_are_dropped_and_opset_9_converted(tmp_path: Path) -> None:
    """The issue's face detector: opset 9, IR 3, every weight also a graph input."""
    m = conv_model(tmp_path / "old.onnx", [1, 3, 32, 32], opset=9, weights_as_inputs=True)
    p = prepare_model(m, cache_dir=tmp_path / "cache")
    assert any("2 weight(s)" in f for f in p.fixes) and any("opset 9 converted to 13" in f for f in p.fixes)
    fixed = onnx.load(str(p.path))
    assert [i.name for i in fixed.graph.input] == ["images"] and p.opset == 13
    x = np.random.default_rng(1).random((1, 3, 32, 32), np.float32)
    np.testing.assert_allclose(run_graph(fixed, x)[0], run_graph(onnx.load(str(m)), x)[0], atol=1e-5)
    again = prepare_model(m, cache_dir=tmp_path / "cache")  # reused from the cache, same facts
    assert again.path == p.path and again.fixes == p.fixes and again.input == p.input


def test_dynamic_input_takes_the_size_from_metadata_or_config_or_is_refused(tmp_path: Path) -> None:
    """The issue's Ultralytics export: ['batch', 3, 'height', 'width'] with imgsz in the metadata."""
    m = conv_model(tmp_path / "dyn.onnx", ["batch", 3, "height", "width"], props={"imgsz": "[64, 96]"})
    p = prepare_model(m, PrepareRequest(size_hint=(64, 96)), cache_dir=tmp_path / "c")
    assert p.input.size == (64, 96) and p.input.batch == 1
    assert run_graph(onnx.load(str(p.path)), np.zeros((1, 3, 64, 96), np.float32))[0].shape == (1, 6, 64 * 96)
    assert prepare_model(m, PrepareRequest(size=(32, 32), size_hint=(64, 96)), cache_dir=tmp_path / "c").input.size \
        == (32, 32)
    with pytest.raises(ModelError, match="dynamic height/width") as err:
        prepare_model(m, cache_dir=tmp_path / "c")
    assert "model.preprocess.size" in (err.value.fix or "")


def test_fixed_batch_is_redeclared_as_one_when_that_computes_the_same(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "b10.onnx", [10, 3, 32, 32])
    p = prepare_model(m, cache_dir=tmp_path / "c")
    assert p.batch == 1 and any("batch 10 re-declared as 1" in f for f in p.fixes)


def test_fixed_batch_baked_into_a_reshape_is_kept_and_said(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "b4.onnx", [4, 3, 16, 16], batch_reshape=4)
    p = prepare_model(m, cache_dir=tmp_path / "c")
    assert p.batch == 4 and p.path == m and any("fixed batch of 4 is kept" in n for n in p.notes)


def test_a_dynamic_batch_is_kept_when_the_pipeline_batches(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "dyn.onnx", ["batch", 3, 32, 32])
    p = prepare_model(m, PrepareRequest(batch=4), cache_dir=tmp_path / "c")
    assert p.dynamic_batch and p.path == m and p.fixes == () and p.notes == ()
    assert run_graph(onnx.load(str(p.path)), np.zeros((3, 3, 32, 32), np.float32))[0].shape == (3, 6, 32 * 32)
    assert prepare_model(m, cache_dir=tmp_path / "c").batch == 1  # no batching: fixed to 1 as before


def test_a_fixed_batch_of_one_is_declared_dynamic_when_each_image_is_computed_alone(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "b1.onnx", [1, 3, 32, 32])  # its Reshape copies the batch (0): it can batch
    p = prepare_model(m, PrepareRequest(batch=8), cache_dir=tmp_path / "c")
    assert p.dynamic_batch and any("batch 1 re-declared dynamic" in f for f in p.fixes)
    x = np.random.default_rng(2).random((5, 3, 32, 32), np.float32)
    batched = run_graph(onnx.load(str(p.path)), x)[0]
    np.testing.assert_allclose(batched[3:4], run_graph(onnx.load(str(m)), x[3:4])[0], atol=1e-5)


def test_a_batch_of_one_baked_into_a_reshape_is_kept_said_once_and_not_checked_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = conv_model(tmp_path / "b1.onnx", [1, 3, 16, 16], batch_reshape=1)
    p = prepare_model(m, PrepareRequest(batch=4), cache_dir=tmp_path / "c")
    assert p.batch == 1 and not p.dynamic_batch and p.path == m
    assert [n for n in p.notes if "fixed batch of 1 is kept" in n and "one frame per inference" in n]
    import edge_sdk.model.prepare as prepare

    monkeypatch.setattr(prepare, "run_graph", lambda *_: pytest.fail("the verdict is cached: nothing runs again"))
    again = prepare_model(m, PrepareRequest(batch=4), cache_dir=tmp_path / "c")
    assert again.notes == p.notes and again.path == m


def test_a_dynamic_batch_that_does_not_run_on_two_images_is_fixed_to_one_and_said(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "d1.onnx", ["batch", 3, 16, 16], batch_reshape=1)
    p = prepare_model(m, PrepareRequest(batch=4), cache_dir=tmp_path / "c")
    assert p.batch == 1 and any("dynamic batch is fixed to 1 (an output has no batch axis" in n for n in p.notes)


def test_a_fixed_batch_of_four_is_kept_and_filled_when_the_pipeline_batches(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "b4.onnx", [4, 3, 16, 16], batch_reshape=4)
    p = prepare_model(m, PrepareRequest(batch=8), cache_dir=tmp_path / "c")
    assert p.batch == 4 and any("up to 4 of them frames" in n for n in p.notes)


def test_a_fixed_size_fully_convolutional_model_runs_at_the_configured_size(tmp_path: Path) -> None:
    """CenterFace ships a 10x3x32x32 placeholder input: it is meant to run at the camera's size."""
    m = conv_model(tmp_path / "cf.onnx", [10, 3, 32, 32])
    p = prepare_model(m, PrepareRequest(size=(96, 128)), cache_dir=tmp_path / "c")
    assert p.input.size == (96, 128) and p.batch == 1


def test_nhwc_and_uint8_inputs_are_read_as_such(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "tf.onnx", [1, 32, 48, 3], nhwc=True, dtype=TensorProto.UINT8)
    p = prepare_model(m, cache_dir=tmp_path / "c")
    assert (p.input.layout, p.input.dtype, p.input.size) == ("nhwc", "uint8", (32, 48))


def test_side_inputs_become_constants_of_the_input_size(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "detr.onnx", [1, 3, 32, 48], extra_inputs=["orig_target_sizes"])
    p = prepare_model(m, cache_dir=tmp_path / "c")
    outs = run_graph(onnx.load(str(p.path)), np.zeros((1, 3, 32, 48), np.float32))
    assert outs[1].tolist() == [[48, 32]]


@pytest.mark.parametrize(("case", "message"), [
    ("two_images", "a detector takes one image tensor"),
    ("gray", "1 channel"),
    ("float64", "float64"),
    ("opset_future", "the installed onnx"),
    ("unknown_side", "a detector takes one image tensor"),
])
def test_what_cannot_be_fed_is_refused_with_a_fix(tmp_path: Path, case: str, message: str) -> None:
    path = tmp_path / f"{case}.onnx"
    if case == "gray":
        conv_model(path, [1, 1, 32, 32])
    elif case == "float64":
        conv_model(path, [1, 3, 32, 32], dtype=TensorProto.DOUBLE)
    elif case == "opset_future":
        conv_model(path, [1, 3, 32, 32], opset=onnx.defs.onnx_opset_version() + 1)
    elif case == "unknown_side":
        conv_model(path, [1, 3, 32, 32], extra_inputs=["mystery"])
    else:
        m = onnx.load(str(conv_model(path, [1, 3, 32, 32])))
        m.graph.input.append(helper.make_tensor_value_info("second", TensorProto.FLOAT, [1, 3, 32, 32]))
        onnx.save(m, str(path))
    with pytest.raises(ModelError, match=message) as err:
        prepare_model(path, cache_dir=tmp_path / "c")
    assert err.value.fix


def test_a_strict_opset_request_refuses_what_cannot_be_converted(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "m.onnx", [1, 3, 16, 16], opset=11)
    model = onnx.load(str(m))
    model.graph.node.append(helper.make_node("Upsample", ["out"], ["up"], mode="nearest"))  # invalid: no scales
    onnx.save(model, str(m))
    with pytest.raises(ModelError, match="could not be converted"):
        prepare_model(m, PrepareRequest(strict_opset=True), cache_dir=tmp_path / "c")


def test_cache_manifest_says_what_was_fixed(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "dyn.onnx", ["b", 3, "h", "w"])
    p = prepare_model(m, PrepareRequest(size=(32, 32)), cache_dir=tmp_path / "c")
    info = json.loads(p.path.parent.joinpath(p.path.stem + ".json").read_text())
    assert info["source_sha256"] == p.source_sha256 and info["fixes"] == list(p.fixes)
