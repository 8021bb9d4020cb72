"""Logging that reads well in journald and on a terminal.

Under systemd (JOURNAL_STREAM set, or format=journal) lines carry no timestamp (journald adds its own)
and start with a syslog priority prefix like `<4>` so `journalctl -p warning` works. On a terminal
lines carry a timestamp. `format=json` writes one JSON object per line. Every line goes through
`edge_sdk.redact.redact` last, so a password in a camera URL or a GStreamer pipeline never reaches the journal
(whatever message or exception carried it).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

from edge_sdk.redact import redact

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prio = _PRIORITY.get(record.levelno, 6)
        text = f"<{prio}>{record.name.removeprefix('edge_sdk.')}: {record.getMessage()}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info).replace("\n", f"\n<{prio}>")
        return text


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        obj = {"ts": round(record.created, 3), "level": record.levelname.lower(), "logger": record.name,
               "msg": record.getMessage()}
        if record.exc_info:
            obj["exc"] = self.formatException(record.exc_info)
        return json.dumps(obj)


class RedactingFormatter(logging.Formatter):
    """Formats with `inner`, then masks secrets in the whole text (message and traceback)."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to what `sys.stderr` is when a record is emitted, not to what it was when the handler was made.

    A command run in-process (`main([...])` from a test, a program that embeds edge-sdk) may run while sys.stderr is
    a temporary stream that its owner closes afterwards; a handler holding that stream would make every later log
    line, from any thread, fail with "--- Logging error --- ValueError: I/O operation on closed file" (as
    logging's own `lastResort` handler, this one follows sys.stderr)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:  # StreamHandler.__init__ and setStream assign it: sys.stderr wins
        pass


def under_systemd() -> bool:
    return bool(os.environ.get("JOURNAL_STREAM") or os.environ.get("INVOCATION_ID"))


#: The native libraries' own log switches. OpenCV writes `[ WARN:0@2.3] global cap.cpp ...` and its FFmpeg
#: writes `[tcp @ 0x...] Connection ... failed` straight to stderr, past edge-sdk's log (no level, no redaction,
#: raw in the journal). edge-sdk reports those failures itself (SourceError: what, where, fix), so they are
#: silenced unless the log level is DEBUG (`-v`) or the variable is already set in the environment.
NATIVE_QUIET = {"OPENCV_LOG_LEVEL": "ERROR", "OPENCV_FFMPEG_LOGLEVEL": "-8"}  # -8: AV_LOG_QUIET


def quiet_native_logs(debug: bool) -> None:
    """Silence OpenCV's and FFmpeg's own stderr lines (see NATIVE_QUIET); with `debug` (`edge-sdk -v`) leave them
    as they are. Call it before cv2 opens its first capture (setup_logging does, first thing in every command)."""
    import sys

    if debug:
        return
    for name, quiet in NATIVE_QUIET.items():
        os.environ.setdefault(name, quiet)
    cv2 = sys.modules.get("cv2")  # imported already: the variable was read; set the level directly
    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is not None and os.environ.get("OPENCV_LOG_LEVEL") == "ERROR":
        logging_api.setLogLevel(logging_api.LOG_LEVEL_ERROR)


def setup_logging(level: str | None = None, fmt: str = "auto") -> None:
    """Configure the root `edge_sdk` logger once; later calls adjust level and format."""
    logger = logging.getLogger("edge_sdk")
    logger.setLevel(level or os.environ.get("EDGE_SDK_LOG_LEVEL", "INFO"))
    quiet_native_logs(debug=logger.level <= logging.DEBUG)
    if fmt == "auto":
        fmt = "journal" if under_systemd() else "text"
    handler = StderrHandler()
    formatter: logging.Formatter
    if fmt == "journal":
        formatter = JournalFormatter()
    elif fmt == "json":
        formatter = JsonFormatter()
    else:
        formatter = logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        formatter.converter = time.localtime
    handler.setFormatter(RedactingFormatter(formatter))
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.propagate = False
