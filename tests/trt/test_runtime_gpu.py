"""The runtime's CUDA side with REAL pycuda on a GPU: primary context, pinned and device buffers, zero-copy
mapped buffers, streams and copies, enqueue on caller streams. TensorRT is still the `fake_tensorrt` stand-in
(no TensorRT exists on the GPU machine either): its "engine" copies the first bytes of the input to the output
with a real cudaMemcpy, so what comes back shows that every pointer, copy and synchronization is right.
Marked `gpu`; skipped with the reason where pycuda or a GPU is absent (as in CI)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_sdk.device.probes import probe_pycuda
from edge_sdk.device.profiles import load_profile
from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig
from edge_sdk.engines.trt.builder import build_engine
from tests.trt.fake_tensorrt import FakeState, make_fake_tensorrt

pytestmark = pytest.mark.gpu
OUT_FLOATS = 6 * 64  # tiny detector 32x32: output0 [1, 6, 64]


@pytest.fixture()
def cuda() -> Any:
    probe = probe_pycuda()
    if not probe.available:
        pytest.skip(f"no GPU with pycuda here: {probe.detail}")
    import pycuda.driver as drv

    return drv


@pytest.fixture()
def engine_path(cuda: Any, detector: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    def copy_prefix(addresses: dict[str, int], stream: int) -> None:
        cuda.memcpy_dtod(addresses["output0"], addresses["images"], OUT_FLOATS * 4)

    fake, _ = make_fake_tensorrt("10", FakeState(on_execute=copy_prefix))
    monkeypatch.setitem(sys.modules, "tensorrt", fake)
    return build_engine(detector, None, load_profile("orin-agx"), TensorRtEngineConfig(), tmp_path / "e").engine_path


@pytest.mark.parametrize("zero_copy", [False, True])
def test_real_cuda_buffers_carry_the_data_through(cuda: Any, engine_path: Path, zero_copy: bool) -> None:
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    rng = np.random.default_rng(0)
    with TensorRtEngine(engine_path, slots=2, zero_copy=zero_copy) as engine:
        for _ in range(3):
            x = rng.random((1, 3, 32, 32), dtype=np.float32)
            out = engine.infer(x)
            np.testing.assert_array_equal(out[0].ravel(), x.ravel()[:OUT_FLOATS])
        assert engine.info.extra["gpu"]


def test_real_enqueue_on_caller_streams(cuda: Any, engine_path: Path) -> None:
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    with TensorRtEngine(engine_path, slots=2) as engine, engine.activated():
        streams = [cuda.Stream(), cuda.Stream()]
        xs = [np.full((1, 3, 32, 32), float(i + 1), np.float32) for i in range(2)]
        d_in = [cuda.mem_alloc(x.nbytes) for x in xs]
        outs = [cuda.pagelocked_empty((1, 6, 64), np.float32) for _ in xs]
        d_out = [cuda.mem_alloc(o.nbytes) for o in outs]
        for slot in (0, 1):
            cuda.memcpy_htod_async(d_in[slot], xs[slot], streams[slot])
            engine.enqueue(slot, streams[slot].handle, int(d_in[slot]), [int(d_out[slot])])
            cuda.memcpy_dtoh_async(outs[slot], d_out[slot], streams[slot])
        for s in streams:
            s.synchronize()
        assert [float(o.mean()) for o in outs] == [1.0, 2.0]
        for a in (*d_in, *d_out):
            a.free()
