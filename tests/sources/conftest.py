"""Fixtures for the source tests: a small generated video and image folder, and a real RTSP server."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.sources.rtsp_server import RtspServer, server_python

CLIP_FRAMES = 25
CLIP_FPS = 10
CLIP_SIZE = (160, 120)


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 25-frame 160x120 H.264 .mp4 at 10 fps made by ffmpeg's testsrc."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is missing (it is in scripts/apt-packages.txt)")
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    w, h = CLIP_SIZE
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", f"testsrc=size={w}x{h}:rate={CLIP_FPS}",
                    "-frames:v", str(CLIP_FRAMES), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)], check=True)
    return path


@pytest.fixture()
def image_folder(tmp_path: Path) -> Path:
    """Five 64x48 images whose blue channel is 10, 20, ..., 50, in name order, plus one that is not an image."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(5):
        img = np.zeros((48, 64, 3), np.uint8)
        img[:, :, 0] = (i + 1) * 10
        cv2.imwrite(str(folder / f"f{i:03d}.png"), img)
    (folder / "notes.txt").write_text("not an image")
    return folder


@pytest.fixture()
def rtsp_server() -> Iterator[RtspServer]:
    """A real gst-rtsp-server on a free loopback port serving H.264 at 320x240, 15 fps; stopped after the test."""
    if server_python() is None:
        pytest.fail("no Python with PyGObject and gir1.2-gst-rtsp-server-1.0: apt install python3-gi "
                    "gir1.2-gst-rtsp-server-1.0 (scripts/apt-packages.txt lists them)")
    server = RtspServer().start()
    try:
        yield server
    finally:
        server.stop()
