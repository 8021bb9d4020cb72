"""Frame sources chosen by URI: file://, v4l2://, rtsp://, csi://, gst://.

One interface (`Source`), one module per kind, registered by URI scheme in `registry`.
"""

from edge_sdk.sources.base import Source, SourceHealth
from edge_sdk.sources.registry import open_source
from edge_sdk.sources.uri import SourceUri, parse_uri

__all__ = ["Source", "SourceHealth", "open_source", "SourceUri", "parse_uri"]
