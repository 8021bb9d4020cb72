"""Reading calibration images: which files count as images, decoding, hashing, thumbnails."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp"})
#: Files a frame folder may hold that are not frames and not counted as bad.
BOOKKEEPING_NAMES = frozenset({"manifest.json", "README.md", "README", "README.txt"})


def is_bookkeeping(path: Path) -> bool:
    return path.name in BOOKKEEPING_NAMES or path.name.startswith(".")


def decode_image(data: bytes) -> np.ndarray | None:
    """BGR uint8 HxWx3 from encoded bytes, or None if OpenCV cannot decode them."""
    if not data:
        return None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None or img.ndim != 3 or img.shape[2] != 3 or img.shape[0] < 2 or img.shape[1] < 2:
        return None
    return img


def read_image(path: Path) -> np.ndarray | None:
    try:
        return decode_image(path.read_bytes())
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
