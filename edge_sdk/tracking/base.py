"""What a tracker takes and gives, shared by every tracker and the events layer.

A tracker is fed the detections of one camera frame by frame (`update`) and answers with the confirmed
tracks that were matched to a detection in that frame, and the ids of the confirmed tracks it gave up
(lost for longer than its buffer). Track ids are positive integers, unique per tracker instance (one per
camera), never reused.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class TrackSettings:
    """ByteTrack's parameters (names as in Ultralytics' bytetrack.yaml). Scores are detection scores."""

    high_thresh: float = 0.5  # first association: detections at or above this
    low_thresh: float = 0.1  # second association: detections in [low, high) (recovers occluded objects)
    new_track_thresh: float = 0.6  # an unmatched detection at or above this starts a track
    match_thresh: float = 0.8  # first association: cost (1 - IoU x score) at most this
    track_buffer: int = 30  # frames a lost track is kept for re-identification; then it ends
    min_hits: int = 2  # matched in this many consecutive frames before it is confirmed (reported)
    fuse_score: bool = True  # weigh IoU by the detection score in the first association

    def __post_init__(self) -> None:
        if not 0 <= self.low_thresh <= self.high_thresh <= 1:
            raise ValueError("need 0 <= low_thresh <= high_thresh <= 1")
        if self.track_buffer < 1 or self.min_hits < 1:
            raise ValueError("track_buffer and min_hits must be at least 1")


@dataclass(frozen=True)
class TrackedBox:
    """One confirmed track in the current frame, with the detection it was matched to."""

    track_id: int
    box: tuple[float, float, float, float]  # x1, y1, x2, y2: the matched detection's box
    score: float  # the matched detection's score
    class_id: int  # the track's class: the class its detections voted for, weighted by score
    det_index: int  # index of the matched detection in this frame's arrays
    hits: int  # frames matched so far


@dataclass
class TrackerUpdate:
    tracks: list[TrackedBox] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)  # confirmed tracks given up this frame


class Tracker(abc.ABC):
    """Multi-object tracker of one camera. Not thread-safe: feed it from one thread, in frame order."""

    @abc.abstractmethod
    def update(self, boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray) -> TrackerUpdate:
        """Advance one frame with its detections (N x 4 pixel boxes, N scores, N class ids)."""

    @abc.abstractmethod
    def flush(self) -> list[int]:
        """End every confirmed track now (end of stream); their ids."""
