"""`Engine.infer` checks once, in the base class, for every backend: open engine, input count and names, dtype,
shape against `info.inputs` with dynamic dimensions and a batch range; the backend's `infer_impl` only ever
sees checked arrays. Real ONNX Runtime sessions where the ONNX Runtime engine can load the model; a recording
engine (declared specs, numpy outputs) for the input kinds the detector check at open refuses today
(several inputs, uint8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.engines.base import Engine, EngineInfo, TensorSpec
from edge_sdk.errors import EngineError, EngineInputError


def mean_model(path: Path, *, batch: int | str = 1, hw: tuple[int, int] = (8, 8), elem: int = TensorProto.FLOAT) -> Path:
    """images [batch,3,H,W] -> output0 [batch,3]: the mean of each channel (so a batch keeps its frames apart)."""
    graph = helper.make_graph([helper.make_node("ReduceMean", ["images"], ["m"], axes=[2, 3], keepdims=0),
                               helper.make_node("Cast", ["m"], ["output0"], to=TensorProto.FLOAT)], "mean",
                              [helper.make_tensor_value_info("images", elem, [batch, 3, *hw])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [batch, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.save(model, str(path))
    return path


class RecordingEngine(Engine):
    """Declares `specs`; `infer_impl` records what it was given and returns the sum of each input."""

    def __init__(self, *specs: TensorSpec, batch_range: tuple[int, int] | None = None) -> None:
        self.info = EngineInfo(type="recording", model_path="/models/rec.onnx", model_sha256="", precision="fp32",
                               inputs=specs, outputs=(TensorSpec("sum", (1,), "float64"),), device="cpu",
                               batch_range=batch_range)
        self.seen: list[list[np.ndarray]] = []
        self.freed = 0

    def infer_impl(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        self.seen.append(inputs)
        return [np.array([float(x.sum()) for x in inputs])]

    def close_impl(self) -> None:
        self.freed += 1


def test_onnxruntime_refuses_a_wrong_size_with_where_and_fix(tmp_path: Path) -> None:
    with OnnxRuntimeEngine(mean_model(tmp_path / "m.onnx")) as engine, pytest.raises(EngineInputError) as err:
        engine.infer(np.zeros((1, 3, 8, 9), np.float32))
    assert "input 'images' has shape [1, 3, 8, 9]; the model takes [1,3,8,8]" in str(err.value)
    assert err.value.where == str(tmp_path / "m.onnx") and "letterbox" in (err.value.fix or "")
    assert isinstance(err.value, ValueError)  # a bad argument, as paho-mqtt raises them


def test_a_fixed_batch_says_how_to_batch_and_a_dynamic_batch_takes_any(tmp_path: Path) -> None:
    frames = np.stack([np.full((3, 8, 8), v, np.float32) for v in (0.1, 0.5, 0.9)])
    with OnnxRuntimeEngine(mean_model(tmp_path / "fixed.onnx")) as fixed, \
            pytest.raises(EngineInputError, match="fixed at 1") as err:
        fixed.infer(frames)
    assert "dynamic batch" in (err.value.fix or "")
    with OnnxRuntimeEngine(mean_model(tmp_path / "dyn.onnx", batch="N")) as dynamic:
        assert dynamic.info.inputs[0].shape[0] == "N"
        (out,) = dynamic.infer(frames)
        np.testing.assert_allclose(out[:, 0], [0.1, 0.5, 0.9], rtol=1e-6)
        assert dynamic.infer(frames[:1])[0].shape == (1, 3)


def test_float32_frames_go_into_a_float16_model_and_integers_never_mix_with_floats(tmp_path: Path) -> None:
    with OnnxRuntimeEngine(mean_model(tmp_path / "half.onnx", elem=TensorProto.FLOAT16)) as engine:
        assert engine.info.inputs[0].dtype == "float16"
        (out,) = engine.infer(np.full((1, 3, 8, 8), 0.25, np.float32))
        np.testing.assert_allclose(out, 0.25)
        with pytest.raises(EngineInputError, match="input 'images' is uint8; the model takes float16"):
            engine.infer(np.zeros((1, 3, 8, 8), np.uint8))
    rec = RecordingEngine(TensorSpec("images", (1, 640, 640, 3), "uint8"))  # an NHWC uint8-input model
    with pytest.raises(EngineInputError, match="is float32; the model takes uint8") as err:
        rec.infer(np.zeros((1, 640, 640, 3), np.float32))
    assert "0..255" in (err.value.fix or "") and not rec.seen
    rec.infer(np.zeros((1, 640, 640, 3), np.uint8))
    assert rec.seen[0][0].dtype == np.uint8


def test_several_inputs_by_order_or_by_name_reach_the_engine_in_declared_order() -> None:
    rec = RecordingEngine(TensorSpec("images", (1, 3, 4, 4), "float32"), TensorSpec("scale", (1, 2), "float32"))
    images, scale = np.ones((1, 3, 4, 4), np.float32), np.full((1, 2), 2.0, np.float32)
    assert rec.infer([images, scale])[0].tolist() == [48.0, 4.0]
    assert rec.infer({"scale": scale, "images": images})[0].tolist() == [48.0, 4.0]
    with pytest.raises(EngineInputError, match=r"the model has 2 inputs \(images, scale\); infer got one array"):
        rec.infer(images)
    with pytest.raises(EngineInputError, match="missing scale; unknown scales"):
        rec.infer({"images": images, "scales": scale})
    with pytest.raises(EngineInputError, match="infer got 3 arrays"):
        rec.infer([images, scale, scale])
    with pytest.raises(EngineInputError, match="'scale' is a list, not a numpy array"):
        rec.infer([images, [[2.0, 2.0]]])  # type: ignore[list-item]
    assert len(rec.seen) == 2


def test_a_batch_range_lets_a_batched_engine_vary_the_leading_dimension_on_every_input() -> None:
    """What batching frames of several cameras needs: 1..8 frames, the same count on all inputs."""
    rec = RecordingEngine(TensorSpec("images", (8, 3, 4, 4), "float32"), TensorSpec("sizes", (-1, 2), "float32"),
                          batch_range=(1, 8))
    rec.infer([np.zeros((3, 3, 4, 4), np.float32), np.zeros((3, 2), np.float32)])
    with pytest.raises(EngineInputError, match="input 'sizes' has a batch of 2, input 'images' one of 3"):
        rec.infer([np.zeros((3, 3, 4, 4), np.float32), np.zeros((2, 2), np.float32)])
    with pytest.raises(EngineInputError, match="has a batch of 9; the engine takes 1 to 8") as err:
        rec.infer([np.zeros((9, 3, 4, 4), np.float32), np.zeros((9, 2), np.float32)])
    assert "at most 8" in (err.value.fix or "")
    with pytest.raises(EngineInputError, match="the model takes"):  # the other dimensions stay fixed
        rec.infer([np.zeros((3, 3, 4, 5), np.float32), np.zeros((3, 2), np.float32)])
    with pytest.raises(EngineInputError, match="3 dimensions"):
        rec.infer([np.zeros((3, 4, 4), np.float32), np.zeros((3, 2), np.float32)])
    assert len(rec.seen) == 1


def test_a_closed_engine_refuses_before_the_backend_runs_and_close_frees_once(tmp_path: Path) -> None:
    rec = RecordingEngine(TensorSpec("images", (1, 3), "float32"))
    with rec:
        rec.infer(np.zeros((1, 3), np.float32))
    rec.close()
    assert rec.closed and rec.freed == 1
    with pytest.raises(EngineError, match="engine is closed") as err:
        rec.infer(np.zeros((1, 3), np.float32))
    assert err.value.where == "/models/rec.onnx" and len(rec.seen) == 1
    engine = OnnxRuntimeEngine(mean_model(tmp_path / "m.onnx"))
    engine.close()
    with pytest.raises(EngineError, match="engine is closed"):
        engine.infer(np.zeros((1, 3, 8, 8), np.float32))
