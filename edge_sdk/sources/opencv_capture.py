"""The part every OpenCV-`VideoCapture`-backed reader shares (V4L2, RTSP over FFmpeg, GStreamer through OpenCV):
owning the capture, reading one frame with the status contract (into a reused buffer: frame_pool.py), and
releasing it."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_sdk.frame import CaptureStatus
from edge_sdk.sources.base import Reader
from edge_sdk.sources.frame_pool import FramePool


class OpenCvCaptureReader(Reader):
    """A reader whose `open` sets `self._cap` to an opened `cv2.VideoCapture`. Subclasses say, in
    `_no_frame_error`, why a failed read happened in their terms."""

    _cap: Any = None
    _pool: FramePool | None = None
    error: str | None = None

    def _no_frame_error(self) -> str:
        raise NotImplementedError

    def grab(self) -> tuple[CaptureStatus, np.ndarray | None, float | None]:
        if self._cap is None:
            self.error = "not open"
            return CaptureStatus.ERROR, None, None
        if self._pool is None:
            self._pool = FramePool()
        image = self._pool.read(self._cap)  # into a buffer no frame in use holds (frame_pool.py)
        if image is None:
            self.error = self._no_frame_error()
            return CaptureStatus.ERROR, None, None
        return CaptureStatus.OK, image, None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
