"""Video files and folders of images (`file://`), with optional looping and real-time pacing.

Query parameters: `loop=1` restarts at the end; `realtime=1` paces frames at the file's fps (or `fps=N`),
so a file behaves like a camera in demos and tests; `threads=N` sets the video decoder's threads (default 1:
one 640x480 H.264 frame decodes in ~0.8 ms on one core, and extra decoder threads cost CPU the engine needs);
`decoder=auto|hw|sw`: on a Jetson, H.264/H.265 files decode on its hardware decoder through GStreamer (file_hw.py).
Without `loop` the stream ends (EOS) after the last frame. An image in a folder that cannot be decoded is
skipped and logged, not taken for the end.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from edge_sdk.errors import SourceError
from edge_sdk.frame import CaptureStatus
from edge_sdk.sources.base import Reader
from edge_sdk.sources.file_hw import hw_head
from edge_sdk.sources.frame_pool import FramePool
from edge_sdk.sources.options import parse_options
from edge_sdk.sources.uri import SourceUri

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class FileReader(Reader):
    live = False

    def __init__(self, uri: SourceUri, base_dir: Path | None = None, options: dict[str, Any] | None = None) -> None:
        opts = options if options is not None else parse_options(uri)
        path = Path(uri.target)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        self.path = path
        self.loop: bool = opts["loop"]
        self.realtime: bool = opts["realtime"]
        self.fps_override: float | None = opts["fps"]
        self.threads: int = opts["threads"]
        self.decoder: str = opts["decoder"]
        self._gst: Reader | None = None  # the hardware-decoded path (file_hw.py), else OpenCV's `_cap`
        self._gst_head: str | None = None
        self._cap: cv2.VideoCapture | None = None
        self._pool = FramePool()  # decoded frames land in buffers no frame in use holds (frame_pool.py)
        self._images: list[Path] = []
        self._index = 0
        self._fps = 0.0
        self._size = (0, 0)
        self._t0: float | None = None
        self._emitted = 0
        self.skipped = 0  # folder images that could not be decoded

    def open(self) -> None:
        self.close()
        if not self.path.exists():
            raise SourceError("file not found", where=str(self.path), fix="check the source URI")
        if self.path.is_dir():
            self._images = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not self._images:
                raise SourceError("folder holds no JPEG/PNG/BMP images", where=str(self.path),
                                  fix="point the source at a video file or a folder of .jpg/.png/.bmp images")
            self._fps = self.fps_override or 30.0
        elif (head := hw_head(self.path, self.decoder, str(self.path))) is not None:
            self._gst_head = head
            self._gst = self._open_gst(head)
            self._fps = self.fps_override or float(self._gst.describe().get("fps") or 30.0)
        else:
            self._cap = self._open_video()
            self._fps = self.fps_override or float(self._cap.get(cv2.CAP_PROP_FPS) or 30.0)
        self._index = 0
        self._t0 = None
        self._emitted = 0

    def _open_video(self) -> cv2.VideoCapture:
        # CAP_PROP_N_THREADS reaches FFmpeg's decoder; other backends ignore it.
        cap = cv2.VideoCapture(str(self.path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, self.threads])
        if not cap.isOpened():
            cap.release()
            raise SourceError("OpenCV cannot open this video", where=str(self.path),
                              fix="check the file is a complete video OpenCV can decode (e.g. H.264 .mp4)")
        self._size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        return cap

    def _open_gst(self, head: str) -> Reader:
        from edge_sdk.sources.gst import GstPipelineReader

        reader = GstPipelineReader(head, "auto", self.timeout_s, label=str(self.path), every_frame=True)
        reader.open()
        facts = reader.describe()
        self._size = (int(facts.get("width") or 0), int(facts.get("height") or 0))
        return reader

    def _next_gst_frame(self) -> tuple[CaptureStatus, np.ndarray | None]:
        """OK with a frame, TIMEOUT (the decoder is behind), or EOS (the end; OpenCV's GStreamer path cannot tell
        it from an error: a file that ends early says why in `error`)."""
        for _ in range(2):
            if self._gst is None or self._gst_head is None:
                return CaptureStatus.EOS, None
            status, image, _pts = self._gst.grab()
            if status is CaptureStatus.OK and image is not None:
                return status, image
            if status is CaptureStatus.TIMEOUT:
                return status, None
            if status is CaptureStatus.ERROR and self._gst.error:
                log.info("%s: the hardware-decoded stream stopped: %s", self.path, self._gst.error)
            if not self.loop:
                break
            self._gst.close()
            self._gst = self._open_gst(self._gst_head)
        return CaptureStatus.EOS, None

    def _pace(self) -> None:
        if not self.realtime or self._fps <= 0:
            return
        now = time.monotonic()
        if self._t0 is None:
            self._t0 = now
        due = self._t0 + self._emitted / self._fps
        if due > now:
            time.sleep(due - now)

    def _next_video_frame(self) -> np.ndarray | None:
        if self._cap is None:
            return None
        frame = self._pool.read(self._cap)
        if frame is None and self.loop:
            self._cap.release()  # reopening is reliable where seeking to frame 0 is not (some containers)
            self._cap = self._open_video()
            frame = self._pool.read(self._cap)
        return frame

    def _next_folder_image(self) -> np.ndarray | None:
        for _ in range(len(self._images) + 1):
            if self._index >= len(self._images):
                if not self.loop:
                    return None
                self._index = 0
            path = self._images[self._index]
            self._index += 1
            image: np.ndarray | None = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                return image
            self.skipped += 1
            log.warning("%s: cannot decode this image; skipped", path)
        return None

    def grab(self) -> tuple[CaptureStatus, np.ndarray | None, float | None]:
        self._pace()
        if self._gst is not None:
            status, img = self._next_gst_frame()
            if status is CaptureStatus.TIMEOUT:
                return status, None, None
        else:
            img = self._next_video_frame() if self._cap is not None else self._next_folder_image()
        if img is None:
            self.error = "end of file"
            return CaptureStatus.EOS, None, None
        pts = self._emitted / self._fps if self._fps else None
        self._emitted += 1
        return CaptureStatus.OK, img, pts

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        if self._gst is not None:
            self._gst.close()
            self._gst = None

    def describe(self) -> dict[str, Any]:
        kind = "opencv-file" if self._cap is not None or not self._images else "opencv-images"
        if self._gst is not None:
            kind = f"gst-nvv4l2decoder ({self._gst.describe().get('backend', 'gst')})"
        return {"backend": kind, "path": str(self.path), "fps": self._fps, "loop": self.loop,
                "realtime": self.realtime, "width": self._size[0], "height": self._size[1]}
