"""`--device orin` picks the Orin profile of the detected board; INT8 never downgrades silently."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from edge_sdk.errors import DeviceError
from edge_sdk.provision.steps.device import resolve_device
from tests.provision.test_provision import _steps, provision


def _fake_jetson_root(tmp_path: Path, model: str) -> Path:
    """A stand-in for a Jetson's /proc/device-tree and /etc/nv_tegra_release (no Jetson here)."""
    root = tmp_path / "fake-jetson-root"
    (root / "proc/device-tree").mkdir(parents=True)
    (root / "proc/device-tree/model").write_bytes(model.encode() + b"\0")
    (root / "etc").mkdir()
    (root / "etc/nv_tegra_release").write_text("# R36 (release), REVISION: 4.3, GCID: 1, BOARD: generic, EABI: aarch64\n")
    return root


@pytest.mark.parametrize(("model", "profile"), [
    ("NVIDIA Jetson Orin NX Engineering Reference Developer Kit", "orin-nx"),
    ("NVIDIA Jetson AGX Orin Developer Kit", "orin-agx"),
    ("NVIDIA Jetson Orin Nano Developer Kit", "orin-nano"),
])
def test_orin_picks_the_detected_board(tmp_path: Path, model: str, profile: str) -> None:
    got, step = resolve_device("orin", _fake_jetson_root(tmp_path, model))
    assert got == profile, step
    assert step.status == "ok" and profile in step.detail


def test_orin_on_a_machine_that_is_not_an_orin_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="not a Jetson Orin") as err:
        resolve_device("orin", tmp_path)  # an empty root: no device tree, no L4T
    assert "--device cpu" in (err.value.fix or "") and "--device orin-agx" in (err.value.fix or "")
    assert resolve_device("cpu", tmp_path)[0] == "cpu"


def test_orin_on_a_machine_that_is_not_an_orin_says_so_in_json_too() -> None:
    """This machine is no Jetson: `--device orin --json` prints one JSON error on stdout, no traceback."""
    import os
    import subprocess
    import sys

    from tests.provision.test_provision import ROOT

    proc = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "provision", "--device", "orin", "--json",
                           "--config", "configs/demo.yaml", "--dry-run"], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert proc.returncode == 6, proc  # ExitCode.DEVICE
    error = json.loads(proc.stdout)["error"]
    assert error["type"] == "DeviceError" and "not a Jetson" in error["message"] and error["where"] == "--device"
    assert "--device cpu" in error["fix"]
    assert "Traceback" not in proc.stderr and "--device cpu" in proc.stderr


def test_int8_that_cannot_be_built_fails_loudly_and_enables_nothing(tmp_path: Path) -> None:
    from tests.pipeline.conftest import write_video
    from tests.provision.test_provision import _model

    write_video(tmp_path / "clip.avi", 10)  # far too few frames for a calibration set
    cfg = tmp_path / "app.yaml"
    cfg.write_text(f"device: cpu\ndevice_id: p8\nmodel:\n  path: {_model(tmp_path)}\n"
                   "sources:\n  - name: cam0\n    uri: file://clip.avi\nmqtt:\n  enabled: false\n")
    rc, report, _err = provision("--config", str(cfg), "--prefix", str(tmp_path / "root"), "--precision", "int8")
    assert rc == 1 and not report["ok"]
    steps = _steps(report)
    assert steps["calibration"]["status"] == "failed" and "at least 32 are needed" in steps["calibration"]["detail"]
    assert steps["int8 build"]["status"] == "failed"
    assert steps["smoke run"]["status"] == "skipped"
    assert steps["systemctl start"]["status"] == "skipped"
    assert report["verdict"].startswith("FAILED")


def test_int8_on_cpu_builds_with_the_gate_installs_and_reuses(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    from tests.pipeline.conftest import write_video
    from tests.quant.tiny_detector import tiny_detector

    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        cv2.imwrite(str(frames / f"f{i:03d}.png"), (rng.random((120, 160, 3)) * 255).astype(np.uint8))
    write_video(tmp_path / "clip.avi", 20)
    cfg = tmp_path / "app.yaml"
    # A tiny convolutional detector keeps the INT8 build to seconds (the demo YOLO takes minutes on 2 cores)
    tiny = tiny_detector(tmp_path / "tiny-detector.onnx")
    cfg.write_text(f"device: cpu\ndevice_id: p9\nmodel:\n  path: {tiny}\ncalibration:\n  dir: {frames}\n"
                   # the random tiny detector is far more sensitive than a trained one: a loose budget, mechanics only
                   # and INT8 ships whatever its measured speed (on an AVX2-only CPU the tiny model's INT8 form is
                   # slower and FP32 would ship: tests/quant/test_ships_and_cpu.py covers that choice)
                   "build:\n  max_map_drop: 100\n  cpu_min_speedup: 0\n"
                   "sources:\n  - name: cam0\n    uri: file://clip.avi?loop=1\nmqtt:\n  enabled: false\n")
    args = ("--config", str(cfg), "--prefix", str(tmp_path / "root"), "--precision", "int8", "--validate-frames", "10")
    rc, report, err = provision(*args)
    assert rc == 0, (report, err)
    steps = _steps(report)
    assert steps["calibration"]["status"] == "unchanged"  # 40 frames >= min_frames: nothing to capture
    assert steps["int8 build"]["status"] == "changed" and "INT8 built" in steps["int8 build"]["detail"]
    built = tmp_path / "root/var/lib/edge-sdk/build" / tiny.stem
    int8_model = next(built.glob("*.ort.qdq.onnx"))  # the CPU (ONNX Runtime) form of the Q/DQ model
    sha = hashlib.sha256(int8_model.read_bytes()).hexdigest()[:16]
    assert f"model sha256 {sha}" in steps["smoke run"]["detail"], "the smoke run must run the INT8 model"
    assert "precision: int8" in (tmp_path / "root/etc/edge-sdk/app.yaml").read_text()
    rc, again, err = provision(*args)
    assert rc == 0, err
    assert again["changed"] == [] and "reused" in _steps(again)["int8 build"]["detail"]


def test_orin_profile_with_tensorrt_absent_fails_with_the_install_fix(tmp_path: Path) -> None:
    """No TensorRT here: the engine step must fail loudly (never fall back) and nothing may be enabled."""
    from tests.pipeline.conftest import write_video
    from tests.provision.test_provision import _model

    write_video(tmp_path / "clip.avi", 10)
    cfg = tmp_path / "app.yaml"
    cfg.write_text(f"device: cpu\ndevice_id: p10\nmodel:\n  path: {_model(tmp_path, prefer_demo=False)}\n"
                   "engine:\n  type: tensorrt\nsources:\n  - name: cam0\n    uri: file://clip.avi\nmqtt:\n  enabled: false\n")
    import os
    import subprocess
    import sys

    from tests.provision.test_provision import ROOT

    proc = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "provision", "--device", "orin-nx", "--json",
                           "--config", str(cfg), "--prefix", str(tmp_path / "root-nx"), "--precision", "fp32"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          cwd=ROOT)
    report = json.loads(proc.stdout)
    steps = _steps(report)
    assert proc.returncode == 1
    assert steps["engine build"]["status"] == "failed" and "tensorrt" in steps["engine build"]["detail"].lower()
    assert "fix:" in steps["engine build"]["detail"]
    assert steps["systemctl start"]["status"] == "skipped" and steps["smoke run"]["status"] == "skipped"
