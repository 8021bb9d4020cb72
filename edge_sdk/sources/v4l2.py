"""USB and other V4L2 cameras (`v4l2:///dev/video0`, `v4l2://0`) through OpenCV's V4L2 backend.

`v4l2:///dev/video0?width=1280&height=720&fps=30&fourcc=MJPG`. The default `fourcc=auto` asks for MJPG (USB 2
carries 720p/1080p at full rate only compressed) and takes what the camera gives; a fourcc or size asked for
explicitly that the camera does not give is an error, not a silent downgrade. An unplugged camera makes reads
fail; the source then reopens with backoff until the device node is back.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

import cv2

from edge_sdk.errors import SourceError
from edge_sdk.sources.opencv_capture import OpenCvCaptureReader
from edge_sdk.sources.options import parse_options
from edge_sdk.sources.uri import SourceUri

log = logging.getLogger(__name__)


def fourcc_text(code: float) -> str:
    value = int(code)
    return "".join(chr((value >> (8 * i)) & 0xFF) for i in range(4)).strip("\x00") or "?"


class V4l2Reader(OpenCvCaptureReader):
    def __init__(self, uri: SourceUri, base_dir: Path | None = None, options: dict[str, Any] | None = None) -> None:
        opts = options if options is not None else parse_options(uri)
        self.device = uri.target
        self.label = uri.redacted()
        self.width: int | None = opts["width"]
        self.height: int | None = opts["height"]
        self.fps: float | None = opts["fps"]
        self.fourcc: str = opts["fourcc"]  # upper case, or AUTO
        self.timeout_s = opts["timeout"]
        self._cap: Any = None
        self._got: dict[str, Any] = {}

    def _check_device(self) -> None:
        try:
            mode = os.stat(self.device).st_mode
        except FileNotFoundError:
            raise SourceError("no such video device (unplugged, or another index?)", where=self.device,
                              fix="list cameras with: v4l2-ctl --list-devices (or ls /dev/video*)") from None
        if not stat.S_ISCHR(mode):
            raise SourceError("not a video device node", where=self.device, fix="use v4l2:///dev/videoN")
        if not os.access(self.device, os.R_OK | os.W_OK):
            raise SourceError("permission denied", where=self.device, fix="add the user to the 'video' group")

    def open(self) -> None:
        self.close()
        self._check_device()
        ms = int(self.timeout_s * 1000)
        cap = cv2.VideoCapture(self.device, cv2.CAP_V4L2, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms,
                                                            cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms])
        if not cap.isOpened():
            cap.release()
            raise SourceError("OpenCV's V4L2 backend cannot open this device (busy, or not a capture device)",
                              where=self.device, fix="check with: v4l2-ctl -d " + self.device + " --all")
        self._cap = cap
        self._negotiate(cap)

    def _negotiate(self, cap: Any) -> None:
        wanted_fourcc = "MJPG" if self.fourcc == "AUTO" else self.fourcc
        cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*wanted_fourcc))
        if self.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps:
            cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        got: dict[str, Any] = {"fourcc": fourcc_text(cap.get(cv2.CAP_PROP_FOURCC)),
                               "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                               "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), "fps": float(cap.get(cv2.CAP_PROP_FPS))}
        self._got = got
        problems = []
        if self.fourcc != "AUTO" and got["fourcc"] != self.fourcc:
            problems.append(f"fourcc {self.fourcc} (got {got['fourcc']})")
        if (self.width and got["width"] != self.width) or (self.height and got["height"] != self.height):
            problems.append(f"size {self.width or got['width']}x{self.height or got['height']} "
                            f"(got {got['width']}x{got['height']})")
        if problems:
            self.close()
            raise SourceError(f"the camera does not offer {' and '.join(problems)}", where=self.device,
                              fix=f"pick a mode from: v4l2-ctl -d {self.device} --list-formats-ext")
        if self.fps and abs(got["fps"] - self.fps) > 0.5:
            log.warning("%s: asked for %.1f fps, the driver reports %.1f fps", self.device, self.fps, got["fps"])
        log.info("%s: %s %dx%d at %.1f fps", self.device, got["fourcc"], got["width"], got["height"], got["fps"])

    def _no_frame_error(self) -> str:
        return "device unplugged" if not os.path.exists(self.device) else f"no frame within {self.timeout_s:g} s"

    def describe(self) -> dict[str, Any]:
        return {"backend": "opencv-v4l2", "device": self.device, **self._got}
