"""ByteTrack (Zhang et al., ECCV 2022): Kalman motion, and two-stage association that matches
high-score detections first and then recovers tracks with the low-score ones (an occluded or blurred
object's score drops before it disappears), so tracks survive partial occlusion without new ids.

Written here on numpy alone: the packaged ByteTracks either pull in torch (`bytetracker`, `ocsort`),
or supervision's stack (matplotlib, av, requests; `trackers` adds numpy>=2 and pip OpenCV, which would
shadow JetPack's), none of which a Jetson service wants for a few hundred lines of numpy (see
benchmarks/README.md for the comparison).

Per frame, as in the reference implementation:
1. predict every tracked and lost track one frame ahead (Kalman);
2. match tracked + lost tracks to detections >= `high_thresh` on 1 - IoU (x score), cost <= `match_thresh`;
3. match the still unmatched *tracked* tracks to detections in [`low_thresh`, `high_thresh`), cost <= 0.5;
   tracked tracks left over become lost;
4. match unconfirmed tracks to the high detections left over (cost <= 0.7); drop the unmatched ones;
5. start a track from each high detection left over scoring >= `new_track_thresh`;
6. end lost tracks older than `track_buffer` frames; of a tracked and a lost track that overlap
   (IoU > 0.85) keep the one seen longer.
Confirmation waits for `min_hits` consecutive matches (ByteTrack: 2), except in the very first frame.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence

import numpy as np

from edge_sdk.tracking import kalman
from edge_sdk.tracking.assign import iou_matrix, linear_assignment
from edge_sdk.tracking.base import TrackedBox, Tracker, TrackerUpdate, TrackSettings

_SECOND_MATCH = 0.5
_UNCONFIRMED_MATCH = 0.7
_DUPLICATE_IOU = 0.85


class _State(enum.Enum):
    TRACKED = 1
    LOST = 2
    REMOVED = 3


class _Track:
    __slots__ = ("box", "class_votes", "confirmed", "cov", "det_index", "hits", "id", "last_frame", "mean",
                 "score", "start_frame", "state")

    def __init__(self, box: np.ndarray, score: float, class_id: int, det_index: int, frame: int) -> None:
        self.mean, self.cov = kalman.initiate(box)
        self.box = box
        self.score = score
        self.class_votes: dict[int, float] = {class_id: score}
        self.det_index = det_index
        self.hits = 1
        self.start_frame = self.last_frame = frame
        self.state = _State.TRACKED
        self.confirmed = False
        self.id = 0

    @property
    def class_id(self) -> int:
        return max(self.class_votes.items(), key=lambda kv: kv[1])[0]

    def seen(self, box: np.ndarray, score: float, class_id: int, det_index: int, frame: int) -> None:
        """Matched to a detection (its Kalman state is corrected by the tracker, for all matches at once)."""
        self.hits = self.hits + 1 if self.last_frame == frame - 1 or self.confirmed else 1
        self.box, self.score, self.det_index, self.last_frame = box, score, det_index, frame
        self.class_votes[class_id] = self.class_votes.get(class_id, 0.0) + score
        self.state = _State.TRACKED


class ByteTracker(Tracker):
    """ByteTrack on one camera's detections (see the module docstring)."""

    def __init__(self, settings: TrackSettings | None = None) -> None:
        self.s = settings or TrackSettings()
        self.frame = 0
        self._ids = itertools.count(1)
        self.tracked: list[_Track] = []  # confirmed or not, matched recently
        self.lost: list[_Track] = []  # confirmed, unmatched for up to track_buffer frames

    def update(self, boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray) -> TrackerUpdate:
        self.frame += 1
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        class_ids = np.asarray(class_ids, dtype=np.int64).reshape(-1)
        ok = np.isfinite(boxes).all(axis=1) & np.isfinite(scores) & (scores >= self.s.low_thresh)
        high = np.flatnonzero(ok & (scores >= self.s.high_thresh))
        low = np.flatnonzero(ok & (scores < self.s.high_thresh))
        removed: list[int] = []

        confirmed = [t for t in self.tracked if t.confirmed]
        unconfirmed = [t for t in self.tracked if not t.confirmed]
        pool = confirmed + self.lost
        self._predict(pool)

        # 1. confirmed and lost tracks against the high-score detections
        cost = self._cost(pool, boxes[high], scores[high] if self.s.fuse_score else None)
        matches, left_tracks, left_high = linear_assignment(cost, self.s.match_thresh)
        self._match(pool, matches, high, boxes, scores, class_ids)
        # 2. the tracked ones still unmatched against the low-score detections
        rest = [pool[i] for i in left_tracks if pool[i].state is _State.TRACKED]
        matches, left_rest, _ = linear_assignment(self._cost(rest, boxes[low], None), _SECOND_MATCH)
        self._match(rest, matches, low, boxes, scores, class_ids)
        for i in left_rest:
            rest[i].state = _State.LOST
        # 3. unconfirmed tracks against the high detections left over
        high_left = high[left_high]
        cost = self._cost(unconfirmed, boxes[high_left], scores[high_left] if self.s.fuse_score else None)
        matches, left_unconfirmed, left_new = linear_assignment(cost, _UNCONFIRMED_MATCH)
        self._match(unconfirmed, matches, high_left, boxes, scores, class_ids)
        for i in left_unconfirmed:
            unconfirmed[i].state = _State.REMOVED
        # 4. new tracks
        born = []
        for di in high_left[left_new]:
            if scores[di] >= self.s.new_track_thresh:
                t = _Track(boxes[di], float(scores[di]), int(class_ids[di]), int(di), self.frame)
                if self.frame == 1 or self.s.min_hits <= 1:
                    self._confirm(t)
                born.append(t)
        # 5. bookkeeping: lost for too long ends; tracked/lost duplicates
        for t in pool:
            if t.state is _State.LOST and self.frame - t.last_frame > self.s.track_buffer:
                t.state = _State.REMOVED
                removed.append(t.id)
        everyone = self.tracked + self.lost + born
        self.tracked = [t for t in everyone if t.state is _State.TRACKED]
        self.lost = [t for t in everyone if t.state is _State.LOST and t.confirmed]
        removed += self._drop_duplicates()
        out = [TrackedBox(t.id, (float(t.box[0]), float(t.box[1]), float(t.box[2]), float(t.box[3])), t.score,
                          t.class_id, t.det_index, t.hits)
               for t in self.tracked if t.confirmed and t.last_frame == self.frame]
        return TrackerUpdate(out, removed)

    def flush(self) -> list[int]:
        ids = [t.id for t in self.tracked + self.lost if t.confirmed]
        self.tracked, self.lost = [], []
        return ids

    # -- helpers ------------------------------------------------------------------------------------
    def _confirm(self, t: _Track) -> None:
        t.confirmed = True
        t.id = next(self._ids)

    def _match(self, tracks: Sequence[_Track], matches: list[tuple[int, int]], det_idx: np.ndarray, boxes: np.ndarray,
               scores: np.ndarray, class_ids: np.ndarray) -> None:
        """Tracks[ti] saw detection det_idx[di] for each (ti, di): one Kalman correction for all of them."""
        if not matches:
            return
        matched = [tracks[ti] for ti, _ in matches]
        dets = np.array([det_idx[di] for _, di in matches])
        means, covs = kalman.update_many(np.stack([t.mean for t in matched]), np.stack([t.cov for t in matched]),
                                         boxes[dets])
        for t, di, m, c in zip(matched, dets, means, covs):
            t.mean, t.cov = m, c
            t.seen(boxes[di], float(scores[di]), int(class_ids[di]), int(di), self.frame)
            if not t.confirmed and t.hits >= self.s.min_hits:
                self._confirm(t)

    @staticmethod
    def _predict(tracks: Sequence[_Track]) -> None:
        if not tracks:
            return
        means, covs = kalman.predict_many(np.stack([t.mean for t in tracks]), np.stack([t.cov for t in tracks]))
        for t, m, c in zip(tracks, means, covs):
            if t.state is not _State.TRACKED:
                m[7] = 0.0  # a lost track's height stops changing (as in the reference code)
            t.mean, t.cov = m, c

    @staticmethod
    def _boxes(tracks: Sequence[_Track]) -> np.ndarray:
        """Where the tracks' Kalman states put them now (N x 4)."""
        return kalman.xyah_to_xyxy(np.stack([t.mean for t in tracks]))

    @staticmethod
    def _cost(tracks: Sequence[_Track], boxes: np.ndarray, scores: np.ndarray | None) -> np.ndarray:
        if not tracks or len(boxes) == 0:
            return np.zeros((len(tracks), len(boxes)))
        iou = iou_matrix(ByteTracker._boxes(tracks), boxes)
        if scores is not None:
            iou = iou * scores[None, :]
        cost: np.ndarray = 1.0 - iou
        return cost

    def _drop_duplicates(self) -> list[int]:
        tracked = [t for t in self.tracked if t.confirmed]
        if not tracked or not self.lost:
            return []
        iou = iou_matrix(self._boxes(tracked), self._boxes(self.lost))
        drop_tracked, drop_lost = set(), set()
        for i, j in zip(*np.nonzero(iou > _DUPLICATE_IOU)):
            a, b = tracked[int(i)], self.lost[int(j)]
            if a.last_frame - a.start_frame > b.last_frame - b.start_frame:
                drop_lost.add(id(b))
            else:
                drop_tracked.add(id(a))
        removed = [t.id for t in self.lost if id(t) in drop_lost] + [t.id for t in tracked if id(t) in drop_tracked]
        self.lost = [t for t in self.lost if id(t) not in drop_lost]
        self.tracked = [t for t in self.tracked if id(t) not in drop_tracked]
        return removed
