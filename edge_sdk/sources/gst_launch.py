"""The binding-free GStreamer path: `gst-launch-1.0 -v HEAD ! videoconvert ! BGR ! fdsink fd=N` as a child
process, raw frames read from a pipe.

The frame size comes from the caps line that `-v` prints for the sink (`...edge_sdk_fdsink.GstPad:sink: caps =
video/x-raw, format=(string)BGR, width=(int)W, height=(int)H, ...`), on stdout, which is separate from the
frame pipe. GStreamer pads each BGR row to a multiple of 4 bytes; the padding is cut off. If the caps change
mid-stream the frame boundaries are lost, so that is an error and the source reopens.
Trap: the pipeline text is on the child's command line, visible to `ps`; credentials in an RTSP URL are too.
"""

from __future__ import annotations

import collections
import fcntl
import os
import re
import select
import shlex
import subprocess
import threading
import time
from typing import IO, Any

import numpy as np

from edge_sdk.errors import SourceError
from edge_sdk.frame import CaptureStatus
from edge_sdk.redact import redact
from edge_sdk.sources.base import Reader
from edge_sdk.sources.gst_pipeline import FDSINK_NAME, fdsink_tail
from edge_sdk.sources.gst_support import choose_backend, launch_info

_CAPS = re.compile(rf"{FDSINK_NAME}\.GstPad:sink: caps = (.*)")
_DIM = re.compile(r"\b(width|height)=\(int\)(\d+)")
_FPS = re.compile(r"framerate=\(fraction\)(\d+)/(\d+)")
_F_SETPIPE_SZ = 1031
POLL_S = 0.5


class GstLaunchReader(Reader):
    """Reads BGR frames of the pipeline `head` through a gst-launch-1.0 child process."""

    def __init__(self, head: str, timeout_s: float = 5.0, label: str = "", shown_head: str | None = None, *,
                 every_frame: bool = False) -> None:
        self.head = head
        self.every_frame = every_frame  # a file: no frame dropped (the appsink blocks the pipeline instead)
        self.timeout_s = timeout_s
        self.label = redact(label or head)
        self.shown_head = redact(shown_head or head)  # for messages: without credentials
        self._proc: subprocess.Popen[bytes] | None = None
        self._fd: int | None = None
        self._caps: str | None = None
        self._caps_changed = False
        self._caps_event = threading.Event()
        self._errors: collections.deque[str] = collections.deque(maxlen=20)
        self._size: tuple[int, int] = (0, 0)
        self._fps = 0.0
        self._buf: np.ndarray | None = None
        self._have = 0

    def open(self) -> None:
        choose_backend("launch")  # DependencyMissing with the install command when gst-launch-1.0 is absent
        self.close()
        read_fd, write_fd = os.pipe()
        try:
            fcntl.fcntl(read_fd, _F_SETPIPE_SZ, 1 << 20)  # fewer wake-ups per frame; the default 64 KiB also works
        except OSError:
            pass
        argv = [launch_info()["path"], "-v", *shlex.split(f"{self.head} ! {fdsink_tail(write_fd)}")]
        self._caps, self._caps_changed = None, False
        self._caps_event.clear()
        self._errors.clear()
        try:
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          pass_fds=(write_fd,), start_new_session=True)
        finally:
            os.close(write_fd)
        self._fd = read_fd
        for stream, parse in ((self._proc.stdout, True), (self._proc.stderr, False)):
            if stream is None:  # never: both were asked for as PIPE
                continue
            threading.Thread(target=self._drain, args=(stream, parse), daemon=True, name="gst-launch-log").start()
        self._wait_for_caps()

    def _wait_for_caps(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not self._caps_event.wait(0.05):
            if self._proc is None or self._proc.poll() is not None or time.monotonic() > deadline:
                exited = self._proc is not None and self._proc.poll() is not None
                time.sleep(0.1)  # let the log threads collect the error text
                why = self._error_text() or ("gst-launch-1.0 exited" if exited else f"no video within {self.timeout_s:g} s")
                self.close()
                raise SourceError(f"GStreamer pipeline failed: {why}", where=self.label,
                                  fix="check the pipeline with: gst-launch-1.0 -v " + self.shown_head + " ! fakesink")
        width, height = self._size
        self._buf = None
        self._have = 0
        if width <= 0 or height <= 0:
            self.close()
            raise SourceError(f"cannot read the frame size from the sink caps: {self._caps}", where=self.label)

    def _drain(self, stream: IO[bytes], parse: bool) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").strip()
            if parse and (m := _CAPS.search(line)):
                self._on_caps(m.group(1))
            elif line and (not parse or line.startswith(("ERROR", "WARNING: erroneous", "Additional debug info"))):
                self._errors.append(line)
        stream.close()

    def _on_caps(self, caps: str) -> None:
        dims = dict(_DIM.findall(caps))
        size = (int(dims.get("width", 0)), int(dims.get("height", 0)))
        if self._caps is not None and size != self._size:
            self._caps_changed = True
        else:
            self._size = size
            fps = _FPS.search(caps)
            self._fps = int(fps.group(1)) / int(fps.group(2)) if fps and int(fps.group(2)) else 0.0
        self._caps = caps
        self._caps_event.set()

    def _error_text(self) -> str:
        errors = [e for e in self._errors if e.startswith("ERROR")] or list(self._errors)
        return errors[0].removeprefix("ERROR: ") if errors else ""

    def grab(self) -> tuple[CaptureStatus, np.ndarray | None, float | None]:
        if self._fd is None or self._proc is None:
            self.error = "not open"
            return CaptureStatus.ERROR, None, None
        if self._caps_changed:
            self.error = f"the stream's frame size changed ({self._caps}); reopening"
            return CaptureStatus.ERROR, None, None
        width, height = self._size
        stride = (width * 3 + 3) & ~3
        if self._buf is None:
            self._buf = np.empty(stride * height, np.uint8)
            self._have = 0
        view = memoryview(self._buf.data)
        deadline = time.monotonic() + POLL_S
        while self._have < self._buf.size:
            ready, _, _ = select.select([self._fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return CaptureStatus.TIMEOUT, None, None
            n = os.readv(self._fd, [view[self._have:]])
            if n == 0:
                return self._ended()
            self._have += n
        frame, self._buf = self._buf, None
        rows = frame.reshape(height, stride)[:, : width * 3]
        return CaptureStatus.OK, rows.reshape(height, width, 3), None

    def _ended(self) -> tuple[CaptureStatus, None, None]:
        try:
            code = self._proc.wait(timeout=2.0) if self._proc is not None else None
        except subprocess.TimeoutExpired:
            code = None
        time.sleep(0.05)
        if code == 0:
            self.error = "end of stream"
            return CaptureStatus.EOS, None, None
        self.error = self._error_text() or f"gst-launch-1.0 exited with {code}"
        return CaptureStatus.ERROR, None, None

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=2.0)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def describe(self) -> dict[str, Any]:
        return {"backend": "gst-launch", "width": self._size[0], "height": self._size[1], "fps": self._fps}
