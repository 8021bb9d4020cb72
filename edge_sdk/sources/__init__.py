"""Frame sources chosen by URI: file://, v4l2://, rtsp://, csi://, gst://.

One interface (`Source`), one module per kind, registered by URI scheme in `registry`. Heavy backends
(OpenCV's FFmpeg/V4L2, PyGObject, gst-launch-1.0) are imported or started only when a source opens;
`gst_support.probe()` says which GStreamer path this machine has (for `edge-sdk doctor`).
"""

from edge_sdk.sources.base import Source, SourceHealth
from edge_sdk.sources.reconnect import ReconnectPolicy
from edge_sdk.sources.registry import open_source
from edge_sdk.sources.uri import SourceUri, parse_uri

__all__ = ["ReconnectPolicy", "Source", "SourceHealth", "open_source", "SourceUri", "parse_uri"]
