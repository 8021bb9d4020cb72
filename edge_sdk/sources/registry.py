"""Readers by URI scheme. Each module is imported only when its scheme is used."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path

from edge_sdk.sources.base import Reader, Source
from edge_sdk.sources.options import OPTIONS, parse_options
from edge_sdk.sources.reconnect import ReconnectPolicy
from edge_sdk.sources.uri import SourceUri, parse_uri

# scheme -> "module:ReaderClass"; each class takes (uri, base_dir, options)
READERS: dict[str, str] = {
    "file": "edge_sdk.sources.file:FileReader",
    "v4l2": "edge_sdk.sources.v4l2:V4l2Reader",
    "rtsp": "edge_sdk.sources.rtsp:RtspReader",
    "rtsps": "edge_sdk.sources.rtsp:RtspReader",
    "csi": "edge_sdk.sources.csi:CsiReader",
    "gst": "edge_sdk.sources.gst:GstReader",
}


def make_reader(parsed: SourceUri, base_dir: Path | None = None, defaults: Mapping[str, str] | None = None) -> Reader:
    """The reader for `parsed`, its options checked (`ConfigError` for a bad one) but nothing opened yet."""
    options = parse_options(parsed, defaults)
    module_name, _, cls_name = READERS[parsed.scheme].partition(":")
    reader_cls = getattr(importlib.import_module(module_name), cls_name)
    reader: Reader = reader_cls(parsed, base_dir, options)
    return reader


def open_source(uri: str, camera: str = "cam0", *, base_dir: Path | None = None, deliver_all: bool | None = None,
                queue_size: int = 4, reconnect: ReconnectPolicy | None = None, stall_timeout_s: float = 5.0,
                defaults: Mapping[str, str] | None = None, decoder_threads: int | None = None) -> Source:
    """Build (not start) a `Source` for `uri`. Start it with `with source:` or `source.start()`.

    `stall_timeout_s`: a live source without a frame this long is flagged stalled and reopened (it is also the
    readers' open/read timeout unless the URI sets `timeout=`). `defaults`: option values used where the URI
    gives none, e.g. a device profile's CSI size, rate and flip. `decoder_threads`: the video decoder's threads
    where the URI sets none, for readers that take `threads` (files).
    """
    parsed = parse_uri(uri)
    merged = dict(defaults or {})
    if "timeout" in OPTIONS[parsed.scheme]:
        merged.setdefault("timeout", str(stall_timeout_s))
    if decoder_threads is not None and "threads" in OPTIONS[parsed.scheme]:
        merged.setdefault("threads", str(decoder_threads))
    reader = make_reader(parsed, base_dir, merged)
    return Source(reader, parsed, camera, deliver_all=deliver_all, queue_size=queue_size, reconnect=reconnect,
                  stall_timeout_s=stall_timeout_s)
