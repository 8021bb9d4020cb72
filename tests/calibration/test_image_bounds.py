"""Calibration images whose header claims a huge size are skipped and counted by their header, never decoded;
tiny ones are "too small"; `edge-sdk calibrate info` lists them without a traceback (real files, real CLI)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np

from edge_sdk.calibration.dataset import scan_folder
from edge_sdk.calibration.images import image_size
from tests.quant.helpers import scene_frames, write_config

ROOT = Path(__file__).resolve().parents[2]


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG signature and IHDR chunk for width x height, then one tiny IDAT: a header that lies."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    idat = b"IDAT" + zlib.compress(b"\0" * 16)
    return (b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))
            + struct.pack(">I", len(idat) - 4) + idat + struct.pack(">I", zlib.crc32(idat)) + b"\0\0\0\0IEND\xaeB`\x82")


def _jpeg_claiming(width: int, height: int) -> bytes:
    _ok, buf = cv2.imencode(".jpg", np.full((32, 32, 3), 128, np.uint8))
    data = bytearray(buf.tobytes())
    i = data.index(b"\xff\xc0")
    data[i + 5:i + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def test_huge_and_tiny_images_are_skipped_by_their_header(tmp_path: Path) -> None:
    folder = scene_frames(tmp_path / "frames", 4_000_000, 40, (160, 120))
    (folder / "huge.png").write_bytes(_png_claiming(60000, 60000))
    (folder / "huge.jpg").write_bytes(_jpeg_claiming(60000, 60000))
    (folder / "wide.jpg").write_bytes(_jpeg_claiming(65000, 700))
    cv2.imwrite(str(folder / "dot.png"), np.zeros((1, 1, 3), np.uint8))
    assert image_size((folder / "huge.jpg").read_bytes()) == (60000, 60000)
    assert image_size((folder / "dot.png").read_bytes()) == (1, 1)
    found = scan_folder(folder, key="calibration.dir", max_pixels=40_000_000)
    reasons = {s.path.name: s.reason for s in found.skipped}
    assert len(found.frames) == 40
    assert reasons["huge.png"].startswith("too large (60000x60000") and reasons["huge.jpg"].startswith("too large")
    assert reasons["wide.jpg"].startswith("too large (65000x700")
    assert reasons["dot.png"].startswith("too small (1x1")
    bmp = folder / "f.bmp"
    cv2.imwrite(str(bmp), np.zeros((20, 30, 3), np.uint8))
    assert image_size(bmp.read_bytes()) == (30, 20)

    cfg_path, _cfg = write_config(tmp_path, Path("unused.onnx"), folder,
                                  calibration={"max_bad_fraction": 0.2, "max_image_pixels": 1_000_000})
    out = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "calibrate", "info", "--config", str(cfg_path),
                          "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    skipped = json.loads(out.stdout)["skipped"]
    assert "huge.png: too large (60000x60000, more than calibration.max_image_pixels = 1000000)" in skipped
    assert "dot.png: too small (1x1; at least 16 pixels a side)" in skipped
