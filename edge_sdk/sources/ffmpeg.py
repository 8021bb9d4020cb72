"""RTSP through OpenCV's FFmpeg backend: TCP or UDP transport, open and read timeouts.

FFmpeg options reach OpenCV only through the process-wide OPENCV_FFMPEG_CAPTURE_OPTIONS variable, read when a
capture opens: it is set under a lock for each open and restored after. A read that gets nothing within the
timeout returns no frame (OpenCV interrupts FFmpeg), so a stalled stream is noticed and reopened. OpenCV
cannot tell a server's end of stream from a timeout: both are ERROR, and the live source reconnects.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from edge_sdk.errors import SourceError
from edge_sdk.sources.opencv_capture import OpenCvCaptureReader

_ENV = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_env_lock = threading.Lock()


def ffmpeg_options(transport: str, latency_ms: int) -> str:
    """The OPENCV_FFMPEG_CAPTURE_OPTIONS text: transport, low-delay demuxing, a short probe."""
    opts = {"rtsp_transport": transport, "max_delay": str(latency_ms * 1000), "fflags": "nobuffer",
            "flags": "low_delay", "analyzeduration": "1000000", "probesize": "500000"}
    return "|".join(f"{k};{v}" for k, v in opts.items())


class FfmpegRtspReader(OpenCvCaptureReader):
    """Reads an RTSP URL with cv2.CAP_FFMPEG."""

    def __init__(self, url: str, label: str, *, transport: str, latency_ms: int, timeout_s: float) -> None:
        self.url = url
        self.label = label
        self.transport = transport
        self.latency_ms = latency_ms
        self.timeout_s = timeout_s
        self._cap: Any = None
        self._got: dict[str, Any] = {}

    def open(self) -> None:
        import cv2

        self.close()
        ms = int(self.timeout_s * 1000)
        with _env_lock:
            saved = os.environ.get(_ENV)
            os.environ[_ENV] = ffmpeg_options(self.transport, self.latency_ms)
            try:
                cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG,
                                       [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
            finally:
                if saved is None:
                    os.environ.pop(_ENV, None)
                else:
                    os.environ[_ENV] = saved
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open the RTSP stream over {self.transport.upper()} within {self.timeout_s:g} s "
                              "(server down, wrong path or credentials, or blocked port)", where=self.label,
                              fix=f"check it with: ffprobe -rtsp_transport {self.transport} '{self.label}'")
        self._cap = cap
        self._got = {"width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                     "fps": float(cap.get(cv2.CAP_PROP_FPS))}

    def _no_frame_error(self) -> str:
        return f"RTSP stream ended or sent nothing for {self.timeout_s:g} s"

    def describe(self) -> dict[str, Any]:
        return {"backend": "opencv-ffmpeg", "transport": self.transport, "latency_ms": self.latency_ms, **self._got}
