"""No silent downgrade: the engine comes from the device profile (TensorRT on every Orin); a config asking for
another needs --engine; the report's last line says engine, precision and CPU/GPU/DLA. No TensorRT here: the
Orin runs end at the engine step, loudly, with nothing enabled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _provision(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    proc = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "provision", "--json", "--prefix",
                           str(tmp_path / "root"), "--broker", "127.0.0.1:9", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    return proc.returncode, json.loads(proc.stdout), proc.stderr


def _steps(report: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {s["name"]: s for s in report["steps"]}


def test_the_help_example_on_an_orin_profile_asks_for_tensorrt_never_onnxruntime(tmp_path: Path) -> None:
    rc, report, _ = _provision(tmp_path, "--device", "orin-nx", "--model", "models/demo/yolo-demo.onnx",
                               "--source", "file://samples/demo.mp4", "--precision", "fp32")
    steps = _steps(report)
    assert rc == 1 and "engine tensorrt (the orin-nx profile's)" in steps["compose"]["detail"]
    assert steps["engine build"]["status"] == "failed" and "no FP32 or ONNX Runtime fallback" in steps["engine build"]["detail"]
    assert steps["smoke run"]["status"] == "skipped" and steps["systemctl start"]["status"] == "skipped"
    assert report["installed"] is None
    assert report["verdict"].endswith("asked for: tensorrt fp32 (orin-nx profile)"), report["verdict"]
    assert "engine:\n  type: tensorrt" in (tmp_path / "root/etc/edge-sdk/app.yaml").read_text()


def test_a_config_asking_for_another_engine_than_the_profiles_needs_the_flag(tmp_path: Path) -> None:
    rc, out, err = _provision(tmp_path, "--device", "orin-nx", "--config", "configs/demo.yaml")
    assert rc == 2 and out["error"]["where"] == "engine.type"
    assert "onnxruntime" in out["error"]["message"] and "--engine onnxruntime" in out["error"]["fix"]
    assert not (tmp_path / "root").exists(), "nothing is written"
    rc, report, err = _provision(tmp_path, "--device", "orin-nx", "--config", "configs/demo.yaml", "--engine",
                                 "onnxruntime", "--validate-frames", "3")
    assert rc == 0, (report, err)
    assert "engine onnxruntime (--engine)" in _steps(report)["compose"]["detail"]
    assert report["verdict"].endswith("installed: onnxruntime fp32 on CPU (orin-nx profile)"), report["verdict"]


def test_the_orin_app_config_installs_tensorrt_int8_with_the_argus_socket(tmp_path: Path) -> None:
    rc, report, _ = _provision(tmp_path, "--device", "orin-agx", "--config", "configs/orin.yaml", "--dry-run")
    compose = _steps(report)["compose"]["detail"]
    assert rc == 0 and "engine tensorrt" in compose and "precision int8 (the orin-agx profile's default)" in compose
    assert "CSI: front" in compose
    # fp32 skips calibration (which would open the CSI camera): the run ends at the engine, the files are there
    rc, report, _ = _provision(tmp_path, "--device", "orin-agx", "--config", "configs/orin.yaml", "--precision", "fp32")
    assert rc == 1 and _steps(report)["engine build"]["status"] == "failed"
    unit = (tmp_path / "root/etc/systemd/system/edge-sdk.service").read_text().splitlines()
    assert "BindPaths=-/tmp/argus_socket" in unit
    assert "ExecStart=/opt/edge-sdk/venv/bin/edge-sdk run --config /etc/edge-sdk/app.yaml" in unit
    assert "MemoryDenyWriteExecute=no" in unit and "DeviceAllow=/dev/nvmap rw" in unit


def test_the_installed_line_says_why_its_precision_ships() -> None:
    """The INT8 build's record of what ships (chosen by measurement, per engine) is what the last line quotes."""
    from types import SimpleNamespace

    from edge_sdk.provision.context import Context, ProvisionOptions
    from edge_sdk.provision.layout import Layout
    from edge_sdk.provision.report import Installed, ProvisionReport
    from edge_sdk.provision.steps.smoke import _shipped_because

    ctx = Context(ProvisionOptions(device="cpu"), ProvisionReport("cpu", None, False), Layout())
    assert _shipped_because(ctx, "onnxruntime") == ""
    ctx.int8 = SimpleNamespace(report={"decision": "accepted", "ships": {"onnxruntime-cpu": {
        "chosen": "fp32", "reason": "INT8 measured 0.91x FP32 on Intel Xeon, below the 1.10x required: FP32 ships"}}},
        manifest={})
    why = _shipped_because(ctx, "onnxruntime")
    assert why.startswith("FP32 chosen by measurement: INT8 measured 0.91x")
    assert _shipped_because(ctx, "tensorrt") == "INT8 build: accepted", "no TensorRT record: the gate's decision"
    line = Installed("onnxruntime", "fp32", "cpu", shipped_because=why).line()
    assert line.startswith("onnxruntime fp32 on CPU (FP32 chosen by measurement")
    assert Installed("tensorrt", "int8", "dla:1").line() == "tensorrt int8 on DLA core 1"
    assert Installed("tensorrt", "fp16", "cuda:0").line() == "tensorrt fp16 on GPU"
