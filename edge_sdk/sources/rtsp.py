"""RTSP cameras (`rtsp://`, `rtsps://`): TCP or UDP, jitter-buffer latency, timeouts, reconnect.

`rtsp://user:pass@cam:554/stream?transport=udp&latency=100&timeout=3`. Options: `transport` tcp (default) or
udp; `latency` ms; `timeout` s without a frame before the source counts as stalled and reopens (with the
source's capped backoff); `backend` auto, ffmpeg or gst; `decoder` auto, hw or sw; `codec` h264 or h265 (hw
path). Other query keys stay in the camera's URL.

While the camera is down, `probe` sends one RTSP OPTIONS request (a TCP connect and a few bytes; TLS servers:
the connect alone) so the source reopens the moment the server answers again, instead of at the next backoff
step (see reconnect.py).

`backend=auto` uses GStreamer with the Jetson hardware decoder (nvv4l2decoder) when it is installed, else
OpenCV's FFmpeg backend, else GStreamer with software decoding (decodebin). `decoder=hw` where
nvv4l2decoder is missing is an error, not a quiet fall back to the CPU.
"""

from __future__ import annotations

import logging
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from edge_sdk.errors import SourceError
from edge_sdk.sources.base import Reader
from edge_sdk.sources.delegate import DelegatingReader
from edge_sdk.sources.gst import GstPipelineReader
from edge_sdk.sources.gst_pipeline import rtsp_head
from edge_sdk.sources.gst_support import has_element, opencv_info
from edge_sdk.sources.options import camera_url, parse_options
from edge_sdk.sources.uri import SourceUri, parse_uri

log = logging.getLogger(__name__)


def plan(opts: dict[str, Any], label: str) -> tuple[str, bool]:
    """(backend "ffmpeg" or "gst", hardware decoder?) for these options on this machine."""
    hw_available = has_element("nvv4l2decoder")
    if opts["decoder"] == "hw" and not hw_available:
        raise SourceError("decoder=hw asks for nvv4l2decoder, which this machine does not have", where=label,
                          fix="on a Jetson: sudo apt install nvidia-l4t-gstreamer; elsewhere use decoder=auto or sw")
    if opts["backend"] == "ffmpeg" or (opts["backend"] == "auto" and opts["decoder"] == "auto" and not hw_available
                                       and opencv_info().get("ffmpeg")):
        if opts["decoder"] == "hw":
            raise SourceError("decoder=hw needs backend=gst (OpenCV's FFmpeg decodes on the CPU)", where=label,
                              fix="drop backend=ffmpeg")
        return "ffmpeg", False
    return "gst", opts["decoder"] == "hw" or (opts["decoder"] == "auto" and hw_available)


PROBE_TIMEOUT_S = 1.0


def rtsp_answers(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> tuple[bool, str | None]:
    """Whether an RTSP server answers at `url`'s host and port: (True, None), or (False, why not).
    One OPTIONS request (any RTSP reply counts: a 401 or 404 still means the server is back)."""
    parts = urlsplit(url)
    tls = parts.scheme.lower() == "rtsps"
    try:
        host, port = parts.hostname or "", parts.port or (322 if tls else 554)
    except ValueError:
        return False, "the URL has no valid port"
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            if tls:
                return True, None
            path = parts._replace(netloc=f"{host}:{port}").geturl()  # never the credentials
            sock.sendall(f"OPTIONS {path} RTSP/1.0\r\nCSeq: 1\r\nUser-Agent: edge-sdk\r\n\r\n".encode())
            reply = sock.recv(16)
    except OSError as exc:
        return False, f"no answer from {host}:{port} ({exc.strerror or type(exc).__name__})"
    if reply.startswith(b"RTSP/"):
        return True, None
    return False, f"{host}:{port} does not answer RTSP"


class RtspReader(DelegatingReader):
    def __init__(self, uri: SourceUri, base_dir: Path | None = None, options: dict[str, Any] | None = None) -> None:
        opts = options if options is not None else parse_options(uri)
        self.label = uri.redacted()
        self.options = opts
        self.timeout_s = opts["timeout"]
        self._url = camera_url(uri)
        self._inner: Reader | None = None

    def _make_inner(self) -> Reader:
        opts = self.options
        backend, hw = plan(opts, self.label)
        if backend == "ffmpeg":
            from edge_sdk.sources.ffmpeg import FfmpegRtspReader

            return FfmpegRtspReader(self._url, self.label, transport=opts["transport"], latency_ms=opts["latency"],
                                    timeout_s=self.timeout_s)
        head, shown = (rtsp_head(url, transport=opts["transport"], latency_ms=opts["latency"], timeout_s=self.timeout_s,
                                 hw_decoder=hw, codec=opts["codec"])
                       for url in (self._url, camera_url(parse_uri(self.label))))
        return GstPipelineReader(head, opts["gst_backend"], self.timeout_s, label=self.label, shown_head=shown)

    def probe(self) -> bool | None:
        answers, self.error = rtsp_answers(self._url, min(self.timeout_s, PROBE_TIMEOUT_S))
        return answers

    def describe(self) -> dict[str, Any]:
        inner = self._inner.describe() if self._inner is not None else {}
        return {**inner, "url": self.label, "transport": self.options["transport"], "latency_ms": self.options["latency"],
                "timeout_s": self.timeout_s}
