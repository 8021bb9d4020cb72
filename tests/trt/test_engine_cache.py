"""Contract tests of edge-sdk's ENGINE CACHE LOGIC (manifest, rebuild reasons, checksum refusal, atomic writes),
with the `fake_tensorrt` stand-in building "engines". They test edge-sdk's logic, not TensorRT."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from edge_sdk.device.profiles import load_profile
from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig
from edge_sdk.engines.trt import cache
from edge_sdk.engines.trt.builder import build_engine
from edge_sdk.engines.trt.key import key_digest
from edge_sdk.errors import EngineError
from tests.trt.conftest import InstallTrt
from tests.trt.models import calibration_cache, tiny_detector

AGX = load_profile("orin-agx")
R36_3 = "# R36 (release), REVISION: 3.0, GCID: 36191598, BOARD: generic, EABI: aarch64, DATE: Mon May  6 17:34:21 UTC 2024\n"
R36_4_3 = "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025\n"


def jetson_root(root: Path, release: str, model: str = "NVIDIA Jetson AGX Orin Developer Kit",
                cuda: str = "12.6.68") -> Path:
    (root / "usr/local/cuda").mkdir(parents=True, exist_ok=True)
    (root / "usr/local/cuda/version.json").write_text(json.dumps({"cuda": {"name": "CUDA SDK", "version": cuda}}))
    (root / "etc").mkdir(parents=True, exist_ok=True)
    (root / "etc/nv_tegra_release").write_text(release)
    (root / "proc/device-tree").mkdir(parents=True, exist_ok=True)
    (root / "proc/device-tree/model").write_bytes(model.encode() + b"\x00")
    return root


def test_edge_sdk_logic_manifest_records_what_the_engine_depends_on(install_fake_trt: InstallTrt, qdq_detector: Path,
                                                                    tmp_path: Path) -> None:
    install_fake_trt("10")
    root = jetson_root(tmp_path / "root", R36_4_3)
    calib = calibration_cache(tmp_path / "c.cache")
    art = build_engine(qdq_detector, calib, AGX, TensorRtEngineConfig(), tmp_path / "e", root=root,
                       calibration_set_sha256="ab" * 32)
    m = json.loads(art.manifest_path.read_text())
    key = m["key"]
    assert key["onnx_sha256"] == cache.sha256_file(qdq_detector)
    assert key["calibration_set_sha256"] == "ab" * 32
    assert key["calibration_cache_sha256"] == cache.sha256_file(calib)
    assert key["tensorrt_version"] == "10.3.0.30" and key["l4t_release"] == "R36.4.3"
    assert key["board"] == "NVIDIA Jetson AGX Orin Developer Kit" and key["compute_capability"] == "8.7"
    assert key["precision"] == "int8" and key["dla_core"] is None
    assert key["builder"] == {"workspace_mb": 1024, "optimization_level": 3, "gpu_fallback": True, "tf32": True}
    assert key["cuda_version"] == "12.6" and key["jetpack"] == "6.2" and key["schema"] == 2
    assert m["device"]["jetpack"] == "6.2" and m["device"]["compute_capability_source"] == "profile"
    assert m["device"]["cuda_version_source"] == "toolkit" and m["key_digest"] == key_digest(key)
    assert m["engine_sha256"] == cache.sha256_file(art.engine_path) and m["engine_bytes"] == art.engine_path.stat().st_size


@pytest.mark.parametrize(("change", "expect"), [
    ("onnx", "onnx_sha256"), ("tensorrt", "tensorrt_version '10.3.0.30' -> '10.7.0.23'"),
    ("jetpack", "jetpack '6.0' -> '6.2'"), ("cuda", "cuda_version '12.2' -> '12.6'"), ("calibration", "calibration_set_sha256"),
    ("settings", "builder.optimization_level 3 -> 5"), ("precision", "no cached engine")])
def test_edge_sdk_logic_a_changed_dependency_rebuilds_with_a_reason(change: str, expect: str,
                                                                    install_fake_trt: InstallTrt, tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    _, rec = install_fake_trt("10")
    model = tiny_detector(tmp_path / "m.onnx")
    root = jetson_root(tmp_path / "root", R36_3, cuda="12.2.140")
    out = tmp_path / "engines"
    first = build_engine(model, None, AGX, TensorRtEngineConfig(), out, root=root, calibration_set_sha256="1" * 64)
    same = build_engine(model, None, AGX, TensorRtEngineConfig(), out, root=root, calibration_set_sha256="1" * 64)
    assert same.reused and len(rec.of("Builder.build_serialized_network")) == 1
    cfg, calib_set, precision = TensorRtEngineConfig(), "1" * 64, None
    if change == "onnx":
        tiny_detector(model, seed=1)
    elif change == "tensorrt":
        _, rec = install_fake_trt("10", version_text="10.7.0.23")
    elif change == "jetpack":
        jetson_root(root, R36_4_3, cuda="12.2.140")
    elif change == "cuda":
        jetson_root(root, R36_3, cuda="12.6.68")
    elif change == "calibration":
        calib_set = "2" * 64
    elif change == "settings":
        cfg = TensorRtEngineConfig(optimization_level=5)
    elif change == "precision":
        precision = "fp16"
    with caplog.at_level(logging.INFO, logger="edge_sdk"):
        again = build_engine(model, None, AGX, cfg, out, root=root, calibration_set_sha256=calib_set,
                             precision=precision)
    assert not again.reused and expect in again.reason
    assert any(expect in r.getMessage() and "building engine" in r.getMessage() for r in caplog.records)
    assert len(rec.of("Builder.build_serialized_network")) == (1 if change == "tensorrt" else 2)
    if change != "precision":
        assert again.engine_path == first.engine_path


def test_edge_sdk_logic_tampered_engine_is_rebuilt_and_never_loaded(install_fake_trt: InstallTrt, fake_cuda: object,
                                                                    detector: Path, tmp_path: Path) -> None:
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    _, rec = install_fake_trt("10")
    art = build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e")
    art.engine_path.write_bytes(art.engine_path.read_bytes() + b" ")
    inspected = len(rec.of("Runtime.deserialize_cuda_engine"))  # the build reads its engine's layers back
    with pytest.raises(EngineError, match="sha256 does not match its manifest; it will not be loaded"):
        TensorRtEngine(art.engine_path)
    assert len(rec.of("Runtime.deserialize_cuda_engine")) == inspected
    again = build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e")
    assert not again.reused and "sha256 does not match" in again.reason
    with TensorRtEngine(again.engine_path) as engine:
        assert engine.info.type == "tensorrt"
    assert len(rec.of("Runtime.deserialize_cuda_engine")) == 2 * inspected + 1


def test_edge_sdk_logic_cached_engine_without_manifest_is_not_trusted(install_fake_trt: InstallTrt, fake_cuda: object,
                                                                      detector: Path, tmp_path: Path) -> None:
    """The cache never reuses an engine without its manifest; opened by path, the same file is an engine built
    elsewhere (like trtexec's): loaded only once TensorRT accepts its version and GPU, and said so."""
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    install_fake_trt("10")
    art = build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e")
    art.manifest_path.unlink()
    assert "no manifest" in build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e").reason
    art.manifest_path.unlink()
    with TensorRtEngine(art.engine_path) as engine:
        assert engine.info.extra["origin"] == "trtexec" and engine.info.extra["manifest"] is None


def test_edge_sdk_logic_engine_of_another_tensorrt_is_refused_at_load(install_fake_trt: InstallTrt, fake_cuda: object,
                                                                      detector: Path, tmp_path: Path) -> None:
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    install_fake_trt("8.6")
    art = build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e")
    _, rec = install_fake_trt("10")
    with pytest.raises(EngineError, match=r"built with TensorRT 8.6.1.6, this is 10.3.0.30"):
        TensorRtEngine(art.engine_path)
    assert not rec.of("Runtime.deserialize_cuda_engine")


def test_edge_sdk_logic_writes_are_atomic_and_manifest_comes_last(install_fake_trt: InstallTrt, detector: Path,
                                                                  tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash between the engine and its manifest leaves an engine that is never trusted, and no temp files."""
    install_fake_trt("10")
    out = tmp_path / "e"

    def crash(path: Path, data: object, **_: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(cache, "write_json_atomic", crash)
    with pytest.raises(OSError, match="power cut"):
        build_engine(detector, None, AGX, TensorRtEngineConfig(), out)
    monkeypatch.undo()
    install_fake_trt("10")
    engines = list(out.glob("*.engine"))
    assert len(engines) == 1 and not cache.manifest_path_for(engines[0]).exists()
    assert cache.decide(engines[0], {}).reason == "cached engine has no manifest (never trusted)"
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]
    art = build_engine(detector, None, AGX, TensorRtEngineConfig(), out)
    assert not art.reused and art.manifest_path.exists()
