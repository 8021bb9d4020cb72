"""Parse source URIs: `file://clip.mp4`, `file:///abs/dir`, `v4l2:///dev/video0`, `v4l2://0`,
`rtsp://user:pass@host:554/path`, `csi://0`, `gst://videotestsrc ! videoconvert ! appsink`.

Query parameters carry options, e.g. `file://clip.mp4?loop=1&realtime=1`, `csi://0?width=1920&height=1080`.
A bare path (no scheme) means file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from edge_sdk.errors import ConfigError
from edge_sdk.redact import redact

SCHEMES = ("file", "v4l2", "rtsp", "rtsps", "csi", "gst")


@dataclass(frozen=True)
class SourceUri:
    scheme: str
    target: str  # path for file/v4l2, sensor id for csi, the whole URL for rtsp, pipeline text for gst
    params: dict[str, str] = field(default_factory=dict)
    raw: str = ""

    def redacted(self) -> str:
        """The URI with every secret masked (URL passwords, secret query values, secret pipeline properties),
        for logs, messages and the stats topic."""
        return redact(self.raw)


def parse_uri(uri: str) -> SourceUri:
    text = uri.strip()
    if not text:
        raise ConfigError("empty source URI", fix="use file://PATH, v4l2:///dev/videoN, rtsp://..., csi://N or gst://PIPELINE")
    if "://" not in text:
        return SourceUri("file", text, {}, f"file://{text}")
    scheme, _, rest = text.partition("://")
    scheme = scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"unknown source scheme {scheme!r} in {text!r}",
                          fix=f"use one of: {', '.join(s + '://' for s in SCHEMES)}")
    if scheme == "gst":
        if not rest.strip():
            raise ConfigError("gst:// needs a pipeline", fix="e.g. gst://videotestsrc ! videoconvert ! appsink")
        return SourceUri(scheme, rest.strip(), {}, text)
    if scheme.startswith("rtsp"):
        query = dict(parse_qsl(urlsplit(text).query))
        return SourceUri(scheme, text, query, text)
    path, _, query_text = rest.partition("?")
    params = dict(parse_qsl(query_text, keep_blank_values=True))
    if scheme == "csi":
        if not path.isdigit():
            raise ConfigError(f"csi:// needs a sensor id number, got {path!r}", fix="e.g. csi://0")
    elif scheme == "v4l2":
        if not path:
            raise ConfigError("v4l2:// needs a device", fix="e.g. v4l2:///dev/video0 or v4l2://0")
        if path.isdigit():
            path = f"/dev/video{path}"
    elif not path:
        raise ConfigError("file:// needs a path", fix="e.g. file://samples/demo.mp4")
    return SourceUri(scheme, path, params, text)
