"""The in-memory graph rewrites ONNX Runtime models get before loading: exact results, only where they apply."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.engines.graph_rewrite import qdq_byte_concat, qdq_nearest_upsample, rewrite_for_cpu, softmax_last_axis
from edge_sdk.engines.graph_rewrite_head import float_conv_weights, softmax_expectation
from edge_sdk.engines.graph_rewrite_matmul import pointwise_integer_matmul


def _save(path: Path, name: str, nodes: list[Any], inits: list[Any], in_shape: list[int], out_shape: list[int],
          opset: int = 17) -> Path:
    """A checked single-input, single-output model written to `path` (input `images`, output `out`)."""
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("images", TensorProto.FLOAT, in_shape)],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, out_shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def _dfl_like(path: Path, *, opset: int = 17, axis: int = 1, out_channels: int = 1, bias: bool = False,
              transpose: bool = True) -> Path:
    """images [1,3,8,8] -> Conv to 64 channels -> Reshape [1,4,16,64] -> Transpose -> Softmax(axis) -> 1x1 Conv
    to `out_channels` (YOLOv8's DFL with 1). Without `transpose` the Reshape gives [1,16,4,64] directly."""
    rng = np.random.default_rng(0)
    bins = np.arange(16 * out_channels, dtype=np.float32).reshape(out_channels, 16, 1, 1) % 16
    inits = [numpy_helper.from_array(rng.normal(0, 2, (64, 3, 1, 1)).astype(np.float32), "w"),
             numpy_helper.from_array(np.array([1, 4, 16, 64] if transpose else [1, 16, 4, 64], np.int64), "shape"),
             numpy_helper.from_array(bins, "bins"), numpy_helper.from_array(np.array([0.5], np.float32)[:out_channels], "b"),
             numpy_helper.from_array(np.array([1, 4 * out_channels, 64], np.int64), "shape2")]
    nodes = [helper.make_node("Conv", ["images", "w"], ["c"], name="conv"),
             helper.make_node("Reshape", ["c", "shape"], ["r" if transpose else "t"], name="reshape")]
    if transpose:
        nodes.append(helper.make_node("Transpose", ["r"], ["t"], name="transpose", perm=[0, 2, 1, 3]))
    nodes += [helper.make_node("Softmax", ["t"], ["s"], name="softmax", axis=axis),
              helper.make_node("Conv", ["s", "bins", "b"] if bias else ["s", "bins"], ["d"], name="dfl"),
              helper.make_node("Reshape", ["d", "shape2"], ["out"], name="reshape2")]
    return _save(path, "dfl", nodes, inits, [1, 3, 8, 8], [1, 4 * out_channels, 64], opset=opset)


def _outputs(path: Path, x: np.ndarray, **kwargs: Any) -> tuple[np.ndarray, dict[str, int]]:
    with OnnxRuntimeEngine(path, **kwargs) as engine:
        return engine.infer(x)[0], engine.info.extra["graph_rewrites"]


def _plain_and_rewritten(path: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """The model's output without rewrites and with them, and which rewrites applied."""
    a, plain = _outputs(path, x, graph_rewrites=False)
    assert plain == {}
    b, applied = _outputs(path, x)
    return a, b, applied


@pytest.mark.parametrize("opset,bias,transpose", [(17, False, True), (18, True, True), (17, True, False)])
def test_dfl_softmax_and_conv_become_reductions_of_the_same_function(tmp_path: Path, opset: int, bias: bool,
                                                                    transpose: bool) -> None:
    # opset 18 takes ReduceMax's axes as an input (17: an attribute); the exporter's Transpose is absorbed
    path = _dfl_like(tmp_path / "m.onnx", opset=opset, bias=bias, transpose=transpose)
    x = np.random.default_rng(1).normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
    a, b, applied = _plain_and_rewritten(path, x)
    assert applied == {"softmax-expectation": 1}
    assert a.shape == b.shape == (1, 4, 64)
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    assert float(a.max()) > 1.0 and float(a.std()) > 0.5  # real expectations over the 16 bins
    model = onnx.load(str(path))
    assert softmax_expectation(model) == 1
    ops = [n.op_type for n in model.graph.node]
    assert "Softmax" not in ops and ops.count("Conv") == 1 and ops.count("Transpose") == int(transpose)
    onnx.checker.check_model(model, full_check=True)


def test_softmax_over_a_middle_axis_is_rewritten_exactly(tmp_path: Path) -> None:
    # two output channels: not an expectation, so softmax-last-axis takes it (and the GPU form gets only that)
    path = _dfl_like(tmp_path / "m.onnx", out_channels=2)
    x = np.random.default_rng(1).normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
    with OnnxRuntimeEngine(path, graph_rewrites=False) as plain, OnnxRuntimeEngine(path) as rewritten:
        assert plain.info.extra["graph_rewrites"] == {}
        assert rewritten.info.extra["graph_rewrites"] == {"softmax-last-axis": 1}
        a, b = plain.infer(x)[0], rewritten.infer(x)[0]
    assert a.shape == b.shape == (1, 8, 64)
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    assert float(a.max()) > 1.0  # a real expectation over the 16 bins, not a degenerate output
    model = onnx.load(str(path))
    assert softmax_last_axis(model) == 1
    ops = [(n.op_type, [a.i for a in n.attribute if a.name == "axis"]) for n in model.graph.node]
    assert ("Softmax", [3]) in ops and ops.count(("Transpose", [])) == 3
    onnx.checker.check_model(model, full_check=True)
    gpu = rewrite_for_cpu(_dfl_like(tmp_path / "dfl.onnx"), cpu=False)
    assert gpu is not None and gpu.applied == {"softmax-last-axis": 1}


@pytest.mark.parametrize("opset,axis", [(11, 1), (17, -1), (17, 3)])
def test_nothing_to_rewrite_leaves_the_model_as_is(tmp_path: Path, opset: int, axis: int) -> None:
    # opset < 13 Softmax flattens the trailing axes (a different function); a last-axis Softmax is already fast
    path = _dfl_like(tmp_path / "m.onnx", opset=opset, axis=axis)
    assert rewrite_for_cpu(path) is None
    with OnnxRuntimeEngine(path) as engine:
        assert engine.info.extra["graph_rewrites"] == {}


def test_demo_model_gets_the_dfl_rewrite_with_identical_outputs(demo_model: Path) -> None:
    x = np.random.default_rng(2).random((1, 3, 640, 640), dtype=np.float32)
    with OnnxRuntimeEngine(demo_model, graph_rewrites=False) as plain, OnnxRuntimeEngine(demo_model) as fast:
        assert fast.info.extra["graph_rewrites"] == {"softmax-expectation": 1}
        np.testing.assert_allclose(fast.infer(x)[0], plain.infer(x)[0], rtol=1e-5, atol=1e-3)


def _const(name: str, value: np.ndarray) -> Any:
    return numpy_helper.from_array(value, name)


def _quantized_input() -> tuple[list[Any], list[Any]]:
    """Initializers and nodes that quantize `images` to `x` (UINT8, scale 1/255), plus the activation
    parameters `s_act`/`z_act` the graphs below use between layers."""
    inits = [_const("s_in", np.array(1 / 255, np.float32)), _const("z", np.array(0, np.uint8)),
             _const("s_act", np.array(0.05, np.float32)), _const("z_act", np.array(100, np.uint8))]
    nodes = [helper.make_node("QuantizeLinear", ["images", "s_in", "z"], ["xq"], name="q_in"),
             helper.make_node("DequantizeLinear", ["xq", "s_in", "z"], ["x"], name="dq_in")]
    return inits, nodes


def _qdq_upsample(path: Path, *, scales: tuple[float, float, float, float] = (1, 1, 2, 2), mode: str = "asymmetric",
                  nearest: str = "floor", quantized: bool = True, per_channel: bool = False) -> Path:
    """images [1,3,10,12] -> Q/DQ -> INT8 conv (6 ch) -> Q/DQ -> nearest Resize -> Q/DQ -> INT8 1x1 conv -> out:
    the shape of YOLO's FPN upsampling in a Q/DQ model (ONNX Runtime runs the integer convs in NHWC).
    `quantized` False leaves the Resize on float tensors (no Q/DQ around it); `per_channel` gives the Resize's
    input one scale per channel."""
    rng = np.random.default_rng(3)
    inits, nodes = _quantized_input()
    inits += [_const("w1", rng.integers(-90, 90, (6, 3, 3, 3)).astype(np.int8)), _const("w1_s", np.full(6, 0.01, np.float32)),
              _const("w1_z", np.zeros(6, np.int8)), _const("w2", rng.integers(-90, 90, (4, 6, 1, 1)).astype(np.int8)),
              _const("w2_s", np.full(4, 0.02, np.float32)), _const("w2_z", np.zeros(4, np.int8)),
              _const("scales", np.array(scales, np.float32)),
              _const("s_ch", np.linspace(0.04, 0.06, 6).astype(np.float32)), _const("z_ch", np.full(6, 100, np.uint8))]
    nodes += [helper.make_node("DequantizeLinear", ["w1", "w1_s", "w1_z"], ["w1f"], name="dq_w1", axis=0),
              helper.make_node("Conv", ["x", "w1f"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
              helper.make_node("QuantizeLinear", ["c1", "s_act", "z_act"], ["c1q"], name="q_c1"),
              helper.make_node("DequantizeLinear", ["c1q", "s_ch", "z_ch"] if per_channel else ["c1q", "s_act", "z_act"],
                              ["c1f"], name="dq_c1", axis=1)]
    if quantized:
        nodes += [helper.make_node("Resize", ["c1f", "", "scales"], ["up"], name="up", mode="nearest",
                                   coordinate_transformation_mode=mode, nearest_mode=nearest),
                  helper.make_node("QuantizeLinear", ["up", "s_act", "z_act"], ["upq"], name="q_up"),
                  helper.make_node("DequantizeLinear", ["upq", "s_act", "z_act"], ["upf"], name="dq_up")]
    else:
        nodes += [helper.make_node("Relu", ["c1f"], ["r"], name="relu"),
                  helper.make_node("Resize", ["r", "", "scales"], ["upf"], name="up", mode="nearest",
                                   coordinate_transformation_mode=mode, nearest_mode=nearest)]
    nodes += [helper.make_node("DequantizeLinear", ["w2", "w2_s", "w2_z"], ["w2f"], name="dq_w2", axis=0),
              helper.make_node("Conv", ["upf", "w2f"], ["c2"], name="conv2"),
              helper.make_node("QuantizeLinear", ["c2", "s_act", "z_act"], ["c2q"], name="q_c2"),
              helper.make_node("DequantizeLinear", ["c2q", "s_act", "z_act"], ["out"], name="dq_c2")]
    out_shape = [1, 4, int(10 * scales[2]), int(12 * scales[3])]
    return _save(path, "fpn", nodes, inits, [1, 3, 10, 12], out_shape)


def _repeat(x: np.ndarray, sy: int, sx: int) -> np.ndarray:
    return np.repeat(np.repeat(x, sy, axis=2), sx, axis=3)


@pytest.mark.parametrize("scales,mode,nearest", [((1, 1, 2, 2), "asymmetric", "floor"),
                                                  ((1, 1, 2, 3), "half_pixel", "round_prefer_floor"),
                                                  ((1, 1, 3, 3), "pytorch_half_pixel", "round_prefer_ceil")])
def test_quantized_nearest_upsample_becomes_channel_copies_bit_for_bit(
        tmp_path: Path, scales: tuple[float, float, float, float], mode: str, nearest: str) -> None:
    path = _qdq_upsample(tmp_path / "m.onnx", scales=scales, mode=mode, nearest=nearest)
    x = np.random.default_rng(4).integers(0, 256, (1, 3, 10, 12)).astype(np.float32) / 255
    with OnnxRuntimeEngine(path, graph_rewrites=False) as plain, OnnxRuntimeEngine(path) as rewritten:
        assert rewritten.info.extra["graph_rewrites"] == {"qdq-nearest-upsample": 1}
        a, b = plain.infer(x)[0], rewritten.infer(x)[0]
    assert a.shape == b.shape == (1, 4, 10 * int(scales[2]), 12 * int(scales[3]))
    np.testing.assert_array_equal(b, a)
    assert len(np.unique(a)) > 20  # a real feature map, not a constant
    model = onnx.load(str(path))
    assert qdq_nearest_upsample(model) == 1
    assert [n.op_type for n in model.graph.node].count("Resize") == 0
    onnx.checker.check_model(model, full_check=True)


def test_upsample_rewrite_leaves_what_it_cannot_reproduce(tmp_path: Path) -> None:
    # asymmetric + round_prefer_floor by 3 maps output 2 to input 1 (2/3 rounds up): not a pixel repeat
    odd = _qdq_upsample(tmp_path / "odd.onnx", scales=(1, 1, 3, 3), mode="asymmetric", nearest="round_prefer_floor")
    floats = _qdq_upsample(tmp_path / "float.onnx", quantized=False)  # float Resize: ONNX Runtime's NCHWc path is fast
    fractional = _qdq_upsample(tmp_path / "frac.onnx", scales=(1, 1, 2, 1.5))
    per_channel = _qdq_upsample(tmp_path / "per_channel.onnx", per_channel=True)
    for path in (odd, floats, fractional, per_channel):
        # (the float Resize's model has a conv with float input and dequantized weights: float-conv-weights applies)
        rewritten = rewrite_for_cpu(path)
        assert rewritten is None or "qdq-nearest-upsample" not in rewritten.applied, path.name
        with OnnxRuntimeEngine(path) as engine:
            assert "qdq-nearest-upsample" not in engine.info.extra["graph_rewrites"]
    import onnxruntime as ort

    resize = helper.make_node("Resize", ["f", "", "scales"], ["y"], mode="nearest",
                              coordinate_transformation_mode="asymmetric", nearest_mode="round_prefer_floor")
    g = helper.make_graph([resize], "r", [helper.make_tensor_value_info("f", TensorProto.FLOAT, [1, 2, 4, 5])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(np.array([1, 1, 3, 3], np.float32), "scales")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    f = np.random.default_rng(6).random((1, 2, 4, 5), dtype=np.float32)
    y = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"f": f})[0]
    assert y.shape == (1, 2, 12, 15) and not np.array_equal(y, _repeat(f, 3, 3))  # so excluding it matters


def test_gpu_providers_skip_the_cpu_only_upsample_rewrite(tmp_path: Path) -> None:
    path = _qdq_upsample(tmp_path / "m.onnx")
    assert rewrite_for_cpu(path, cpu=False) is None
    cpu = rewrite_for_cpu(path)
    assert cpu is not None and cpu.applied == {"qdq-nearest-upsample": 1}


def _qdq_head(path: Path, kernel: int = 1) -> Path:
    """images [1,3,6,6] -> Q/DQ -> INT8 3x3 conv to 16 channels (a Q/DQ unit: DQ in, Q out) -> DQ -> `kernel` x
    `kernel` conv with DequantizeLinear weights (per channel, with zero points) and an int32 bias -> float logits:
    the end of an INT8 head."""
    rng = np.random.default_rng(7)
    inits, nodes = _quantized_input()
    inits += [_const("w1", rng.integers(-127, 128, (16, 3, 3, 3)).astype(np.int8)),
              _const("w1_s", np.full(16, 0.002, np.float32)),
              _const("w1_z", np.zeros(16, np.int8)),
              _const("w2", rng.integers(-120, 121, (16, 16, kernel, kernel)).astype(np.int8)),
              _const("w2_s", np.linspace(0.01, 0.03, 16).astype(np.float32)), _const("w2_z", np.arange(-8, 8).astype(np.int8)),
              _const("b2", rng.integers(-5000, 5000, 16).astype(np.int32)),
              _const("b2_s", (0.05 * np.linspace(0.01, 0.03, 16)).astype(np.float32)), _const("b2_z", np.zeros(16, np.int32))]
    nodes += [helper.make_node("DequantizeLinear", ["w1", "w1_s", "w1_z"], ["w1f"], name="dq_w1", axis=0),
              helper.make_node("Conv", ["x", "w1f"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
              helper.make_node("QuantizeLinear", ["c1", "s_act", "z_act"], ["c1q"], name="q_c1"),
              helper.make_node("DequantizeLinear", ["c1q", "s_act", "z_act"], ["c1f"], name="dq_c1"),
              helper.make_node("DequantizeLinear", ["w2", "w2_s", "w2_z"], ["w2f"], name="dq_w2", axis=0),
              helper.make_node("DequantizeLinear", ["b2", "b2_s", "b2_z"], ["b2f"], name="dq_b2", axis=0),
              helper.make_node("Conv", ["c1f", "w2f", "b2f"], ["out"], name="logits", pads=[kernel // 2] * 4)]
    return _save(path, "head", nodes, inits, [1, 3, 6, 6], [1, 16, 6, 6])


def test_float_conv_gets_its_dequantized_weights_as_constants(tmp_path: Path) -> None:
    path = _qdq_head(tmp_path / "m.onnx", kernel=3)
    x = np.random.default_rng(8).random((1, 3, 6, 6), dtype=np.float32)
    a, b, applied = _plain_and_rewritten(path, x)
    assert applied == {"float-conv-weights": 1}
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-4)
    assert float(a.std()) > 1.0
    model = onnx.load(str(path))
    assert float_conv_weights(model) == 1
    by_name = {n.name: n for n in model.graph.node}
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    assert inits[by_name["logits"].input[1]].dtype == np.float32 and "dq_w2" not in by_name and "dq_b2" not in by_name
    assert "w2" not in inits and "b2" not in inits  # the integer constants only they read are gone
    # the folded values are DequantizeLinear's: (q - zero point) * scale, in float32
    folded_w, folded_b = inits[by_name["logits"].input[1]], inits[by_name["logits"].input[2]]
    src = onnx.load(str(path))
    raw = {t.name: numpy_helper.to_array(t) for t in src.graph.initializer}
    zero = raw["w2_z"].astype(np.float32).reshape(-1, 1, 1, 1)  # per channel, as the scale
    np.testing.assert_array_equal(folded_w, (raw["w2"].astype(np.float32) - zero) * raw["w2_s"].reshape(-1, 1, 1, 1))
    np.testing.assert_array_equal(folded_b, (raw["b2"].astype(np.int64)).astype(np.float32) * raw["b2_s"])
    assert by_name["conv1"].input[1] == "w1f" and "dq_w1" in by_name  # the Q/DQ unit keeps them: it becomes QLinearConv
    onnx.checker.check_model(model, full_check=True)
    assert rewrite_for_cpu(path, cpu=False) is None


def test_float_pointwise_conv_becomes_an_integer_matmul(tmp_path: Path) -> None:
    path = _qdq_head(tmp_path / "m.onnx")
    x = np.random.default_rng(8).random((1, 3, 6, 6), dtype=np.float32)
    a, b, applied = _plain_and_rewritten(path, x)
    assert applied == {"qdq-pointwise-matmul": 1}
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-4)  # integer sums scaled once: float rounding only
    assert float(a.std()) > 1.0
    model = onnx.load(str(path))
    assert pointwise_integer_matmul(model) == 1
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("Conv") == 1 and ops.count("MatMulIntegerToFloat") == 1  # conv1, the Q/DQ unit, stays
    mm = next(n for n in model.graph.node if n.op_type == "MatMulIntegerToFloat")
    transpose = next(n for n in model.graph.node if n.output[0] == mm.input[0])
    assert transpose.input[0] == "c1q" and list(transpose.attribute[0].ints) == [0, 2, 3, 1]  # the quantized bytes
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    raw = {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}
    np.testing.assert_array_equal(inits[mm.input[1]], raw["w2"].reshape(16, 16).T)  # B = weights as [Cin, Cout]
    np.testing.assert_array_equal(inits[mm.input[5]], raw["w2_z"])  # per-channel zero points kept
    np.testing.assert_array_equal(inits[mm.input[6]], raw["b2"].astype(np.float32) * raw["b2_s"])
    assert list(mm.input[2:5:2]) == ["s_act", "z_act"] and "dq_w2" not in {n.name for n in model.graph.node}
    assert next(n for n in model.graph.node if n.output[0] == "out").op_type == "Transpose"
    onnx.checker.check_model(model)
    assert rewrite_for_cpu(path, cpu=False) is None


def _qdq_concat(path: Path, *, other_scale: bool = False) -> Path:
    """images [1,3,8,8] -> Q/DQ -> two INT8 3x3 convs (6 ch each) -> Q/DQ -> Concat -> Q/DQ -> INT8 1x1 conv -> out,
    every tensor around the Concat with one scale (as `edge-sdk build` quantizes them), or with `other_scale` the
    second conv's output with its own."""
    rng = np.random.default_rng(9)
    inits, nodes = _quantized_input()
    inits += [_const("wa", rng.integers(-90, 90, (6, 3, 3, 3)).astype(np.int8)),
              _const("wb", rng.integers(-90, 90, (6, 3, 3, 3)).astype(np.int8)),
              _const("w_s", np.full(6, 0.01, np.float32)), _const("w_z", np.zeros(6, np.int8)),
              _const("w2", rng.integers(-90, 90, (4, 12, 1, 1)).astype(np.int8)),
              _const("w2_s", np.full(4, 0.02, np.float32)), _const("w2_z", np.zeros(4, np.int8)),
              _const("s_b", np.array(0.07 if other_scale else 0.05, np.float32)), _const("z_b", np.array(100, np.uint8))]
    for branch, (s, z) in {"a": ("s_act", "z_act"), "b": ("s_b", "z_b")}.items():
        nodes += [helper.make_node("DequantizeLinear", [f"w{branch}", "w_s", "w_z"], [f"w{branch}f"], axis=0),
                  helper.make_node("Conv", ["x", f"w{branch}f"], [f"c{branch}"], pads=[1, 1, 1, 1]),
                  helper.make_node("QuantizeLinear", [f"c{branch}", s, z], [f"c{branch}q"]),
                  helper.make_node("DequantizeLinear", [f"c{branch}q", s, z], [f"c{branch}f"])]
    nodes += [helper.make_node("Concat", ["caf", "cbf"], ["cat"], name="concat", axis=1),
              helper.make_node("QuantizeLinear", ["cat", "s_act", "z_act"], ["catq"]),
              helper.make_node("DequantizeLinear", ["catq", "s_act", "z_act"], ["catf"]),
              helper.make_node("DequantizeLinear", ["w2", "w2_s", "w2_z"], ["w2f"], axis=0),
              helper.make_node("Conv", ["catf", "w2f"], ["c2"]),
              helper.make_node("QuantizeLinear", ["c2", "s_act", "z_act"], ["c2q"]),
              helper.make_node("DequantizeLinear", ["c2q", "s_act", "z_act"], ["out"])]
    return _save(path, "concat", nodes, inits, [1, 3, 8, 8], [1, 4, 8, 8])


def test_concat_with_one_scale_runs_on_the_quantized_bytes_bit_for_bit(tmp_path: Path) -> None:
    path = _qdq_concat(tmp_path / "m.onnx")
    x = np.random.default_rng(10).random((1, 3, 8, 8), dtype=np.float32)
    a, b, applied = _plain_and_rewritten(path, x)
    assert applied == {"qdq-byte-concat": 1}
    np.testing.assert_array_equal(b, a)
    assert len(np.unique(a)) > 20
    model = onnx.load(str(path))
    assert qdq_byte_concat(model) == 1
    concat = next(n for n in model.graph.node if n.op_type == "Concat")
    assert list(concat.input) == ["caq", "cbq"] and list(concat.output) == ["catq"]
    written = {o for n in model.graph.node for o in n.output}
    assert not {"caf", "cbf", "cat"} & written  # the branches' DequantizeLinear and the Concat's Q/DQ round trip are gone
    assert [n.op_type for n in model.graph.node].count("QuantizeLinear") == 4
    onnx.checker.check_model(model, full_check=True)
    # an input with its own scale would need requantizing: left to ONNX Runtime's QLinearConcat
    other = _qdq_concat(tmp_path / "other.onnx", other_scale=True)
    rewritten = rewrite_for_cpu(other)
    assert rewritten is None or "qdq-byte-concat" not in rewritten.applied
    assert rewrite_for_cpu(path, cpu=False) is None


def test_head_rewrites_leave_half_precision_graphs_alone(tmp_path: Path) -> None:
    # their constants are float32; in a float16 graph they would not type-check (the session would not load)
    model = onnx.load(str(_dfl_like(tmp_path / "dfl.onnx")))
    for t in model.graph.initializer:
        if t.data_type == TensorProto.FLOAT:
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
    assert softmax_expectation(model) == 0
    head = onnx.load(str(_qdq_head(tmp_path / "head.onnx")))
    for t in head.graph.initializer:
        if t.name in ("w2_s", "b2_s"):  # opset 19+ dequantizes to the scale's type
            t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float16), t.name))
    assert float_conv_weights(head) == 0 and pointwise_integer_matmul(head) == 0


def test_a_rewrite_that_fails_half_way_leaves_the_graph_as_it_was(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Issue 26: a rewrite could leave the graph half-rewritten. Each is a transaction: the broken one (it removes
    every node, then fails) is skipped with a warning, the others apply to the untouched graph, and the outputs are
    the same as without the broken one."""
    from edge_sdk.engines import graph_rewrite

    path = _dfl_like(tmp_path / "m.onnx")
    x = np.random.default_rng(1).normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
    expected, applied = _outputs(path, x)

    def broken(model: Any) -> int:
        del model.graph.node[:]
        model.graph.initializer.pop()
        raise RuntimeError("half-way")

    monkeypatch.setattr(graph_rewrite, "REWRITES", {"broken": broken, **graph_rewrite.REWRITES})
    got, applied_now = _outputs(path, x)
    assert applied_now == applied == {"softmax-expectation": 1}
    np.testing.assert_array_equal(got, expected)
    assert "graph rewrite broken skipped" in caplog.text and "half-way" in caplog.text


def test_transaction_restores_every_part_of_the_model() -> None:
    from edge_sdk.onnx_graph import transaction

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
                              [numpy_helper.from_array(np.ones(1, np.float32), "c")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    before = model.SerializeToString()
    with pytest.raises(ValueError, match="boom"), transaction(model):
        model.graph.node[0].op_type = "Sigmoid"
        del model.graph.initializer[:]
        model.opset_import[0].version = 9
        raise ValueError("boom")
    assert model.SerializeToString() == before
    with transaction(model):  # a block that succeeds keeps its changes
        model.graph.node[0].name = "renamed"
    assert model.graph.node[0].name == "renamed"
