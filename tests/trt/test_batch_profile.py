"""Contract tests of edge-sdk's logic for TensorRT engines that take a batch, on each API path, with the
`fake_tensorrt` and `fake_pycuda` STAND-INS (TensorRT and CUDA are absent here; this proves nothing about TensorRT
itself): a dynamic batch gets one optimization profile (min 1, opt and max from the config), shared by every
slot's context (8.6: PROFILE_SHARING_0806), in the engine's cache key; at run time the batch range comes from the
profile, each inference sets its batch on its context, and each image's outputs are its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_sdk.device.profiles import load_profile
from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig
from edge_sdk.engines.batch import BatchPlan
from edge_sdk.engines.trt.builder import build_engine
from edge_sdk.errors import EngineError, EngineInputError
from tests.trt.conftest import InstallTrt
from tests.trt.fake_tensorrt import FakeState
from tests.trt.models import tiny_detector

PATHS = ("8.6", "10", "11")
AGX = load_profile("orin-agx")


def per_image_sums(cuda: Any, state: FakeState) -> Any:
    """on_execute: each image's output row = the sum of that image's input (float32): rows show which image."""

    def run(addresses: dict[str, int], stream: int) -> None:
        batch = state.batches[-1] or 1
        x = cuda.memory.view(addresses["images"]).view(np.float32)[: batch * 3 * 32 * 32].reshape(batch, -1)
        out = cuda.memory.view(addresses["output0"]).view(np.float32)[: batch * 6 * 64].reshape(batch, -1)
        out[:] = x.sum(axis=1, keepdims=True)

    return run


@pytest.mark.parametrize("path", PATHS)
def test_a_dynamic_batch_is_built_with_one_profile_from_the_config(path: str, install_fake_trt: InstallTrt,
                                                                   tmp_path: Path) -> None:
    state = FakeState()
    _, rec = install_fake_trt(path, state)
    model = tiny_detector(tmp_path / "b.onnx", batch="batch")
    art = build_engine(model, None, AGX, TensorRtEngineConfig(max_batch=8, opt_batch=4), tmp_path / "e")
    built = state.built_engines[-1]
    assert built["profiles"] == [{"images": [[1, 3, 32, 32], [4, 3, 32, 32], [8, 3, 32, 32]]}]
    assert ("PROFILE_SHARING_0806" in built["preview_features"]) == (path == "8.6")
    assert art.manifest["key"]["builder"]["batch_profile"] == [1, 4, 8]  # type: ignore[index]
    assert "profile batch 1/4/8" in art.manifest["build"]["builder_flags"]  # type: ignore[index]
    assert not rec.missing
    fixed = build_engine(tiny_detector(tmp_path / "f.onnx"), None, AGX, TensorRtEngineConfig(max_batch=8), tmp_path / "e")
    assert "batch_profile" not in fixed.manifest["key"]["builder"]  # type: ignore[index,operator]
    assert state.built_engines[-1]["profiles"] == []  # a fixed batch: no profile, the key as before


def test_another_profile_rebuilds_the_engine(install_fake_trt: InstallTrt, tmp_path: Path) -> None:
    state = FakeState()
    install_fake_trt("10", state)
    model = tiny_detector(tmp_path / "b.onnx", batch="batch")
    build_engine(model, None, AGX, TensorRtEngineConfig(max_batch=4), tmp_path / "e")
    again = build_engine(model, None, AGX, TensorRtEngineConfig(max_batch=4), tmp_path / "e")
    assert again.reused
    more = build_engine(model, None, AGX, TensorRtEngineConfig(max_batch=8), tmp_path / "e")  # 8 cameras now
    assert not more.reused and len(state.built_engines) == 2


@pytest.mark.parametrize("path", PATHS)
def test_each_inference_sets_its_batch_and_each_image_gets_its_own_outputs(path: str, install_fake_trt: InstallTrt,
                                                                           fake_cuda: Any, tmp_path: Path) -> None:
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    state = FakeState()
    state.on_execute = per_image_sums(fake_cuda, state)
    _, rec = install_fake_trt(path, state)
    art = build_engine(tiny_detector(tmp_path / "b.onnx", batch="batch"), None, AGX, TensorRtEngineConfig(max_batch=4),
                       tmp_path / "e")
    with TensorRtEngine(art.engine_path, slots=2) as engine:
        assert engine.info.batch_range == (1, 4) and engine.info.inputs[0].shape[0] == -1
        assert BatchPlan.of(engine.info, 4) == BatchPlan(4, 4, True)
        x = np.stack([np.full((3, 32, 32), v, np.float32) for v in (0.0, 1.0, 2.0)])
        out = engine.infer(x)[0]
        assert out.shape == (3, 6, 64)
        np.testing.assert_allclose(out[:, 0, 0], [0.0, 3 * 32 * 32, 2 * 3 * 32 * 32])
        assert engine.infer(x[:1])[0].shape == (1, 6, 64)
        with pytest.raises(EngineInputError, match="batch of 5; the engine takes 1 to 4"):
            engine.infer(np.zeros((5, 3, 32, 32), np.float32))
        cuda = engine.cuda
        assert cuda is not None
        with engine.activated():  # the runner's entry point: its own buffers, slot 1's context
            x_mem, out_mem = cuda.device_alloc(x.nbytes), cuda.device_alloc(4 * 6 * 64 * 4)
            engine.enqueue(1, 9, x_mem.ptr, [out_mem.ptr], 2)
            with pytest.raises(EngineError, match="refused a batch of 5"):
                engine.enqueue(1, 9, x_mem.ptr, [out_mem.ptr], 5)
            cuda.free_device(x_mem)
            cuda.free_device(out_mem)
    shapes = [(c.receiver, c.args) for c in rec.of("IExecutionContext.set_input_shape")]
    assert [a for _, a in shapes] == [("images", (4, 3, 32, 32)), ("images", (3, 3, 32, 32)),
                                      ("images", (1, 3, 32, 32)), ("images", (2, 3, 32, 32)), ("images", (5, 3, 32, 32))]
    assert shapes[3][0] is not shapes[0][0]  # slot 1 sets its own context's batch
    assert state.batches == [3, 1, 2] and not rec.missing


def test_a_dla_engine_takes_exactly_its_max_batch(install_fake_trt: InstallTrt, fake_cuda: Any, tmp_path: Path) -> None:
    """DLA has no dynamic shapes: the profile is min = opt = max, and the pipeline pads a partial batch."""
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    state = FakeState(num_dla_cores=2)
    install_fake_trt("10", state)
    art = build_engine(tiny_detector(tmp_path / "b.onnx", batch="batch"), None, AGX,
                       TensorRtEngineConfig(max_batch=4, dla_core=0), tmp_path / "e", precision="fp16")
    assert state.built_engines[-1]["profiles"] == [{"images": [[4, 3, 32, 32]] * 3}]
    with TensorRtEngine(art.engine_path, slots=1) as engine:
        assert engine.info.batch_range == (4, 4) and BatchPlan.of(engine.info, 2) == BatchPlan(4, 2, False)
