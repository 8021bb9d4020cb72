"""Contract tests of edge-sdk's BUILDER LOGIC on each TensorRT API path, against the `fake_tensorrt` stand-in.

These test edge-sdk's logic, not TensorRT: that on 8.6, 10.x and 11.x the builder sets exactly the intended
network and builder flags, memory limit, optimization level, DLA settings, calibrator and timing cache, and
refuses what it must. The stand-in's surface is the real API dump of each version, so a name the version
lacks fails these tests; nothing here shows that TensorRT builds a good engine (tests/trt/test_real_tensorrt.py
does that where TensorRT exists).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import onnx
import pytest

from edge_sdk.device.profiles import load_profile
from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig
from edge_sdk.engines.trt.builder import build_engine
from edge_sdk.errors import BuildError, CalibrationError, DeviceError
from tests.trt.conftest import InstallTrt
from tests.trt.fake_tensorrt import TARGET_NAMES, FakeState, Recorder, target
from tests.trt.models import calibration_cache, tiny_detector

PATHS = ("8.6", "10", "11")  # the API paths; "10" is 10.3 (JetPack 6.2)
TARGETS = TARGET_NAMES  # every dumped version, 10.16 (JetPack 7.2) included
AGX = load_profile("orin-agx")


def set_props(rec: Recorder, cls: str) -> dict[str, Any]:
    """Property assignments recorded on `cls`, name -> last value."""
    return {c.target.split(".", 1)[1][:-1]: c.args[0] for c in rec.calls
            if c.target.startswith(cls + ".") and c.target.endswith("=")}


def flag_names(rec: Recorder) -> list[str]:
    return sorted(c.args[0].name for c in rec.of("IBuilderConfig.set_flag"))


def network_flag_names(rec: Recorder, trt: Any) -> list[str]:
    mask = rec.of("Builder.create_network")[0].args[0]
    values = trt.NetworkDefinitionCreationFlag._values
    return [n for i, n in enumerate(values) if mask >> i & 1]


@pytest.mark.parametrize("name", TARGETS)
def test_edge_sdk_logic_int8_gpu_build_sets_exactly_the_intended_config(name: str, install_fake_trt: InstallTrt,
                                                                         qdq_detector: Path, tmp_path: Path) -> None:
    """edge-sdk logic, not TensorRT: an INT8 GPU build on each version."""
    trt, rec = install_fake_trt(name)
    path = target(name).path
    cfg = TensorRtEngineConfig(workspace_mb=512, optimization_level=4)
    art = build_engine(qdq_detector, None, AGX, cfg, tmp_path / "engines")
    assert art.precision == "int8" and not art.reused
    expected_flags = {"8.6": ["FP16", "INT8"], "10": ["FP16", "INT8"], "11": []}[path]
    assert flag_names(rec) == expected_flags
    assert network_flag_names(rec, trt) == {"8.6": ["EXPLICIT_BATCH"], "10": [], "11": ["STRONGLY_TYPED"]}[path]
    pools = rec.args_of("IBuilderConfig.set_memory_pool_limit")
    assert [(p.name, size) for p, size in pools] == [("WORKSPACE", 512 << 20)]
    props = set_props(rec, "IBuilderConfig")
    assert props["builder_optimization_level"] == 4
    assert props["profiling_verbosity"].name == "DETAILED"
    assert "DLA_core" not in props and "default_device_type" not in props and "int8_calibrator" not in props
    assert ("progress_monitor" in props) == (path != "8.6")
    assert len(rec.of("IBuilderConfig.create_timing_cache")) == 1 and len(rec.of("IBuilderConfig.set_timing_cache")) == 1
    assert rec.of("IBuilderConfig.set_timing_cache")[0].args[1] is False  # never ignore a mismatched cache
    assert not rec.missing
    manifest = json.loads(art.manifest_path.read_text())
    assert sorted(manifest["build"]["builder_flags"]) == expected_flags and manifest["build"]["api_path"] == path


@pytest.mark.parametrize("name", TARGETS)
def test_edge_sdk_logic_fp16_build_flags_and_11x_onnx_conversion(name: str, install_fake_trt: InstallTrt,
                                                                 detector: Path, tmp_path: Path) -> None:
    """edge-sdk logic, not TensorRT: FP16 is a flag on 8.6/10.x and FP16 tensor types in the ONNX on 11.x."""
    _, rec = install_fake_trt(name)
    path = target(name).path
    art = build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "engines", precision="fp16")
    assert art.precision == "fp16"
    assert art.layer_precisions is not None  # 4 layers, and on 11.x the two I/O Casts of the FP16 ONNX
    assert art.layer_precisions["counts"] == {"FP16": 6 if path == "11" else 4}
    assert flag_names(rec) == ([] if path == "11" else ["FP16"])
    parsed = Path(rec.args_of("OnnxParser.parse_from_file")[0][0])
    if path == "11":
        assert parsed.name == "tiny.fp16.onnx"
        model = onnx.load(str(parsed))
        assert [i.type.tensor_type.elem_type for i in model.graph.input] == [onnx.TensorProto.FLOAT]
        assert [o.type.tensor_type.elem_type for o in model.graph.output] == [onnx.TensorProto.FLOAT]
        assert {t.name: t.data_type for t in model.graph.initializer}["W"] == onnx.TensorProto.FLOAT16
    else:
        assert parsed == detector


@pytest.mark.parametrize("path", ("8.6", "10"))
def test_edge_sdk_logic_dla_int8_uses_cache_only_calibrator(path: str, install_fake_trt: InstallTrt,
                                                            qdq_detector: Path, tmp_path: Path) -> None:
    """edge-sdk logic, not TensorRT: DLA INT8 on 8.6/10.x sets DLA, GPU fallback and a calibrator reading the cache."""
    state = FakeState(num_dla_cores=2, dla_unsupported_ops=frozenset({"Sigmoid"}))
    _, rec = install_fake_trt(path, state)
    cache = calibration_cache(tmp_path / "tiny.cache")
    art = build_engine(qdq_detector, cache, AGX, TensorRtEngineConfig(dla_core=1), tmp_path / "engines")
    props = set_props(rec, "IBuilderConfig")
    assert props["default_device_type"].name == "DLA" and props["DLA_core"] == 1
    assert flag_names(rec) == ["FP16", "GPU_FALLBACK", "INT8"]
    calibrator = props["int8_calibrator"]
    assert bytes(calibrator.read_calibration_cache()) == cache.read_bytes()
    assert [c.target for c in rec.calls].count("IInt8EntropyCalibrator2.read_calibration_cache") >= 1
    assert art.fallback_layers == ("/model.0/act/Sigmoid (ACTIVATION)",)
    assert art.engine_path.name == "tiny.qdq.int8.dla1.engine"
    manifest = json.loads(art.manifest_path.read_text())
    assert manifest["key"]["dla_core"] == 1 and manifest["build"]["fallback_layers"] == list(art.fallback_layers)
    assert manifest["key"]["calibration_cache_sha256"] is not None
    assert not rec.missing


@pytest.mark.parametrize("path", ("8.6", "10"))
def test_edge_sdk_logic_dla_int8_without_calibration_cache_is_refused(path: str, install_fake_trt: InstallTrt,
                                                                      qdq_detector: Path, tmp_path: Path) -> None:
    _, rec = install_fake_trt(path, FakeState(num_dla_cores=2))
    with pytest.raises(BuildError, match="calibration cache"):
        build_engine(qdq_detector, None, AGX, TensorRtEngineConfig(dla_core=0), tmp_path / "engines")
    assert not rec.of("Builder.build_serialized_network")


@pytest.mark.parametrize("version", ["11.3.0.1", "10.16.1.11", "10.8.0.43"])
def test_edge_sdk_logic_dla_where_tensorrt_has_none_on_orin_is_an_error_not_a_gpu_build(
        version: str, install_fake_trt: InstallTrt, qdq_detector: Path, tmp_path: Path) -> None:
    """edge-sdk logic, not TensorRT: JetPack 7.2's 10.16 (and 10.8+, 11.0-11.3) have no DLA on Orin."""
    _, rec = install_fake_trt("11" if version.startswith("11") else "10.16", FakeState(num_dla_cores=2),
                              version_text=version)
    with pytest.raises(DeviceError, match="no DLA on Jetson Orin") as err:
        build_engine(qdq_detector, None, AGX, TensorRtEngineConfig(dla_core=0), tmp_path / "a")
    assert "dla_core: null" in (err.value.fix or "") and not rec.calls


def test_edge_sdk_logic_dla_on_11x_has_no_calibrator(install_fake_trt: InstallTrt, qdq_detector: Path,
                                                     tmp_path: Path) -> None:
    """edge-sdk logic, not TensorRT: 11.x DLA (11.4+) takes types from the ONNX, no calibrator."""
    _, rec = install_fake_trt("11", FakeState(num_dla_cores=2), version_text="11.4.0.106")
    build_engine(qdq_detector, None, AGX, TensorRtEngineConfig(dla_core=0), tmp_path / "b")
    props = set_props(rec, "IBuilderConfig")
    assert props["default_device_type"].name == "DLA" and props["DLA_core"] == 0
    assert "int8_calibrator" not in props and flag_names(rec) == ["GPU_FALLBACK"]
    assert not rec.missing


def test_edge_sdk_logic_dla_requests_the_board_cannot_serve_are_errors(install_fake_trt: InstallTrt,
                                                                       qdq_detector: Path, tmp_path: Path) -> None:
    _, rec = install_fake_trt("10", FakeState(num_dla_cores=2))
    cache = calibration_cache(tmp_path / "c.cache")
    with pytest.raises(DeviceError, match="no DLA core"):  # Orin Nano: refused before TensorRT is touched
        build_engine(qdq_detector, cache, load_profile("orin-nano"), TensorRtEngineConfig(dla_core=0), tmp_path / "e")
    assert not rec.calls
    with pytest.raises(DeviceError, match="fp32"):
        build_engine(tiny_detector(tmp_path / "f.onnx"), None, AGX, TensorRtEngineConfig(dla_core=0), tmp_path / "e",
                     precision="fp32")
    _, rec = install_fake_trt("10", FakeState(num_dla_cores=1))  # an Orin NX 8 GB: TensorRT reports one core
    with pytest.raises(DeviceError, match="TensorRT reports 1"):
        build_engine(qdq_detector, cache, AGX, TensorRtEngineConfig(dla_core=1), tmp_path / "e")


@pytest.mark.parametrize("path", PATHS)
def test_edge_sdk_logic_no_gpu_fallback_refuses_layers_dla_cannot_run(path: str, install_fake_trt: InstallTrt,
                                                                      detector: Path, tmp_path: Path) -> None:
    _, rec = install_fake_trt(path, FakeState(num_dla_cores=2, dla_unsupported_ops=frozenset({"Reshape", "Mul"})))
    with pytest.raises(BuildError, match=r"2 of [46] layers cannot run on DLA.*/model.1/Reshape \(SHUFFLE\)"):
        build_engine(detector, None, AGX, TensorRtEngineConfig(dla_core=0, gpu_fallback=False), tmp_path / "e",
                     precision="fp16")
    assert "GPU_FALLBACK" not in flag_names(rec) and not rec.of("Builder.build_serialized_network")


@pytest.mark.parametrize("path", PATHS)
def test_edge_sdk_logic_parser_errors_name_the_nodes(path: str, install_fake_trt: InstallTrt, detector: Path,
                                                     tmp_path: Path) -> None:
    """8.6 reports nodes by index only: edge-sdk maps it to the ONNX node's name; 10/11 give names."""
    install_fake_trt(path, FakeState(unsupported_ops=frozenset({"Sigmoid"})))
    with pytest.raises(BuildError) as err:
        build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e", precision="fp16")
    index = 2 if path == "11" else 1  # on 11.x the FP16-converted ONNX starts with an input Cast
    assert f"node {index} '/model.0/act/Sigmoid' (Sigmoid): No importer registered for op: Sigmoid" in str(err.value)


def test_edge_sdk_logic_failed_build_reports_tensorrt_errors(install_fake_trt: InstallTrt, detector: Path,
                                                             tmp_path: Path) -> None:
    install_fake_trt("10", FakeState(build_fails=True))
    with pytest.raises(BuildError, match="out of workspace memory"):
        build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e")
    assert not list((tmp_path / "e").glob("*.engine"))


def test_edge_sdk_logic_calibration_cache_missing_scales_refuses_build(install_fake_trt: InstallTrt,
                                                                       qdq_detector: Path, tmp_path: Path) -> None:
    install_fake_trt("10", FakeState(num_dla_cores=2, calibrator_short=True))
    with pytest.raises(BuildError, match="lacks scales"):
        build_engine(qdq_detector, calibration_cache(tmp_path / "c.cache"), AGX, TensorRtEngineConfig(dla_core=0),
                     tmp_path / "e")
    assert not list((tmp_path / "e").glob("*.engine"))


def test_edge_sdk_logic_bad_requests_are_refused_before_building(install_fake_trt: InstallTrt, detector: Path,
                                                                 tmp_path: Path) -> None:
    _, rec = install_fake_trt("10")
    with pytest.raises(BuildError, match="no Q/DQ nodes"):
        build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e", precision="int8")
    with pytest.raises(DeviceError, match="memory budget"):
        build_engine(detector, None, load_profile("orin-nano"), TensorRtEngineConfig(workspace_mb=4096), tmp_path / "e")
    bad = tmp_path / "bad.cache"
    bad.write_text("TRT-100300-EntropyCalibration2\nimages: zz\n")
    with pytest.raises(CalibrationError, match=r"bad.cache:2"):
        build_engine(detector, bad, AGX, TensorRtEngineConfig(), tmp_path / "e")
    assert not rec.of("Builder.build_serialized_network")


@pytest.mark.parametrize("path", PATHS)
def test_edge_sdk_logic_timing_cache_is_per_version_and_device_and_reused(path: str, install_fake_trt: InstallTrt,
                                                                          detector: Path, tmp_path: Path) -> None:
    _, rec = install_fake_trt(path)
    out = tmp_path / "engines"
    first = build_engine(detector, None, AGX, TensorRtEngineConfig(), out)
    timing = Path(first.manifest["build"]["timing_cache"])
    short = {"8.6": "8.6.1", "10": "10.3.0", "11": "11.4.0"}[path]
    assert timing == out / "timing-cache" / f"trt-{short}_orin-agx-sm87.cache"
    assert first.manifest["build"]["timing_cache_loaded_bytes"] == 0
    saved = timing.read_bytes()
    assert saved.startswith(b"FAKE-TIMING-CACHE|") and b"/model.0/conv/Conv" in saved
    second = build_engine(detector, None, AGX, TensorRtEngineConfig(), out, force=True)
    assert second.manifest["build"]["timing_cache_loaded_bytes"] == len(saved)
    assert bytes(rec.of("IBuilderConfig.create_timing_cache")[-1].args[0]) == saved


def test_edge_sdk_logic_timing_cache_tensorrt_rejects_is_replaced(install_fake_trt: InstallTrt, detector: Path,
                                                                  tmp_path: Path) -> None:
    out = tmp_path / "engines"
    stale = out / "timing-cache" / "trt-10.3.0_orin-agx-sm87.cache"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"a cache TensorRT does not accept")
    _, rec = install_fake_trt("10")
    build_engine(detector, None, AGX, TensorRtEngineConfig(), out)
    assert [c.args[0]._valid for c in rec.of("IBuilderConfig.set_timing_cache")] == [False, True]
    assert stale.read_bytes().startswith(b"FAKE-TIMING-CACHE|10.3.0.30|")


@pytest.mark.parametrize("name", TARGETS)
def test_edge_sdk_logic_a_float_model_builds_fp32_unless_fp16_is_asked_for(name: str, install_fake_trt: InstallTrt,
                                                                           detector: Path, tmp_path: Path) -> None:
    """edge-sdk logic, not TensorRT: precision fp32 (and no precision for a float32 model) sets no FP16 flag and
    converts nothing on 11.x; the build report lists every layer in FP32 and says so."""
    _, rec = install_fake_trt(name)
    for asked in ("fp32", None):
        art = build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / str(asked), precision=asked)
        assert art.precision == "fp32" and art.engine_path.name == "tiny.fp32.gpu.engine"
        assert art.layer_precisions is not None and art.layer_precisions["counts"] == {"FP32": 4}
        assert "4 layers: 4 FP32" in art.describe()
    assert flag_names(rec) == []
    assert [Path(a[0]).name for a in rec.args_of("OnnxParser.parse_from_file")] == ["tiny.onnx", "tiny.onnx"]


def test_edge_sdk_logic_layers_built_below_the_asked_precision_refuse_the_build(install_fake_trt: InstallTrt,
                                                                                detector: Path, tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """If TensorRT ever put layers in FP16 on an fp32 build, the build fails rather than ship it quietly."""
    from tests.trt import fake_tensorrt

    install_fake_trt("10.3")
    monkeypatch.setattr(fake_tensorrt, "_FORMAT", {**fake_tensorrt._FORMAT, "FP32": fake_tensorrt._FORMAT["FP16"]})
    with pytest.raises(BuildError, match="precision fp32 was asked for, but TensorRT built layers in a lower precision"):
        build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e", precision="fp32")
    assert not list((tmp_path / "e").glob("*.engine"))


def test_edge_sdk_logic_contradictory_precisions_are_errors(install_fake_trt: InstallTrt, detector: Path,
                                                            qdq_detector: Path, tmp_path: Path) -> None:
    _, rec = install_fake_trt("10.3")
    with pytest.raises(BuildError, match="FP16 was asked for but the model has Q/DQ nodes"):
        build_engine(qdq_detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e", precision="fp16")
    with pytest.raises(BuildError, match="INT8 was asked for but the model has no Q/DQ nodes"):
        build_engine(detector, None, AGX, TensorRtEngineConfig(), tmp_path / "e", precision="int8")
    assert not rec.of("Builder.build_serialized_network")
