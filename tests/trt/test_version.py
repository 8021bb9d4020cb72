"""TensorRT version -> API path, DLA availability, and how absent TensorRT is reported (real import here)."""

from __future__ import annotations

import logging
import sys
import types

import pytest

from edge_sdk.engines.trt.version import FEATURES, parse_version, require_tensorrt
from edge_sdk.errors import DependencyMissing, DeviceError


@pytest.mark.parametrize(("text", "path"), [("8.6.2.3", "8.6"), ("8.6.1", "8.6"), ("10.3.0.30", "10"),
                                            ("10.13.0.35", "10"), ("11.4.0.106", "11")])
def test_versions_map_to_their_api_path(text: str, path: str) -> None:
    v = parse_version(text)
    assert v.path == path and v.features is FEATURES[path]


@pytest.mark.parametrize("text", ["8.5.2.2", "8.4.1", "9.3.0", "7.1.3"])
def test_unsupported_versions_say_which_jetpack_to_install(text: str) -> None:
    with pytest.raises(DeviceError, match="JetPack 6"):
        _ = parse_version(text).path


def test_a_newer_major_takes_the_11x_path_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="edge_sdk"):
        assert parse_version("12.0.1").path == "11"
    assert "newer than edge-sdk knows" in caplog.text


@pytest.mark.parametrize(("text", "dla"), [("8.6.2", True), ("10.3.0", True), ("10.7.0.23", True), ("10.8.0", False),
                                           ("10.16.1.11", False), ("11.0.0", False), ("11.3.0", False),
                                           ("11.4.0.106", True), ("11.5.0", True)])
def test_dla_on_orin_by_version_as_jetpack_ships_it(text: str, dla: bool) -> None:
    """JetPack 6.2 (10.3) has DLA; JetPack 7.2 (10.16) has none; TensorRT 11 brings it back from 11.4."""
    assert parse_version(text).dla_supported is dla


def test_features_differ_exactly_as_documented() -> None:
    f86, f10, f11 = FEATURES["8.6"], FEATURES["10"], FEATURES["11"]
    assert (f86.explicit_batch_flag, f10.explicit_batch_flag, f11.explicit_batch_flag) == (True, False, False)
    assert (f86.strongly_typed, f10.strongly_typed, f11.strongly_typed) == (False, False, True)
    assert (f86.io_tensor_api, f10.io_tensor_api, f11.io_tensor_api) == (False, True, True)
    assert (f86.dla_calibrator, f10.dla_calibrator, f11.dla_calibrator) == (True, True, False)


def test_stub_only_tensorrt_is_reported_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    """tensorrt-stubs installs a `tensorrt/` folder of .pyi files that imports as an empty namespace (real here)."""
    stub = types.ModuleType("tensorrt")
    stub.__path__ = ["/site-packages/tensorrt"]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tensorrt", stub)
    with pytest.raises(DependencyMissing) as err:
        require_tensorrt()
    text = err.value.render()
    assert "only type stubs" in text and "python3-libnvinfer" in text and "pip install tensorrt" in text


def test_failing_import_is_reported_as_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # makes `import tensorrt` raise ImportError
    with pytest.raises(DependencyMissing, match="import failed"):
        require_tensorrt()
