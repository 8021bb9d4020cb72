"""MIPI CSI cameras on Jetson (`csi://N`): nvarguscamerasrc through nvvidconv to BGR, read by a GStreamer path.

`csi://0?width=1920&height=1080&fps=30&flip=2` (defaults: 1920x1080 at 30 fps, no flip; a device profile's
camera defaults come in through `open_source(..., defaults=...)`). `out_width`/`out_height` scale in nvvidconv
(on the VIC, not the CPU). The pipeline is read by OpenCV if it has GStreamer, else PyGObject, else
gst-launch-1.0 (`backend=` forces one). Without nvarguscamerasrc (not a Jetson, or no nvidia-l4t-gstreamer)
opening fails with that fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_sdk.errors import SourceError
from edge_sdk.sources.gst import GstPipelineReader
from edge_sdk.sources.gst_pipeline import csi_head
from edge_sdk.sources.gst_support import has_element
from edge_sdk.sources.options import parse_options
from edge_sdk.sources.uri import SourceUri


class CsiReader(GstPipelineReader):
    def __init__(self, uri: SourceUri, base_dir: Path | None = None, options: dict[str, Any] | None = None) -> None:
        opts = options if options is not None else parse_options(uri)
        self.sensor_id = int(uri.target)
        head = csi_head(self.sensor_id, opts["width"], opts["height"], opts["fps"], opts["flip"], opts["sensor_mode"],
                        opts["out_width"], opts["out_height"])
        super().__init__(head, opts["backend"], opts["timeout"], label=uri.redacted())

    def open(self) -> None:
        missing = [e for e in ("nvarguscamerasrc", "nvvidconv") if not has_element(e)]
        if missing:
            raise SourceError(f"GStreamer element {' and '.join(missing)} not found: CSI cameras need a Jetson with "
                              "JetPack's GStreamer plugins", where=self.label,
                              fix="on a Jetson: sudo apt install nvidia-l4t-gstreamer; elsewhere use v4l2://, rtsp:// "
                                  "or file:// sources")
        super().open()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "sensor_id": self.sensor_id}
