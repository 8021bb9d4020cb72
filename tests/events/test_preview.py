"""The live preview: real HTTP clients (urllib, and ffmpeg) read real JPEG frames from the MJPEG stream."""

from __future__ import annotations

import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_sdk.config.events import PreviewConfig
from edge_sdk.events.draw import Drawable
from edge_sdk.events.preview import BOUNDARY, PreviewServer


class Camera(threading.Thread):
    """Offers frames whenever the preview wants one, as the events layer does."""

    def __init__(self, preview: PreviewServer) -> None:
        super().__init__(daemon=True)
        self.preview, self.stop = preview, threading.Event()
        self.offered = 0

    def run(self) -> None:
        import time

        image = np.zeros((480, 1280, 3), np.uint8)
        image[:, :, 1] = 120
        while not self.stop.wait(0.01):
            if self.preview.wants("cam0", time.monotonic()):
                self.preview.offer("cam0", image, [Drawable((100, 100, 300, 400), "7 person 0.91", 7)], caption="cam0")
                self.offered += 1


@pytest.fixture()
def preview() -> object:
    p = PreviewServer(PreviewConfig(enabled=True, port=0, fps=20, max_width=640), ["cam0"]).start()
    cam = Camera(p)
    cam.start()
    yield p
    cam.stop.set()
    p.close()


def _read_parts(url: str, n: int) -> list[bytes]:
    with urllib.request.urlopen(url, timeout=20) as resp:
        assert resp.headers.get_content_type() == "multipart/x-mixed-replace"
        assert resp.headers.get_param("boundary") == BOUNDARY
        parts = []
        while len(parts) < n:
            line = resp.readline()
            if line.strip() != f"--{BOUNDARY}".encode():
                continue
            headers = {}
            while (h := resp.readline().strip()):
                k, _, v = h.decode().partition(":")
                headers[k.lower()] = v.strip()
            assert headers["content-type"] == "image/jpeg"
            parts.append(resp.read(int(headers["content-length"])))
        return parts


def test_the_mjpeg_stream_delivers_decodable_annotated_frames(preview: PreviewServer) -> None:
    host, port = preview.address
    assert host == "127.0.0.1"  # loopback unless configured
    frames = _read_parts(f"http://{host}:{port}/cam0.mjpg", 3)
    for data in frames:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (240, 640, 3)  # scaled to max_width
        assert img[:, :, 2].max() > 200  # the box (red in BGR) is drawn on a green frame
    with urllib.request.urlopen(f"http://{host}:{port}/cam0.jpg", timeout=20) as resp:
        assert resp.headers["Content-Type"] == "image/jpeg"
        assert cv2.imdecode(np.frombuffer(resp.read(), np.uint8), cv2.IMREAD_COLOR) is not None
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(f"http://{host}:{port}/nope.mjpg", timeout=20)
    assert err.value.code == 404


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_ffmpeg_reads_the_stream(preview: PreviewServer, tmp_path: Path) -> None:
    host, port = preview.address
    out = tmp_path / "f%d.jpg"
    res = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "mpjpeg", "-i",
                          f"http://{host}:{port}/cam0.mjpg", "-frames:v", "2", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert cv2.imread(str(tmp_path / "f2.jpg")).shape == (240, 640, 3)


def test_nothing_is_encoded_while_nobody_watches() -> None:
    p = PreviewServer(PreviewConfig(enabled=True, port=0), ["cam0"]).start()
    try:
        import time

        assert not p.wants("cam0", time.monotonic())
    finally:
        p.close()


def test_edge_sdk_view_saves_the_latest_frame(preview: PreviewServer, tmp_path: Path) -> None:
    import sys

    host, port = preview.address
    out = tmp_path / "now.jpg"
    res = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "view", "--url", f"http://{host}:{port}",
                          "--camera", "cam0", "--save", str(out)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert cv2.imread(str(out)).shape == (240, 640, 3)
    bad = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "view", "--url", "http://127.0.0.1:9",
                          "--camera", "cam0", "--save", str(out)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "cannot reach the preview" in bad.stderr and "Traceback" not in bad.stderr
