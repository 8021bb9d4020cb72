"""Fixtures for the TensorRT layer's tests: the `fake_tensorrt` and `fake_pycuda` STAND-INS (TensorRT and
CUDA are absent here), installed into sys.modules for one test, and tiny real ONNX models."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.trt.fake_pycuda import make_fake_pycuda
from tests.trt.fake_tensorrt import FakeState, Recorder, make_fake_tensorrt
from tests.trt.models import tiny_detector

InstallTrt = Callable[..., tuple[Any, Recorder]]


@pytest.fixture(autouse=True)
def edge_sdk_logs_reach_caplog(monkeypatch: pytest.MonkeyPatch) -> None:
    """`edge-sdk` CLI tests run setup_logging(), which stops `edge_sdk` records propagating to caplog's handler."""
    monkeypatch.setattr(logging.getLogger("edge_sdk"), "propagate", True)


@pytest.fixture(autouse=True)
def no_host_cuda_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The stand-in tests describe a device through files under a root; a CUDA runtime or driver library of the
    machine running the tests (the GPU machine has both) must not leak into their engine keys."""
    from edge_sdk.cuda import versions

    monkeypatch.setattr(versions, "runtime_version", lambda: None)
    monkeypatch.setattr(versions, "driver_version", lambda: None)


@pytest.fixture()
def install_fake_trt(monkeypatch: pytest.MonkeyPatch) -> InstallTrt:
    """install_fake_trt("10", FakeState(...), version_text=None) -> (module, recorder), as `tensorrt`."""

    def install(path: str, state: FakeState | None = None, version_text: str | None = None) -> tuple[Any, Recorder]:
        module, rec = make_fake_tensorrt(path, state, version_text=version_text)
        monkeypatch.setitem(sys.modules, "tensorrt", module)
        return module, rec

    return install


@pytest.fixture()
def fake_cuda(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    cuda = make_fake_pycuda()
    monkeypatch.setitem(sys.modules, "pycuda", cuda.package)
    monkeypatch.setitem(sys.modules, "pycuda.driver", cuda)
    yield cuda


@pytest.fixture()
def detector(tmp_path: Path) -> Path:
    return tiny_detector(tmp_path / "tiny.onnx")


@pytest.fixture()
def qdq_detector(tmp_path: Path) -> Path:
    return tiny_detector(tmp_path / "tiny.qdq.onnx", qdq=True)
