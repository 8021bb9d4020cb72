"""Reading calibration images: which files count as images, decoding, hashing, thumbnails.

An image's size is read from its header before it is decoded (`image_size`: PNG, JPEG, BMP), so a file that
claims 60000x60000 is skipped as "too large" (over `calibration.max_image_pixels`) instead of making OpenCV
allocate gigabytes or raise; one under 16 pixels a side is "too small". Both are counted like unreadable files.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
#: Files a frame folder may hold that are not frames and not counted as bad.
BOOKKEEPING_NAMES = frozenset({"manifest.json", "README.md", "README", "README.txt"})


def is_bookkeeping(path: Path) -> bool:
    return path.name in BOOKKEEPING_NAMES or path.name.startswith(".")


DEFAULT_MAX_IMAGE_PIXELS = 40_000_000  # 8K (7680x4320 = 33 MP) fits; calibration.max_image_pixels
MIN_IMAGE_SIDE = 16
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the header of a PNG, JPEG or BMP, without decoding; None if it is none of them."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        w, h = struct.unpack(">II", data[16:24])
        return int(w), int(h)
    if data[:2] == b"BM" and len(data) >= 26:
        if struct.unpack("<I", data[14:18])[0] == 12:  # OS/2 BITMAPCOREHEADER
            w, h = struct.unpack("<HH", data[18:22])
        else:
            w, h = struct.unpack("<ii", data[18:26])
        return abs(int(w)), abs(int(h))
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the JPEG's segments to its start-of-frame marker (which holds the size)."""
    i = 2
    while i + 9 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        if marker in _JPEG_SOF:
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return int(w), int(h)
        i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    return None


def size_problem(data: bytes, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> str | None:
    """Why these bytes are not a usable frame by their header alone (too large, too small, not an image
    edge-sdk reads), or None."""
    size = image_size(data)
    if size is None:
        return "unreadable (not a decodable image)"
    w, h = size
    if w * h > max_pixels:
        return f"too large ({w}x{h}, more than calibration.max_image_pixels = {max_pixels})"
    if min(w, h) < MIN_IMAGE_SIDE:
        return f"too small ({w}x{h}; at least {MIN_IMAGE_SIDE} pixels a side)"
    return None


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> np.ndarray | None:
    """BGR uint8 HxWx3 from encoded bytes, or None if they are no usable image (size_problem) or OpenCV cannot
    decode them."""
    if not data or size_problem(data, max_pixels) is not None:
        return None
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error:
        return None
    if img is None or img.ndim != 3 or img.shape[2] != 3:
        return None
    return img


def read_image(path: Path, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> np.ndarray | None:
    try:
        return decode_image(path.read_bytes(), max_pixels)
    except OSError:
        return None


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def thumbnail(bgr: np.ndarray, size: int = 32) -> np.ndarray:
    """A small grey float32 (0..1) thumbnail for cheap near-duplicate tests."""
    grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32) / 255.0


def encode_image(bgr: np.ndarray, fmt: str, jpeg_quality: int = 95) -> bytes:
    if fmt == "jpg":
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
    else:
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 3])
    if not ok:
        raise ValueError(f"OpenCV could not encode a {bgr.shape} frame as {fmt}")
    return bytes(buf.tobytes())
