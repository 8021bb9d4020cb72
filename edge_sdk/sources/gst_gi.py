"""The PyGObject GStreamer path: `HEAD ! videoconvert ! BGR ! appsink` in this process, pulled with a timeout.

Errors and end of stream come from the pipeline's bus. GStreamer pads each BGR row to a multiple of 4 bytes;
the padding is cut off. PyGObject is imported only when this path is used.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from edge_sdk.errors import SourceError
from edge_sdk.frame import CaptureStatus
from edge_sdk.redact import redact
from edge_sdk.sources.base import Reader
from edge_sdk.sources.gst_pipeline import APPSINK_NAME, appsink_tail
from edge_sdk.sources.gst_support import choose_backend

POLL_S = 0.5


class GstGiReader(Reader):
    """Reads BGR frames of the pipeline `head` through an appsink, with PyGObject."""

    def __init__(self, head: str, timeout_s: float = 5.0, label: str = "", shown_head: str | None = None, *,
                 every_frame: bool = False) -> None:
        self.head = head
        self.every_frame = every_frame  # a file: no frame dropped (the appsink blocks the pipeline instead)
        self.timeout_s = timeout_s
        self.label = redact(label or head)
        self.shown_head = redact(shown_head or head)  # for messages: without credentials
        self._pipeline: Any = None
        self._sink: Any = None
        self._bus: Any = None
        self._pending: Any = None  # the first sample, pulled while opening
        self._size = (0, 0)
        self._fps = 0.0

    def open(self) -> None:
        choose_backend("gi")
        from gi.repository import GLib, Gst

        self.close()
        try:
            self._pipeline = Gst.parse_launch(f"{self.head} ! {appsink_tail(self.every_frame)}")
        except GLib.Error as exc:
            raise SourceError(f"GStreamer cannot build the pipeline: {exc.message}", where=self.label,
                              fix=f"check the pipeline with: gst-launch-1.0 -v {self.shown_head} ! fakesink "
                                  "(gst-inspect-1.0 lists the elements)") from None
        self._sink = self._pipeline.get_by_name(APPSINK_NAME)
        self._bus = self._pipeline.get_bus()
        self._pipeline.set_state(Gst.State.PLAYING)
        deadline = time.monotonic() + self.timeout_s
        while self._pending is None:
            self._pending = self._sink.emit("try-pull-sample", int(0.1 * Gst.SECOND))
            problem = self._bus_problem()
            if self._pending is None and (problem or time.monotonic() > deadline):
                self.close()
                why = problem[1] if problem else f"no video within {self.timeout_s:g} s"
                raise SourceError(f"GStreamer pipeline failed: {why}", where=self.label,
                                  fix="check the pipeline with: gst-launch-1.0 -v " + self.shown_head + " ! fakesink")

    def _bus_problem(self) -> tuple[CaptureStatus, str] | None:
        from gi.repository import Gst

        msg = self._bus.pop_filtered(Gst.MessageType.ERROR | Gst.MessageType.EOS) if self._bus is not None else None
        if msg is None:
            return None
        if msg.type == Gst.MessageType.EOS:
            return CaptureStatus.EOS, "end of stream"
        err, _debug = msg.parse_error()
        return CaptureStatus.ERROR, f"{msg.src.get_name()}: {err.message}"

    def grab(self) -> tuple[CaptureStatus, np.ndarray | None, float | None]:
        from gi.repository import Gst

        if self._sink is None:
            self.error = "not open"
            return CaptureStatus.ERROR, None, None
        sample, self._pending = self._pending, None
        if sample is None:
            sample = self._sink.emit("try-pull-sample", int(POLL_S * Gst.SECOND))
        if sample is None:
            problem = self._bus_problem()
            if problem is None and self._sink.get_property("eos"):
                problem = (CaptureStatus.EOS, "end of stream")
            if problem is None:
                return CaptureStatus.TIMEOUT, None, None
            self.error = problem[1]
            return problem[0], None, None
        return CaptureStatus.OK, self._to_array(sample), self._pts(sample)

    def _to_array(self, sample: Any) -> np.ndarray:
        from gi.repository import Gst

        caps = sample.get_caps().get_structure(0)
        width, height = caps.get_value("width"), caps.get_value("height")
        ok_rate, num, den = caps.get_fraction("framerate")
        self._size, self._fps = (width, height), (num / den if ok_rate and den else 0.0)
        stride = (width * 3 + 3) & ~3
        buffer = sample.get_buffer()
        ok, info = buffer.map(Gst.MapFlags.READ)
        if not ok:
            raise SourceError("cannot map a GStreamer buffer", where=self.label)
        try:
            flat = np.frombuffer(info.data, np.uint8, count=stride * height)
            return flat.reshape(height, stride)[:, : width * 3].reshape(height, width, 3).copy()
        finally:
            buffer.unmap(info)

    @staticmethod
    def _pts(sample: Any) -> float | None:
        from gi.repository import Gst

        pts = sample.get_buffer().pts
        return None if pts == Gst.CLOCK_TIME_NONE else pts / Gst.SECOND

    def close(self) -> None:
        if self._pipeline is not None:
            from gi.repository import Gst

            self._pipeline.set_state(Gst.State.NULL)
        self._pipeline = self._sink = self._bus = self._pending = None

    def describe(self) -> dict[str, Any]:
        return {"backend": "gst-gi", "width": self._size[0], "height": self._size[1], "fps": self._fps}
