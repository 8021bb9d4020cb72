"""Readers by URI scheme. Each module is imported only when its scheme is used."""

from __future__ import annotations

import importlib
from pathlib import Path

from edge_sdk.sources.base import ReconnectPolicy, Source
from edge_sdk.sources.uri import parse_uri

# scheme -> "module:ReaderClass"; each class takes (uri, base_dir)
READERS: dict[str, str] = {
    "file": "edge_sdk.sources.file:FileReader",
    "v4l2": "edge_sdk.sources.v4l2:V4l2Reader",
    "rtsp": "edge_sdk.sources.rtsp:RtspReader",
    "rtsps": "edge_sdk.sources.rtsp:RtspReader",
    "csi": "edge_sdk.sources.csi:CsiReader",
    "gst": "edge_sdk.sources.gst:GstReader",
}


def open_source(uri: str, camera: str = "cam0", *, base_dir: Path | None = None, deliver_all: bool | None = None,
                queue_size: int = 4, reconnect: ReconnectPolicy | None = None) -> Source:
    """Build (not start) a `Source` for `uri`. Start it with `with source:` or `source.start()`."""
    parsed = parse_uri(uri)
    module_name, _, cls_name = READERS[parsed.scheme].partition(":")
    reader_cls = getattr(importlib.import_module(module_name), cls_name)
    reader = reader_cls(parsed, base_dir)
    return Source(reader, parsed, camera, deliver_all=deliver_all, queue_size=queue_size, reconnect=reconnect)
