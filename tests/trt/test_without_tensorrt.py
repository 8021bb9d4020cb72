"""Without TensorRT (as here: only the type stubs are installed), edge-sdk imports, `--help`, config
validation and the CPU path work, and asking for the TensorRT engine says how to get it. Real, no stand-ins."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_sdk.cli.main import main
from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig
from edge_sdk.engines.registry import open_engine
from edge_sdk.engines.trt.version import installed_version
from edge_sdk.errors import DependencyMissing

pytestmark = pytest.mark.skipif(installed_version() is not None, reason="TensorRT is installed on this machine")
ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_tensorrt_layer_does_not_import_tensorrt() -> None:
    """Nor does finding the engine backends (the config schema does, for every config it loads)."""
    code = ("import sys, edge_sdk, edge_sdk.engines.backends.tensorrt, edge_sdk.engines.trt.builder, edge_sdk.device.doctor, "
            "edge_sdk.cli.cmd_selftest, edge_sdk.config.app; from edge_sdk.engines.registry import available_engines; "
            "print(available_engines(), 'tensorrt' in sys.modules, 'pycuda' in sys.modules, 'onnxruntime' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    assert out.split() == ["['onnxruntime',", "'tensorrt']", "False", "False", "False"]


@pytest.mark.parametrize("argv", [["--help"], ["doctor", "--help"], ["selftest", "--help"]])
def test_help_works(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0 and "examples:" in capsys.readouterr().out


def write_app(tmp_path: Path) -> Path:
    from tests.trt.models import tiny_detector

    tiny_detector(tmp_path / "m.onnx")
    writer = cv2.VideoWriter(str(tmp_path / "v.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), i * 40, np.uint8))
    writer.release()
    cfg = tmp_path / "app.yaml"
    cfg.write_text("device: orin-agx\nmodel:\n  path: m.onnx\nengine:\n  type: tensorrt\n  dla_core: 0\n"
                   "  calibration_cache: m.cache\nsources:\n  - name: cam0\n    uri: file://v.mp4\nmqtt:\n  enabled: false\n")
    return cfg


def test_config_with_tensorrt_engine_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "validate", str(write_app(tmp_path))]) == 0
    assert "engine tensorrt" in capsys.readouterr().out


def test_asking_for_the_tensorrt_engine_says_how_to_install_it(tmp_path: Path) -> None:
    from tests.trt.models import tiny_detector

    with pytest.raises(DependencyMissing) as err:
        open_engine("tensorrt", str(tiny_detector(tmp_path / "m.onnx")), TensorRtEngineConfig())
    text = err.value.render()
    assert "python3-libnvinfer" in text and "--system-site-packages" in text and "pip install tensorrt" in text


def test_run_with_tensorrt_engine_fails_cleanly_without_traceback(tmp_path: Path) -> None:
    cfg = write_app(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "run", "--config", str(cfg), "--max-frames", "2"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 5, proc.stderr  # ExitCode.DEPENDENCY
    assert "python3-libnvinfer" in proc.stderr and "Traceback" not in proc.stderr


def test_cpu_path_runs_the_same_model(tmp_path: Path) -> None:
    from tests.trt.models import tiny_detector

    with open_engine("onnxruntime", str(tiny_detector(tmp_path / "m.onnx"))) as engine:
        out = engine.infer(np.zeros((1, 3, 32, 32), np.float32))
    assert out[0].shape == (1, 6, 64) and np.isfinite(out[0]).all()
