"""Frames and per-frame results as they travel through the pipeline."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # keep `import edge_sdk.frame` free of OpenCV, so config checks and --help stay light
    from collections.abc import Callable

    from edge_sdk.decode.base import Detections
    from edge_sdk.engines.base import EngineInfo
    from edge_sdk.preprocess.letterbox import LetterboxInfo


class CaptureStatus(enum.Enum):
    """What a source's `read` returned. Expected conditions are values, not exceptions."""

    OK = "ok"
    TIMEOUT = "timeout"  # no frame within the timeout; the source may recover
    EOS = "eos"  # end of stream (end of a file, or a source that was closed)
    ERROR = "error"  # the source failed; `Source.last_error` says why; a live source reconnects


@dataclass
class Frame:
    """One captured frame. `image` is BGR uint8 HxWx3 (OpenCV convention)."""

    frame_id: int
    camera: str
    image: np.ndarray
    t_capture_mono: float  # time.monotonic() at capture
    t_capture_wall: float  # time.time() at capture
    source_pts: float | None = None  # stream timestamp in seconds, when the source has one
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])


@dataclass
class FrameResult:
    """Detections of one frame, boxes in original-frame pixels, with per-stage timings in seconds."""

    frame: Frame
    detections: Detections
    letterbox: LetterboxInfo | None = None
    timings: dict[str, float] = field(default_factory=dict)
    model: ModelTag | None = None  # the model that produced it (set by the pipeline)


@dataclass(frozen=True)
class ModelTag:
    """The model a result came from: its engine info, class labels and name (`model.name`, else the file's stem:
    what detection messages call it). After a live model swap (SIGHUP, a rollout) results still in flight keep
    the tag of the model that inferred them. `name` None: the publisher's configured name."""

    engine_info: EngineInfo
    label: Callable[[int], str]
    name: str | None = None
