"""`edge-sdk build` and `edge-sdk calibrate info` from the command line, and the INT8 model under `edge-sdk run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge_sdk.cli.main import main
from tests.quant.helpers import black_frames, scene_frames, write_config
from tests.quant.tiny_detector import tiny_detector

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scene_frames(tmp_path_factory.mktemp("scenes"), 3_300_000, 14)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_detector(tmp_path_factory.mktemp("model") / "tiny.onnx")


def test_build_json_then_reuse_then_run_int8(tmp_path: Path, tiny: Path, scenes: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = write_config(tmp_path, tiny, scenes, build={"max_map_drop": 100}, precision="int8")
    assert main(["build", "--config", str(path), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["int8"]["decision"] == "pass" and not first["reused"] and first["engine"] is None
    assert main(["build", "--config", str(path)]) == 0
    err = capsys.readouterr().err
    assert "INT8 build: PASS" in err and "reused" in err and "mAP50-95" in err

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "run", "--config", str(path), "--max-frames", "4",
                          "--no-mqtt", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.strip().splitlines()[-1])["frames"] == 4
    assert "model.int8.ort.qdq.onnx" in run.stderr and "int8" in run.stderr


def test_run_int8_without_a_build_says_what_to_do(tmp_path: Path, tiny: Path, scenes: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = write_config(tmp_path, tiny, scenes, precision="int8")
    assert main(["run", "--config", str(path), "--max-frames", "1", "--no-mqtt"]) == 1
    err = capsys.readouterr().err
    assert "no INT8 build for this config" in err and "edge-sdk build --config FILE" in err


def test_gate_failure_exits_1_with_the_report(tmp_path: Path, tiny: Path, scenes: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    black = black_frames(tmp_path / "black", 10)
    path, _ = write_config(tmp_path, tiny, black, calibration={"holdout_dir": str(scenes), "min_frames": 8},
                           build={"repair": False})
    assert main(["build", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "INT8 build: FAIL" in err and "error:" in err and "refused by the accuracy gate" in err
    assert "Traceback" not in err


def test_tensorrt_engine_asked_for_but_absent_is_a_clear_failure(tmp_path: Path, tiny: Path, scenes: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from edge_sdk.engines.trt.version import require_tensorrt
    from edge_sdk.errors import DependencyMissing

    try:
        require_tensorrt()
    except DependencyMissing:
        pass
    else:
        pytest.skip("TensorRT is installed here; this checks the failure where it is not")
    path, _ = write_config(tmp_path, tiny, scenes, build={"max_map_drop": 100}, engine={"type": "tensorrt"})
    assert main(["build", "--config", str(path)]) == 5  # ExitCode.DEPENDENCY
    err = capsys.readouterr().err
    assert "error: tensorrt" in err and "is not installed" in err and "Traceback" not in err
    assert (tmp_path / "state" / "build" / "tiny" / "manifest.json").is_file()  # the INT8 step itself succeeded


def test_calibrate_info_json(tmp_path: Path, tiny: Path, scenes: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = write_config(tmp_path, tiny, scenes)
    assert main(["calibrate", "info", "--config", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["calibration"] + info["holdout"] == 14 and info["holdout"] >= 4
