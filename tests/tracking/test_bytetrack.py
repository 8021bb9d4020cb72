"""ByteTrack on synthetic detections: ids stay with objects, low scores keep tracks alive, the buffer ends
them, and the assignment solver matches scipy's."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.tracking import ByteTracker, TrackSettings
from edge_sdk.tracking.assign import linear_assignment, solve


def _frame(*objs: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Detections of boxes 40x80 at x offsets with scores: (x, score, class)."""
    boxes = np.array([[x, 100, x + 40, 180] for x, _, _ in objs], np.float64).reshape(-1, 4)
    return boxes, np.array([s for _, s, _ in objs]), np.array([int(c) for _, _, c in objs])


def test_assignment_is_optimal_like_scipy() -> None:
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(0)
    for _ in range(200):
        n, m = (int(v) for v in rng.integers(1, 9, 2))
        cost = np.round(rng.random((n, m)) * 4)  # ties included
        rows, cols = solve(cost)
        ref_r, ref_c = linear_sum_assignment(cost)
        assert cost[rows, cols].sum() == pytest.approx(cost[ref_r, ref_c].sum())
        assert len(set(cols.tolist())) == len(cols) == min(n, m)


def test_assignment_respects_the_cost_limit() -> None:
    cost = np.array([[0.1, 0.9], [0.2, 0.95]])
    matches, rows, cols = linear_assignment(cost, 0.5)
    assert matches == [(0, 0)] and rows == [1] and cols == [1]


def test_two_objects_keep_their_ids_while_moving() -> None:
    tr = ByteTracker()
    ids = []
    for k in range(20):
        up = tr.update(*_frame((10 + 5 * k, 0.9, 0), (400 - 5 * k, 0.8, 1)))
        ids.append({t.class_id: t.track_id for t in up.tracks})
    assert ids[0] == ids[-1] and len(set(ids[-1].values())) == 2


def test_a_low_score_detection_keeps_the_track_alive_in_the_second_association() -> None:
    tr = ByteTracker(TrackSettings(track_buffer=1))
    first = tr.update(*_frame((10, 0.9, 0))).tracks[0].track_id
    for k in range(1, 6):  # partly occluded: the score drops below high_thresh
        up = tr.update(*_frame((10 + 3 * k, 0.3, 0)))
        assert [t.track_id for t in up.tracks] == [first]
    assert tr.update(*_frame((30, 0.9, 0))).tracks[0].track_id == first


def test_a_lost_track_is_found_again_within_the_buffer_and_ends_after_it() -> None:
    tr = ByteTracker(TrackSettings(track_buffer=5))
    for k in range(5):
        up = tr.update(*_frame((10 + 4 * k, 0.9, 0)))
    tid = up.tracks[0].track_id
    for _ in range(3):  # hidden for 3 frames: lost, not ended
        assert tr.update(*_frame()).removed == []
    assert tr.update(*_frame((10 + 4 * 8, 0.9, 0))).tracks[0].track_id == tid  # the Kalman prediction moved on
    removed = []
    for _ in range(7):
        removed += tr.update(*_frame()).removed
    assert removed == [tid]
    assert tr.update(*_frame((300, 0.9, 0))).tracks == []  # a new object: confirmed on its second frame
    assert tr.update(*_frame((302, 0.9, 0))).tracks[0].track_id > tid


def test_confirmation_needs_min_hits_and_a_strong_first_detection() -> None:
    tr = ByteTracker(TrackSettings(min_hits=3))
    tr.update(*_frame())  # not the first frame any more: no instant confirmation
    assert tr.update(*_frame((10, 0.55, 0))).tracks == []  # below new_track_thresh 0.6: no track at all
    assert tr.update(*_frame((10, 0.9, 0))).tracks == []  # hit 1
    assert tr.update(*_frame((12, 0.9, 0))).tracks == []  # hit 2
    assert len(tr.update(*_frame((14, 0.9, 0))).tracks) == 1  # hit 3: confirmed


def test_the_class_follows_the_score_weighted_vote() -> None:
    tr = ByteTracker()
    for k, (score, cls) in enumerate([(0.9, 1), (0.9, 1), (0.6, 2), (0.9, 1)]):
        up = tr.update(*_frame((10 + k, score, cls)))
    assert up.tracks[0].class_id == 1 and tr.flush() == [up.tracks[0].track_id]
