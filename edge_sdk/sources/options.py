"""URI options per scheme: name, type, default and bounds, checked when the config loads and again at open.

`file://clip.mp4?loop=1&realtime=1`, `v4l2:///dev/video0?width=1280&height=720&fps=30&fourcc=MJPG`,
`csi://0?width=1920&height=1080&fps=30&flip=2`, `rtsp://host/stream?transport=udp&latency=100&timeout=3`.
A misspelt option is an error with a "did you mean" hint. On rtsp:// other query keys belong to the camera's
own URL (e.g. `?channel=1&subtype=0`) and are passed through to it, unless they look like a misspelt option.
This module imports nothing heavy (no OpenCV, no GStreamer): config validation uses it.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from edge_sdk.errors import ConfigError
from edge_sdk.sources.uri import SourceUri

GST_BACKENDS = ("auto", "opencv", "gi", "launch")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


@dataclass(frozen=True)
class Option:
    kind: str  # "int", "float", "bool", "str", "choice" or "fourcc"
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    lo: float | None = None
    hi: float | None = None

    def convert(self, name: str, text: str) -> Any:
        """The typed value of `text`; raises ValueError with a message naming the option."""
        value: Any
        if self.kind == "bool":
            if text.lower() not in _TRUE + _FALSE:
                raise ValueError(f"{name}={text!r} is not a boolean (use 1 or 0)")
            return text.lower() in _TRUE
        if self.kind == "choice":
            if text.lower() not in self.choices:
                raise ValueError(f"{name}={text!r} is not one of {', '.join(self.choices)}")
            return text.lower()
        if self.kind == "str":
            return text
        if self.kind == "fourcc":
            if text.lower() != "auto" and len(text) != 4:
                raise ValueError(f"{name}={text!r} is not four characters")
            return text.upper()
        try:
            value = int(text) if self.kind == "int" else float(text)
        except ValueError:
            raise ValueError(f"{name}={text!r} is not a{'n integer' if self.kind == 'int' else ' number'}") from None
        if (self.lo is not None and value < self.lo) or (self.hi is not None and value > self.hi):
            raise ValueError(f"{name}={text} is outside {self.lo:g}..{self.hi:g}")
        return value


_TIMEOUT = Option("float", 5.0, "seconds without a frame before the source counts as stalled and reopens", lo=0.1, hi=600)
_GST_BACKEND = Option("choice", "auto", "how GStreamer pipelines are read", choices=GST_BACKENDS)

OPTIONS: dict[str, dict[str, Option]] = {
    "file": {
        "loop": Option("bool", False, "restart at the end instead of ending the stream"),
        "realtime": Option("bool", False, "pace frames at the file's frame rate, like a camera"),
        "fps": Option("float", None, "frame rate for pacing (default: the file's, 30 for folders)", lo=0.1, hi=1000),
        "threads": Option("int", 1, "video decoder threads (0: FFmpeg picks one per core; 1 leaves the cores to "
                          "the engine, enough for 1080p at camera rates)", lo=0, hi=64),
        "decoder": Option("choice", "auto", "video decoder: hw (a Jetson's nvv4l2decoder through GStreamer), sw "
                          "(OpenCV/FFmpeg on the CPU) or auto (hw for H.264/H.265 files where nvv4l2decoder exists)",
                          choices=("auto", "hw", "sw")),
    },
    "v4l2": {
        "width": Option("int", None, "capture width to negotiate", lo=16, hi=16384),
        "height": Option("int", None, "capture height to negotiate", lo=16, hi=16384),
        "fps": Option("float", None, "frame rate to negotiate", lo=0.1, hi=1000),
        "fourcc": Option("fourcc", "AUTO", "pixel format: MJPG, YUYV, ... (auto: MJPG if the camera has it)"),
        "timeout": _TIMEOUT,
    },
    "csi": {
        "width": Option("int", 1920, "sensor capture width", lo=16, hi=16384),
        "height": Option("int", 1080, "sensor capture height", lo=16, hi=16384),
        "fps": Option("int", 30, "sensor frame rate", lo=1, hi=1000),
        "flip": Option("int", 0, "nvvidconv flip-method (0 none, 2 rotate 180, 4 horizontal, 6 vertical, ...)", lo=0, hi=7),
        "sensor_mode": Option("int", None, "nvarguscamerasrc sensor-mode (default: chosen from size and rate)", lo=0, hi=31),
        "out_width": Option("int", None, "width after nvvidconv scaling (default: capture width)", lo=16, hi=16384),
        "out_height": Option("int", None, "height after nvvidconv scaling (default: capture height)", lo=16, hi=16384),
        "backend": _GST_BACKEND,
        "timeout": _TIMEOUT,
    },
    "rtsp": {
        "transport": Option("choice", "tcp", "RTP over the RTSP TCP connection, or over UDP", choices=("tcp", "udp")),
        "latency": Option("int", 200, "jitter buffer in ms (GStreamer) / max demux delay (ffmpeg)", lo=0, hi=10000),
        "timeout": _TIMEOUT,
        "backend": Option("choice", "auto", "auto (GStreamer when the Jetson decoder exists, else ffmpeg), ffmpeg or gst",
                          choices=("auto", "ffmpeg", "gst")),
        "decoder": Option("choice", "auto", "GStreamer decoder: hw (nvv4l2decoder), sw (decodebin) or auto",
                          choices=("auto", "hw", "sw")),
        "codec": Option("choice", "h264", "stream codec, for the hardware decoder path", choices=("h264", "h265")),
        "gst_backend": _GST_BACKEND,
    },
    "gst": {"backend": _GST_BACKEND, "timeout": _TIMEOUT},  # only from open_source's defaults: a pipeline has no query
}
OPTIONS["rtsps"] = OPTIONS["rtsp"]
PASS_THROUGH = ("rtsp", "rtsps")  # unknown keys belong to the camera's URL


def parse_options(uri: SourceUri, defaults: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Typed options of `uri`: its query parameters over `defaults` (e.g. a device profile's camera section)
    over the built-in defaults. Raises `ConfigError` naming the URI, the option and the fix."""
    spec = OPTIONS[uri.scheme]
    given = {k: v for k, v in (defaults or {}).items() if k in spec}
    given.update(uri.params)
    values: dict[str, Any] = {name: opt.default for name, opt in spec.items()}
    for name, text in given.items():
        opt = spec.get(name)
        if opt is None:
            close = difflib.get_close_matches(name, list(spec), n=1, cutoff=0.8 if uri.scheme in PASS_THROUGH else 0.6)
            if uri.scheme in PASS_THROUGH and not close:
                continue  # the camera's own query key
            hint = f"did you mean {close[0]!r}? " if close else ""
            known = ", ".join(spec) or "none"
            raise ConfigError(f"unknown option {name!r} for {uri.scheme}://", where=uri.redacted(),
                              fix=f"{hint}options of {uri.scheme}:// are: {known}")
        try:
            values[name] = opt.convert(name, str(text))
        except ValueError as exc:
            raise ConfigError(str(exc), where=uri.redacted(), fix=f"{name}: {opt.help}") from None
    return values


def camera_url(uri: SourceUri) -> str:
    """An rtsp:// URL without edge-sdk's own options (the camera's own query keys are kept)."""
    parts = urlsplit(uri.raw)
    own = OPTIONS[uri.scheme]
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in own]
    return parts._replace(query=urlencode(kept)).geturl()
