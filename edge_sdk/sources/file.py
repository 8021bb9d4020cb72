"""Video files and folders of images (`file://`), with optional looping and real-time pacing.

Query parameters: `loop=1` restarts at the end; `realtime=1` paces frames at the file's fps (or `fps=N`),
so a file behaves like a camera in demos and tests.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_sdk.errors import SourceError
from edge_sdk.frame import CaptureStatus
from edge_sdk.sources.base import Reader
from edge_sdk.sources.uri import SourceUri

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def _flag(params: dict[str, str], key: str) -> bool:
    return params.get(key, "0").lower() in ("1", "true", "yes", "on")


class FileReader(Reader):
    live = False

    def __init__(self, uri: SourceUri, base_dir: Path | None = None) -> None:
        path = Path(uri.target)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        self.path = path
        self.loop = _flag(uri.params, "loop")
        self.realtime = _flag(uri.params, "realtime")
        self.fps_override = float(uri.params["fps"]) if "fps" in uri.params else None
        self._cap: cv2.VideoCapture | None = None
        self._images: list[Path] = []
        self._index = 0
        self._fps = 0.0
        self._t0: float | None = None
        self._emitted = 0

    def open(self) -> None:
        if not self.path.exists():
            raise SourceError("file not found", where=str(self.path), fix="check the source URI")
        if self.path.is_dir():
            self._images = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._images:
                raise SourceError("folder holds no JPEG/PNG/BMP images", where=str(self.path))
            self._fps = self.fps_override or 30.0
        else:
            cap = cv2.VideoCapture(str(self.path))
            if not cap.isOpened():
                raise SourceError("OpenCV cannot open this video", where=str(self.path),
                                  fix="check the file is a complete video OpenCV can decode (e.g. H.264 .mp4)")
            self._cap = cap
            self._fps = self.fps_override or float(cap.get(cv2.CAP_PROP_FPS) or 30.0)
        self._index = 0
        self._t0 = None
        self._emitted = 0

    def _pace(self) -> None:
        if not self.realtime or self._fps <= 0:
            return
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        due = self._t0 + self._emitted / self._fps
        if due > now:
            time.sleep(due - now)

    def _next_image(self) -> np.ndarray | None:
        if self._cap is not None:
            ok, frame = self._cap.read()
            if not ok and self.loop:
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, frame = self._cap.read()
            return frame if ok else None
        if self._index >= len(self._images):
            if not self.loop:
                return None
            self._index = 0
        path = self._images[self._index]
        self._index += 1
        image: np.ndarray | None = cv2.imread(str(path), cv2.IMREAD_COLOR)
        return image

    def grab(self) -> tuple[CaptureStatus, np.ndarray | None, float | None]:
        self._pace()
        img = self._next_image()
        if img is None:
            return CaptureStatus.EOS, None, None
        pts = self._emitted / self._fps if self._fps else None
        self._emitted += 1
        return CaptureStatus.OK, img, pts

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def describe(self) -> dict[str, Any]:
        return {"backend": "opencv-file", "path": str(self.path), "fps": self._fps, "loop": self.loop,
                "realtime": self.realtime}
