"""Real TensorRT: build the demo model (or a tiny detector where the demo model is not there yet), run it, and
compare with ONNX Runtime FP32. Marked `tensorrt` and `gpu`; skipped with the reason where TensorRT or
pycuda is absent (as in CI). These are the only tests here that say anything about TensorRT itself."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_sdk.decode.base import DecodeParams
from edge_sdk.decode.registry import detect_layout, get_decoder
from edge_sdk.device.compare import FP16, INT8, compare
from edge_sdk.device.probes import probe_pycuda
from edge_sdk.device.profiles import DeviceProfile, resolve_profile
from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig
from edge_sdk.engines.trt.builder import build_engine
from edge_sdk.errors import DependencyMissing
from tests.conftest import DEMO_MODEL
from tests.trt.models import tiny_detector

pytestmark = [pytest.mark.tensorrt, pytest.mark.gpu]


@pytest.fixture(scope="module", autouse=True)
def real_tensorrt() -> None:
    from edge_sdk.engines.trt.version import require_tensorrt

    try:
        require_tensorrt()
    except DependencyMissing as exc:
        pytest.skip(f"TensorRT is absent here: {exc.message}")
    cuda = probe_pycuda()
    if not cuda.available:
        pytest.skip(f"pycuda/CUDA unavailable: {cuda.detail}")


@pytest.fixture()
def profile() -> DeviceProfile:
    return resolve_profile("auto")


def frames(hw: tuple[int, int], n: int = 4) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.random((1, 3, *hw), dtype=np.float32) for _ in range(n)]


def reference(model: Path, batches: list[np.ndarray]) -> tuple[list[list[np.ndarray]], str]:
    with OnnxRuntimeEngine(model) as eng:
        outs = [eng.infer(b) for b in batches]
        return outs, detect_layout(eng.info.outputs[0].shape, None, eng.info.input_hw)


def model_under_test(tmp_path: Path) -> Path:
    return DEMO_MODEL if DEMO_MODEL.exists() else tiny_detector(tmp_path / "tiny.onnx", hw=(64, 64))


def test_real_fp16_engine_matches_onnxruntime(tmp_path: Path, profile: DeviceProfile) -> None:
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    model = model_under_test(tmp_path)
    art = build_engine(model, None, profile, TensorRtEngineConfig(workspace_mb=min(1024, profile.memory_budget_mb)),
                       tmp_path / "engines")
    with TensorRtEngine(art.engine_path, slots=2) as engine:
        batches = frames(engine.info.input_hw)
        got = [engine.infer(b) for b in batches]
    ref, layout = reference(model, batches)
    result = compare(ref, got, get_decoder(layout), DecodeParams(), FP16)
    assert result.ok, result.describe()
    again = build_engine(model, None, profile, TensorRtEngineConfig(workspace_mb=min(1024, profile.memory_budget_mb)),
                         tmp_path / "engines")
    assert again.reused, again.reason


def test_real_int8_qdq_engine_finds_what_onnxruntime_finds(tmp_path: Path, profile: DeviceProfile) -> None:
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    model = tiny_detector(tmp_path / "tiny.qdq.onnx", hw=(64, 64), qdq=True)
    art = build_engine(model, None, profile, TensorRtEngineConfig(workspace_mb=512), tmp_path / "engines")
    assert art.precision == "int8"
    with TensorRtEngine(art.engine_path, slots=1) as engine:
        batches = frames(engine.info.input_hw)
        got = [engine.infer(b) for b in batches]
    ref, layout = reference(model, batches)
    result = compare(ref, got, get_decoder(layout), DecodeParams(conf_thres=0.5), INT8)
    assert result.ok, result.describe()


def test_real_enqueue_on_caller_streams(tmp_path: Path, profile: DeviceProfile) -> None:
    import pycuda.driver as cuda

    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    model = tiny_detector(tmp_path / "tiny.onnx", hw=(64, 64))
    art = build_engine(model, None, profile, TensorRtEngineConfig(workspace_mb=512), tmp_path / "engines")
    with TensorRtEngine(art.engine_path, slots=2) as engine, engine.activated():
        x = frames(engine.info.input_hw, 2)
        streams = [cuda.Stream(), cuda.Stream()]
        d_in = [cuda.mem_alloc(b.nbytes) for b in x]
        outs = [np.empty(engine.outputs[0].shape, np.float32) for _ in x]
        d_out = [cuda.mem_alloc(o.nbytes) for o in outs]
        for slot in (0, 1):
            cuda.memcpy_htod_async(d_in[slot], x[slot], streams[slot])
            engine.enqueue(slot, streams[slot].handle, int(d_in[slot]), [int(d_out[slot])])
            cuda.memcpy_dtoh_async(outs[slot], d_out[slot], streams[slot])
        for s in streams:
            s.synchronize()
        for a in (*d_in, *d_out):
            a.free()
    ref, _ = reference(model, x)
    for slot in (0, 1):
        np.testing.assert_allclose(outs[slot], ref[slot][0], rtol=0.02, atol=0.02 * float(np.abs(ref[slot][0]).max()))


def test_real_dla_engine(tmp_path: Path, profile: DeviceProfile) -> None:
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    if profile.dla_cores == 0:
        pytest.skip(f"profile {profile.name} has no DLA")
    model = tiny_detector(tmp_path / "tiny.onnx", hw=(64, 64))
    art = build_engine(model, None, profile, TensorRtEngineConfig(dla_core=0, workspace_mb=512), tmp_path / "engines")
    with TensorRtEngine(art.engine_path, slots=1) as engine:
        assert engine.info.device == "dla:0"
        batches = frames(engine.info.input_hw)
        got = [engine.infer(b) for b in batches]
    ref, layout = reference(model, batches)
    assert compare(ref, got, get_decoder(layout), DecodeParams(conf_thres=0.5), FP16).ok
