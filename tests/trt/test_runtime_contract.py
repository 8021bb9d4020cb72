"""Contract tests of edge-sdk's RUNTIME LOGIC on each API path, with the `fake_tensorrt` and `fake_pycuda`
stand-ins. They test edge-sdk's logic, not TensorRT or CUDA: tensors bound by name with execute_async_v3 on
10/11, bindings in index order with execute_async_v2 on 8.6, one context per slot, copies in and out, the
CUDA context current around every use, everything freed once. The "engine" computes its output with numpy
from the bytes at the input address (the stand-in's `on_execute`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_sdk.device.profiles import load_profile
from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig
from edge_sdk.engines.registry import open_engine
from edge_sdk.engines.trt.builder import build_engine
from edge_sdk.errors import EngineError
from tests.trt.conftest import InstallTrt
from tests.trt.fake_tensorrt import FakeState

PATHS = ("8.6", "10", "11")
AGX = load_profile("orin-agx")


def summing_engine(cuda: Any) -> Any:
    """on_execute: every output element = sum of the input (float32), so results depend on the input's bytes."""

    def run(addresses: dict[str, int], stream: int) -> None:
        cuda.memory.require_context()
        x = cuda.memory.view(addresses["images"]).view(np.float32)
        out = cuda.memory.view(addresses["output0"]).view(np.float32)
        out[:] = np.float32(x.sum())

    return run


@pytest.mark.parametrize("zero_copy", [False, True])
@pytest.mark.parametrize("path", PATHS)
def test_edge_sdk_logic_infer_binds_tensors_the_way_of_each_path(path: str, zero_copy: bool, install_fake_trt: InstallTrt,
                                                                 fake_cuda: Any, detector: Path, tmp_path: Path) -> None:
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    _, rec = install_fake_trt(path, FakeState(on_execute=summing_engine(fake_cuda)))
    art = build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e", precision="fp16")
    with TensorRtEngine(art.engine_path, slots=2, zero_copy=zero_copy) as engine:
        assert engine.info.inputs[0].shape == (1, 3, 32, 32) and engine.info.outputs[0].shape == (1, 6, 64)
        assert engine.info.precision == "fp16" and engine.info.device == "cuda:0" and engine.slots == 2
        x = np.full((1, 3, 32, 32), 0.5, np.float32)
        first = engine.infer(x)
        assert first[0].dtype == np.float32 and np.all(first[0] == np.float32(0.5 * x.size))
        first[0][:] = -1  # the caller owns the result: the next inference is unaffected
        second = engine.infer(np.ones_like(x))
        assert np.all(second[0] == x.size) and np.all(first[0] == -1)
        with pytest.raises(ValueError, match="shape"):
            engine.infer(np.ones((1, 3, 16, 16), np.float32))
    if path == "8.6":
        assert len(rec.of("IExecutionContext.execute_async_v2")) == 2 and not rec.of("IExecutionContext.execute_async_v3")
        bindings = rec.of("IExecutionContext.execute_async_v2")[0].args[0]
        assert len(bindings) == 2 and all(bindings)
    else:
        assert len(rec.of("IExecutionContext.execute_async_v3")) == 2
        names = [c.args[0] for c in rec.of("IExecutionContext.set_tensor_address")]
        assert names == ["images", "output0"] * 2
    assert not rec.missing
    assert not fake_cuda.memory.blocks and fake_cuda.memory.context_depth == 0
    assert all(ctx.detached for ctx in fake_cuda.contexts)


@pytest.mark.parametrize("path", PATHS)
def test_edge_sdk_logic_enqueue_uses_one_context_per_slot(path: str, install_fake_trt: InstallTrt, fake_cuda: Any,
                                                          detector: Path, tmp_path: Path) -> None:
    """The CUDA-stream runner's entry point: caller-owned pointers and streams, one execution context per slot."""
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    seen: list[tuple[dict[str, int], int]] = []
    _, rec = install_fake_trt(path, FakeState(on_execute=lambda addr, stream: seen.append((addr, stream))))
    art = build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e")
    with TensorRtEngine(art.engine_path, slots=2) as engine, engine.activated():
        from edge_sdk.cuda.api import SlotBinding, StreamEngine

        assert engine.stream_engine() is engine and isinstance(engine, StreamEngine)  # the runner drives it as it is
        engine.prepare_slots([SlotBinding(i, 11 + i, 0x1000, (0x2000,)) for i in range(2)])
        with pytest.raises(EngineError, match=r"uses 3 slots but the TensorRT engine was opened with 2"):
            engine.prepare_slots([SlotBinding(i, 0, 0, (0,)) for i in range(3)])
        engine.enqueue(0, 11, 0x1000, [0x2000])
        engine.enqueue(1, 12, 0x3000, (0x4000,))
        with pytest.raises(ValueError, match="slot 2 out of range"):
            engine.enqueue(2, 13, 0x1000, [0x2000])
        with pytest.raises(ValueError, match="1 outputs"):
            engine.enqueue(0, 11, 0x1000, [0x2000, 0x5000])
        with pytest.raises(EngineError, match="could not enqueue"):
            engine.enqueue(0, 11, 0, [0x2000])  # TensorRT returns False for a null address
    assert seen[:2] == [({"images": 0x1000, "output0": 0x2000}, 11), ({"images": 0x3000, "output0": 0x4000}, 12)]
    runs = [c for c in rec.calls if c.target in ("IExecutionContext.execute_async_v3", "IExecutionContext.execute_async_v2")]
    assert len(runs) == 3 and runs[0].receiver is not runs[1].receiver and runs[2].receiver is runs[0].receiver


def test_edge_sdk_logic_closed_engine_refuses_and_close_is_idempotent(install_fake_trt: InstallTrt, fake_cuda: Any,
                                                                      detector: Path, tmp_path: Path) -> None:
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    install_fake_trt("10", FakeState(on_execute=summing_engine(fake_cuda)))
    art = build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e")
    engine = TensorRtEngine(art.engine_path)
    engine.infer(np.zeros((1, 3, 32, 32), np.float32))
    engine.close()
    engine.close()
    with pytest.raises(EngineError, match="closed"):
        engine.infer(np.zeros((1, 3, 32, 32), np.float32))
    with pytest.raises(EngineError, match="closed"):
        engine.enqueue(0, 1, 1, [1])
    assert not fake_cuda.memory.blocks and len(fake_cuda.memory.freed) == 2


def test_edge_sdk_logic_open_tensorrt_builds_an_onnx_then_loads_from_the_cache(install_fake_trt: InstallTrt,
                                                                              fake_cuda: Any, detector: Path) -> None:
    """engine.type tensorrt on an .onnx: built once into engine_dir (relative to the model), then reused."""
    _, rec = install_fake_trt("10", FakeState(on_execute=summing_engine(fake_cuda)))
    cfg = TensorRtEngineConfig(engine_dir="engines", slots=1)
    with open_engine("tensorrt", str(detector), cfg) as engine:
        assert engine.info.type == "tensorrt"
        assert Path(engine.info.model_path) == detector.parent / "engines" / "tiny.fp32.gpu.engine"
    with open_engine("tensorrt", str(detector), cfg) as engine:
        out = engine.infer(np.ones((1, 3, 32, 32), np.float32))
        assert out[0].shape == (1, 6, 64)
    assert len(rec.of("Builder.build_serialized_network")) == 1
    with open_engine("tensorrt", str(detector.parent / "engines" / "tiny.fp32.gpu.engine"), cfg) as engine:
        assert engine.info.precision == "fp32"  # a float model's own precision: never FP16 unless asked


def test_edge_sdk_logic_engine_that_tensorrt_cannot_deserialize_is_an_error(install_fake_trt: InstallTrt,
                                                                            fake_cuda: Any, detector: Path,
                                                                            tmp_path: Path) -> None:
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine
    from edge_sdk.engines.trt import cache

    install_fake_trt("10")
    art = build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e")
    manifest = cache.read_manifest(art.manifest_path)
    cache.store(art.engine_path, b"not an engine", {k: v for k, v in manifest.items() if not k.startswith("engine_")})
    with pytest.raises(EngineError, match="not a TensorRT engine"):
        TensorRtEngine(art.engine_path)
    assert fake_cuda.memory.context_depth == 0 and all(c.detached for c in fake_cuda.contexts)


def test_edge_sdk_logic_missing_pycuda_is_reported_before_any_build(install_fake_trt: InstallTrt, detector: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from edge_sdk.errors import DependencyMissing

    _, rec = install_fake_trt("10")
    monkeypatch.setitem(sys.modules, "pycuda", None)
    monkeypatch.setitem(sys.modules, "pycuda.driver", None)
    with pytest.raises(DependencyMissing, match="pycuda") as err:
        open_engine("tensorrt", str(detector), TensorRtEngineConfig())
    assert "[jetson]" in (err.value.fix or "") and not rec.calls
