"""Contract tests of edge-sdk's logic for ENGINE FILES, on the `fake_tensorrt` and `fake_pycuda` STAND-INS (whose
Runtime refuses plans with TensorRT's own log lines): engines a user already has (trtexec's bare plan, Ultralytics'
JSON-headed .engine), checked for TensorRT version and GPU before use with one clear error, and edge-sdk's own
engines refused on a device their key does not match. Nothing here runs TensorRT."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_sdk.device.profiles import load_profile
from edge_sdk.engines.backends.tensorrt import TensorRtEngine, TensorRtEngineConfig
from edge_sdk.engines.trt.builder import build_engine
from edge_sdk.engines.trt.plan_file import read_plan, ultralytics_header
from edge_sdk.errors import ConfigError, EngineError
from tests.device.jetson_files import make_root
from tests.trt.conftest import InstallTrt
from tests.trt.fake_tensorrt import FakeState

AGX = load_profile("orin-agx")
ULTRALYTICS_META = {"description": "Ultralytics YOLOv8n model", "author": "Ultralytics", "version": "8.3.40",
                    "stride": 32, "task": "detect", "batch": 1, "imgsz": [32, 32], "names": {"0": "person", "1": "car"},
                    "args": {"half": True, "int8": False, "nms": False}, "half": True, "int8": False}


def plan_bytes(install: InstallTrt, detector: Path, tmp: Path, name: str = "10.3", **state: Any) -> bytes:
    """A serialized plan as the stand-in's builder makes it (with its own manifest removed)."""
    install(name, FakeState(**state))
    art = build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp / f"b-{name}", precision="fp16")
    return art.engine_path.read_bytes()


def ultralytics_file(path: Path, plan: bytes, meta: dict[str, Any] = ULTRALYTICS_META) -> Path:
    text = json.dumps(meta).encode()
    path.write_bytes(struct.pack("<i", len(text)) + text + plan)  # as ultralytics' exporter writes it
    return path


def test_edge_sdk_logic_a_trtexec_plan_loads_after_tensorrt_accepts_it(install_fake_trt: InstallTrt, fake_cuda: Any,
                                                                      detector: Path, tmp_path: Path) -> None:
    plan = tmp_path / "yolo.engine"
    plan.write_bytes(plan_bytes(install_fake_trt, detector, tmp_path))
    with TensorRtEngine(plan) as engine:
        assert engine.info.extra["origin"] == "trtexec" and engine.info.precision == "fp16"  # from its layers
        assert engine.info.inputs[0].shape == (1, 3, 32, 32) and len(engine.info.model_sha256) == 64
        engine.infer(np.zeros((1, 3, 32, 32), np.float32))


def test_edge_sdk_logic_an_ultralytics_engine_gives_its_metadata(install_fake_trt: InstallTrt, fake_cuda: Any,
                                                                 detector: Path, tmp_path: Path) -> None:
    path = ultralytics_file(tmp_path / "yolov8n.engine", plan_bytes(install_fake_trt, detector, tmp_path))
    parsed = read_plan(path)
    assert parsed.origin == "ultralytics" and parsed.metadata["names"] == {"0": "person", "1": "car"}
    assert parsed.precision == "fp16" and ultralytics_header(parsed.data) is None
    with TensorRtEngine(path) as engine:
        assert engine.info.extra["origin"] == "ultralytics" and engine.info.extra["metadata"]["imgsz"] == [32, 32]


def test_edge_sdk_logic_an_engine_of_another_tensorrt_is_a_clear_error(install_fake_trt: InstallTrt, fake_cuda: Any,
                                                                       detector: Path, tmp_path: Path) -> None:
    path = ultralytics_file(tmp_path / "old.engine", plan_bytes(install_fake_trt, detector, tmp_path, "8.6"))
    install_fake_trt("10.16")
    with pytest.raises(EngineError) as err:
        TensorRtEngine(path)
    assert "built with TensorRT 8.6.1.6; this is TensorRT 10.16.1.11, which cannot load it" in err.value.message
    assert "yolo export format=engine on this device" in (err.value.fix or "")
    assert fake_cuda.memory.context_depth == 0 and all(c.detached for c in fake_cuda.contexts)


def test_edge_sdk_logic_an_engine_of_another_gpu_is_a_clear_error(install_fake_trt: InstallTrt, fake_cuda: Any,
                                                                  detector: Path, tmp_path: Path) -> None:
    plan = tmp_path / "h100.engine"
    plan.write_bytes(plan_bytes(install_fake_trt, detector, tmp_path, gpu=("9.0", "H100")))
    install_fake_trt("10.3", FakeState(gpu=("8.7", "Orin")))
    with pytest.raises(EngineError, match=r"built for compute capability 9\.0; this GPU \(Fake GPU \(not CUDA\)\) is 8\.7"):
        TensorRtEngine(plan)


def test_edge_sdk_logic_another_gpu_model_of_the_same_capability_is_refused_unless_allowed(
        install_fake_trt: InstallTrt, fake_cuda: Any, detector: Path, tmp_path: Path) -> None:
    plan = tmp_path / "nx.engine"
    plan.write_bytes(plan_bytes(install_fake_trt, detector, tmp_path, gpu=("8.7", "Orin NX")))
    install_fake_trt("10.3", FakeState(gpu=("8.7", "Orin AGX")))
    with pytest.raises(EngineError, match="built on another model of GPU") as err:
        TensorRtEngine(plan)
    assert "engine.allow_other_device: true" in (err.value.fix or "")
    with TensorRtEngine(plan, allow_other_device=True) as engine:
        assert engine.info.extra["origin"] == "trtexec"


def test_edge_sdk_logic_a_file_that_is_no_plan_says_so(install_fake_trt: InstallTrt, fake_cuda: Any,
                                                       tmp_path: Path) -> None:
    install_fake_trt("10.3")
    (tmp_path / "model.onnx.engine").write_bytes(b"\x08\x07\x12\x0bpytorch" + bytes(100))
    with pytest.raises(EngineError, match="not a TensorRT engine"):
        TensorRtEngine(tmp_path / "model.onnx.engine")
    (tmp_path / "empty.engine").write_bytes(b"")
    with pytest.raises(EngineError, match="empty"):
        TensorRtEngine(tmp_path / "empty.engine")


def test_edge_sdk_logic_an_edge_sdk_engine_is_refused_after_a_jetpack_upgrade(install_fake_trt: InstallTrt,
                                                                              fake_cuda: Any, detector: Path,
                                                                              tmp_path: Path) -> None:
    install_fake_trt("10.3")
    root = make_root(tmp_path / "root", "R36.4.3")
    art = build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e", root=root)
    with TensorRtEngine(art.engine_path, root=root):
        pass
    upgraded = make_root(tmp_path / "root2", "R36.3.0")  # another JetPack, same TensorRT (a stand-in's licence)
    with pytest.raises(EngineError, match=r"jetpack '6\.2' \(engine\) -> '6\.0' \(here\)") as err:
        TensorRtEngine(art.engine_path, root=upgraded)
    assert "JetPack upgrade" in (err.value.fix or "")


def test_edge_sdk_logic_an_ultralytics_engine_runs_through_the_pipeline(install_fake_trt: InstallTrt, fake_cuda: Any,
                                                                        detector: Path, tmp_path: Path) -> None:
    """model.path: the user's yolov8n.engine: opened after TensorRT accepts it, labels and preprocessing from its
    header, the decoder chosen from its outputs, as for an ONNX model (edge_sdk.pipeline.build.open_model)."""
    from edge_sdk.config.loader import load_config_text
    from edge_sdk.pipeline.build import open_model
    from tests.support.run_model import config_for

    path = ultralytics_file(tmp_path / "yolov8n.engine", plan_bytes(install_fake_trt, detector, tmp_path))

    def zeros(addresses: dict[str, int], stream: int) -> None:
        fake_cuda.memory.view(addresses["output0"])[:] = 0

    install_fake_trt("10.3", FakeState(on_execute=zeros))
    (tmp_path / "frames").mkdir()
    text = config_for(tmp_path, path, tmp_path / "frames", extra="engine:\n  type: tensorrt\n")
    bundle = open_model(load_config_text(text, base_dir=tmp_path))
    try:
        assert bundle.metadata.names == {0: "person", 1: "car"} and bundle.decoder_name == "yolov8"
        assert bundle.preprocess is not None and bundle.preprocess.size == (32, 32)
        assert bundle.preprocess.origin["scale"] == "Ultralytics metadata" and bundle.preprocess.channel_order == "rgb"
        assert bundle.engine.info.extra["origin"] == "ultralytics"
    finally:
        bundle.engine.close()
    onnx_cfg = config_for(tmp_path, path, tmp_path / "frames")  # engine.type onnxruntime
    with pytest.raises(ConfigError, match=r"set engine\.type: tensorrt"):
        open_model(load_config_text(onnx_cfg, base_dir=tmp_path))
