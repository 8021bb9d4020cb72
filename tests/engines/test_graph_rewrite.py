"""The in-memory graph rewrites ONNX Runtime models get before loading: exact results, only where they apply."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge_sdk.engines.graph_rewrite import rewrite_for_cpu, softmax_last_axis
from edge_sdk.engines.onnxrt import OnnxRuntimeEngine


def _dfl_like(path: Path, *, opset: int = 17, axis: int = 1) -> Path:
    """images [1,3,8,8] -> Conv to 64 channels -> Reshape [1,4,16,64] -> Transpose -> Softmax(axis) -> 1x1 Conv."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(0, 2, (64, 3, 1, 1)).astype(np.float32), "w"),
             numpy_helper.from_array(np.array([1, 4, 16, 64], np.int64), "shape"),
             numpy_helper.from_array(np.arange(16, dtype=np.float32).reshape(1, 16, 1, 1), "bins"),
             numpy_helper.from_array(np.array([1, 4, 64], np.int64), "shape2")]
    nodes = [helper.make_node("Conv", ["images", "w"], ["c"], name="conv"),
             helper.make_node("Reshape", ["c", "shape"], ["r"], name="reshape"),
             helper.make_node("Transpose", ["r"], ["t"], name="transpose", perm=[0, 2, 1, 3]),
             helper.make_node("Softmax", ["t"], ["s"], name="softmax", axis=axis),
             helper.make_node("Conv", ["s", "bins"], ["d"], name="dfl"),
             helper.make_node("Reshape", ["d", "shape2"], ["out"], name="reshape2")]
    graph = helper.make_graph(nodes, "dfl", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4, 64])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_softmax_over_a_middle_axis_is_rewritten_exactly(tmp_path: Path) -> None:
    path = _dfl_like(tmp_path / "m.onnx")
    x = np.random.default_rng(1).normal(0, 1, (1, 3, 8, 8)).astype(np.float32)
    with OnnxRuntimeEngine(path, graph_rewrites=False) as plain, OnnxRuntimeEngine(path) as rewritten:
        assert plain.info.extra["graph_rewrites"] == {}
        assert rewritten.info.extra["graph_rewrites"] == {"softmax-last-axis": 1}
        a, b = plain.infer(x)[0], rewritten.infer(x)[0]
    assert a.shape == b.shape == (1, 4, 64)
    np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)
    assert float(a.max()) > 1.0  # a real expectation over the 16 bins, not a degenerate output
    model = onnx.load(str(path))
    assert softmax_last_axis(model) == 1
    ops = [(n.op_type, [a.i for a in n.attribute if a.name == "axis"]) for n in model.graph.node]
    assert ("Softmax", [3]) in ops and ops.count(("Transpose", [])) == 3
    onnx.checker.check_model(model, full_check=True)


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
        assert fast.info.extra["graph_rewrites"] == {"softmax-last-axis": 1}
        np.testing.assert_allclose(fast.infer(x)[0], plain.infer(x)[0], rtol=1e-5, atol=1e-3)
