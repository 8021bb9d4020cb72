"""The hardware video decode budget: RTSP cameras (and GStreamer pipelines with a hardware decoder) in 1080p30 units
against the device profile's NVDEC figure, warned by `edge-sdk config validate` and `edge-sdk doctor --config`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.config.app import AppConfig
from edge_sdk.device.decode_budget import check_decode_budget, decode_loads
from edge_sdk.device.profiles import load_profile
from tests.support.onnx_models import constant_output_model

ROOT = Path(__file__).resolve().parents[2]


def config(device: str, cameras: list[dict[str, object]]) -> AppConfig:
    return AppConfig.model_validate({"device": device, "sources": cameras})


def rtsp(n: int, **extra: object) -> list[dict[str, object]]:
    return [{"name": f"cam{i}", "uri": f"rtsp://10.0.0.{i + 1}/stream1", **extra} for i in range(n)]


@pytest.mark.parametrize(("profile", "capacity"), [("orin-agx", 22), ("orin-nx", 18), ("orin-nano", 11)])
def test_each_orin_profile_states_its_published_decode_capacity(profile: str, capacity: int) -> None:
    assert load_profile(profile).nvdec_1080p30 == capacity
    assert load_profile("cpu").nvdec_1080p30 is None


def test_cameras_within_the_capacity_pass_and_beyond_it_warn_with_the_fix() -> None:
    ok = check_decode_budget(config("orin-agx", rtsp(22)), load_profile("orin-agx"))
    assert ok.status == "OK" and ok.data["load_1080p30"] == 22.0
    over = check_decode_budget(config("orin-agx", rtsp(23)), load_profile("orin-agx"))
    assert over.status == "WARN" and "23.0 x 1080p30 of the orin-agx's 22" in over.detail
    assert "assumed 1080p30" in over.detail and over.fix and "fewer cameras" in over.fix


def test_resolution_and_frame_rate_count() -> None:
    """Four 4K30 cameras are 16 streams of 1080p30: too many for a Nano (11), fine for an AGX (22); at 15 fps half."""
    fourk = rtsp(4, stream_size=[3840, 2160], stream_fps=30)
    assert check_decode_budget(config("orin-nano", fourk), load_profile("orin-nano")).status == "WARN"
    assert check_decode_budget(config("orin-agx", fourk), load_profile("orin-agx")).status == "OK"
    half = rtsp(4, stream_size=[3840, 2160], stream_fps=15)
    check = check_decode_budget(config("orin-nano", half), load_profile("orin-nano"))
    assert check.status == "OK" and check.data["load_1080p30"] == 8.0 and "assumed" not in check.detail


def test_only_streams_the_hardware_decoder_takes_count() -> None:
    cams = [{"name": "usb", "uri": "v4l2:///dev/video0?width=1920&height=1080&fps=30"},
            {"name": "csi", "uri": "csi://0"}, {"name": "file", "uri": "file://clip.mp4"},
            {"name": "gst", "uri": "gst://rtspsrc location=rtsp://x ! rtph265depay ! h265parse ! nvv4l2decoder"},
            *rtsp(1)]
    assert [s.camera for s in decode_loads(config("orin-nano", cams))] == ["gst", "cam0"]
    assert check_decode_budget(config("cpu", rtsp(30)), load_profile("cpu")).detail.startswith("n/a")


def test_config_validate_and_doctor_warn_and_succeed(tmp_path: Path) -> None:
    out = np.zeros((1, 6, 84), np.float32)
    model = constant_output_model(tmp_path / "m.onnx", out)
    sources = "".join(f"  - name: cam{i}\n    uri: rtsp://10.0.0.{i + 1}/main\n    stream_size: [3840, 2160]\n"
                      for i in range(3))
    app = tmp_path / "app.yaml"
    app.write_text(f"device: orin-nano\nmodel:\n  path: {model}\nsources:\n{sources}mqtt:\n  enabled: false\n")
    res = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "config", "validate", str(app)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "warning: decode budget: 3 hardware-decoded camera(s) = 12.0 x 1080p30 of the orin-nano's 11" in res.stderr
    res = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "doctor", "--config", str(app), "--json"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    checks = {c["name"]: c for c in json.loads(res.stdout)["checks"]}
    assert checks["decode budget"]["status"] == "WARN" and checks["decode budget"]["data"]["capacity_1080p30"] == 11
