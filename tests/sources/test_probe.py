"""`gst_support.probe()` (what `edge-sdk doctor` shows) agrees with what really opens on this machine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from edge_sdk.frame import CaptureStatus
from edge_sdk.sources import gst_support, open_source
from edge_sdk.sources.discover import list_cameras


def test_probe_matches_reality() -> None:
    info = gst_support.probe(jetson=False)
    assert set(info) >= {"opencv", "gi", "gst_launch", "elements", "backend", "rtsp_backend", "warnings"}
    inspect = shutil.which("gst-inspect-1.0")
    if inspect is not None:
        for element in ("videotestsrc", "nvarguscamerasrc"):
            exists = subprocess.run([inspect, "--exists", element], check=False).returncode == 0
            assert info["elements"][element] is exists
    import cv2

    assert info["opencv"]["version"] == cv2.__version__
    assert info["opencv"]["gstreamer"] == ("GStreamer:                   YES" in cv2.getBuildInformation())
    if info["backend"] is None:
        pytest.skip("no GStreamer path on this machine")
    # the path probe names is the one a gst:// source really uses, and it delivers frames
    with open_source("gst://videotestsrc is-live=true ! video/x-raw,width=32,height=24") as src:
        status, frame = src.read(timeout=10.0)
        assert status is CaptureStatus.OK and frame is not None
        assert src.snapshot_health().backend == f"gst-{info['backend']}"


def test_shadowing_warning_names_both_opencvs(tmp_path: Path) -> None:
    # a folder with a cv2 package stands in for JetPack's dist-packages (absent here)
    (tmp_path / "cv2").mkdir()
    (tmp_path / "cv2" / "__init__.py").write_text("")
    others = gst_support.other_opencv_installs([str(tmp_path)])
    assert others == [str(tmp_path / "cv2")]
    warnings = gst_support.opencv_warnings(jetson=True, others=others)
    if gst_support.opencv_info()["gstreamer"]:
        assert warnings == []  # an OpenCV with GStreamer is fine wherever it comes from
    else:
        assert len(warnings) == 1 and "shadows another OpenCV" in warnings[0] and str(tmp_path / "cv2") in warnings[0]
        assert "pip uninstall opencv-python" in warnings[0]
        assert "has no GStreamer" in gst_support.opencv_warnings(jetson=True, others=[])[0]
        assert gst_support.opencv_warnings(jetson=False, others=[]) == []


def test_list_cameras_reads_sysfs(tmp_path: Path) -> None:
    # a sysfs tree stands in for /sys/class/video4linux (no camera here)
    for name, label in (("video0", "vi-output, imx219 9-0010"), ("video10", "HD Pro Webcam C920"), ("video2", "UVC")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "name").write_text(label + "\n")
    cams = list_cameras(tmp_path)
    assert [(c["device"], c["kind"], c["uri"]) for c in cams] == [
        ("/dev/video0", "csi", "csi://0"), ("/dev/video2", "v4l2", "v4l2:///dev/video2"),
        ("/dev/video10", "v4l2", "v4l2:///dev/video10")]
    assert list_cameras(tmp_path / "absent") == []
