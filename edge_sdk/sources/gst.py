"""Raw GStreamer pipelines (`gst://`) and the reader that CSI and RTSP-over-GStreamer build on.

`gst://videotestsrc is-live=true ! video/x-raw,width=640,height=480` : the pipeline up to its raw video; a
final sink, if written (`! appsink`), is replaced by the read path's own BGR tail. The read path is chosen
when the source opens: OpenCV with GStreamer, else PyGObject's appsink, else a gst-launch-1.0 child process
(`gst_support`); `backend=` forces one, and a forced one that is missing is an error, never a fallback.
A gst:// source is live: at its end of stream it reopens (use file:// for a clip that should end).
"""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from edge_sdk.redact import redact
from edge_sdk.sources.base import Reader
from edge_sdk.sources.delegate import DelegatingReader
from edge_sdk.sources.gst_pipeline import user_head
from edge_sdk.sources.gst_support import choose_backend
from edge_sdk.sources.options import parse_options
from edge_sdk.sources.uri import SourceUri

log = logging.getLogger(__name__)

_READERS = {"opencv": "edge_sdk.sources.gst_opencv:GstOpenCvReader", "gi": "edge_sdk.sources.gst_gi:GstGiReader",
            "launch": "edge_sdk.sources.gst_launch:GstLaunchReader"}


def gst_reader(head: str, backend: str = "auto", timeout_s: float = 5.0, label: str = "",
               shown_head: str | None = None, *, every_frame: bool = False) -> Reader:
    """A reader of the pipeline `head` (raw video, no sink) through the chosen GStreamer path (`every_frame`: a
    file, whose frames are all delivered; else only the newest is kept)."""
    name = choose_backend(backend)
    module_name, _, cls_name = _READERS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    reader: Reader = cls(head, timeout_s, label, shown_head, every_frame=every_frame)
    return reader


class GstPipelineReader(DelegatingReader):
    """A live GStreamer pipeline; the read path is picked at the first open (so a missing one is an open error)."""

    def __init__(self, head: str, backend: str = "auto", timeout_s: float = 5.0, label: str = "",
                 shown_head: str | None = None, *, every_frame: bool = False) -> None:
        self.head = head
        self.every_frame = every_frame
        self.backend = backend
        self.timeout_s = timeout_s
        self.label = redact(label or head)
        self.shown_head = redact(shown_head or head)  # for logs: without credentials
        self._inner: Reader | None = None

    def _make_inner(self) -> Reader:
        inner = gst_reader(self.head, self.backend, self.timeout_s, self.label, self.shown_head,
                           every_frame=self.every_frame)
        log.info("%s: GStreamer pipeline read by %s: %s", self.label, inner.describe()["backend"], self.shown_head)
        return inner

    def describe(self) -> dict[str, Any]:
        facts = self._inner.describe() if self._inner is not None else {"backend": f"gst-{self.backend}"}
        return {**facts, "pipeline": self.shown_head}


class GstReader(GstPipelineReader):
    """`gst://PIPELINE`. Its options (`backend`, `timeout`) come from `open_source`'s defaults, not the URI."""

    def __init__(self, uri: SourceUri, base_dir: Path | None = None, options: dict[str, Any] | None = None) -> None:
        opts = options if options is not None else parse_options(uri)
        super().__init__(user_head(uri.target), opts["backend"], opts["timeout"], label=uri.redacted())
