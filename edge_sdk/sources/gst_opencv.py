"""The OpenCV GStreamer path: `cv2.VideoCapture("HEAD ! videoconvert ! BGR ! appsink", cv2.CAP_GSTREAMER)`.

Needs an OpenCV built with GStreamer (JetPack's; pip wheels have none: `gst_support.probe()` says which).
OpenCV cannot tell end of stream from a read timeout: both are ERROR here, and a live source reopens.
"""

from __future__ import annotations

import logging
from typing import Any

from edge_sdk.errors import SourceError
from edge_sdk.redact import redact
from edge_sdk.sources.gst_pipeline import appsink_tail
from edge_sdk.sources.gst_support import choose_backend
from edge_sdk.sources.opencv_capture import OpenCvCaptureReader

log = logging.getLogger(__name__)


class GstOpenCvReader(OpenCvCaptureReader):
    """Reads BGR frames of the pipeline `head` through OpenCV's GStreamer backend."""

    def __init__(self, head: str, timeout_s: float = 5.0, label: str = "", shown_head: str | None = None, *,
                 every_frame: bool = False) -> None:
        self.head = head
        self.every_frame = every_frame  # a file: no frame dropped (the appsink blocks the pipeline instead)
        self.timeout_s = timeout_s
        self.label = redact(label or head)
        self.shown_head = redact(shown_head or head)  # for messages: without credentials
        self._cap: Any = None
        self._size = (0, 0)
        self.timeouts = False  # whether this OpenCV took the open/read timeouts

    def open(self) -> None:
        choose_backend("opencv")
        import cv2

        self.close()
        ms = int(self.timeout_s * 1000)
        pipeline = f"{self.head} ! {appsink_tail(self.every_frame)}"
        cap = cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER,
                               [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        self.timeouts = cap.isOpened()
        if not self.timeouts:  # OpenCV < 4.7's GStreamer backend refuses the timeout properties
            cap.release()
            cap = cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER)
            if cap.isOpened():
                log.warning("%s: OpenCV %s's GStreamer backend takes no read timeout: a stalled stream shows as "
                            "stalled in health but blocks its capture thread; backend=gi or launch can reopen it",
                            self.label, cv2.__version__)
        if not cap.isOpened():
            cap.release()
            raise SourceError("OpenCV's GStreamer backend cannot start the pipeline", where=self.label,
                              fix=f"run it with gst-launch-1.0 -v {self.shown_head} ! fakesink to see GStreamer's error")
        self._cap = cap
        self._size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))

    def _no_frame_error(self) -> str:
        return f"no frame from the pipeline (end of stream, or nothing within {self.timeout_s:g} s)"

    def describe(self) -> dict[str, Any]:
        return {"backend": "gst-opencv", "width": self._size[0], "height": self._size[1], "read_timeout": self.timeouts}
