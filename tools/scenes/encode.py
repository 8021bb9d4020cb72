"""Video file writers: H.264 through the `ffmpeg` program (small files), or MPEG-4 part 2 through OpenCV.

OpenCV's pip wheels can decode H.264 but not encode it, and their `mp4v` encoder has a fixed, high
bit rate (about 9 Mbit/s at 640x480). For files meant to be shipped, `h264` pipes raw frames to
`ffmpeg -c:v libx264`; `mp4v` needs nothing beyond OpenCV.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import TracebackType

import cv2
import numpy as np

CODECS = ("h264", "mp4v")


class VideoFileWriter:
    """Context manager writing BGR uint8 frames of one size to `path` with `codec` (see CODECS)."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], codec: str = "h264", crf: int = 23) -> None:
        if codec not in CODECS:
            raise ValueError(f"codec must be one of {CODECS}, got {codec!r}")
        self.path, self.fps, self.size, self.codec, self.crf = Path(path), fps, size, codec, crf
        self._cv: cv2.VideoWriter | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> VideoFileWriter:
        w, h = self.size
        if self.codec == "mp4v":
            self._cv = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*"mp4v"), self.fps, self.size)
            if not self._cv.isOpened():
                raise OSError(f"OpenCV cannot write MPEG-4 video to {self.path}")
            return self
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise OSError("codec 'h264' needs the ffmpeg program with libx264 (apt-get install ffmpeg); or use codec 'mp4v'")
        cmd = [
            ffmpeg,
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgr24",
            "-s",
            f"{w}x{h}",
            "-r",
            f"{self.fps}",
            "-i",
            "-",
            "-c:v",
            "libx264",
            "-preset",
            "medium",
            "-crf",
            str(self.crf),
            "-pix_fmt",
            "yuv420p",
            "-g",
            str(max(1, round(2 * self.fps))),
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            str(self.path),
        ]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        return self

    def write(self, frame: np.ndarray) -> None:
        if frame.shape != (self.size[1], self.size[0], 3) or frame.dtype != np.uint8:
            raise ValueError(f"expected a {self.size[1]}x{self.size[0]}x3 uint8 frame, got {frame.shape} {frame.dtype}")
        if self._cv is not None:
            self._cv.write(frame)
        elif self._proc is not None and self._proc.stdin is not None:
            self._proc.stdin.write(np.ascontiguousarray(frame).tobytes())
        else:
            raise RuntimeError("VideoFileWriter.write called outside its `with` block")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._cv is not None:
            self._cv.release()
            self._cv = None
        if self._proc is not None:
            proc, self._proc = self._proc, None
            if proc.stdin is not None:
                proc.stdin.close()
            err = proc.stderr.read().decode(errors="replace") if proc.stderr is not None else ""
            if proc.wait() != 0 and exc_type is None:
                raise OSError(f"ffmpeg failed writing {self.path}: {err.strip()[-500:]}")
