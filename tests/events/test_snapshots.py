"""Snapshots: the best frame of a track is the one saved, retention by count and bytes, and a stuck encoder
costs the publish thread nothing (jobs are dropped and counted)."""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

from edge_sdk.config.events import SnapshotsConfig
from edge_sdk.events.camera import TrackState
from edge_sdk.events.snapshots import SnapshotManager
from tests.publish.helpers import wait_until


def _track(uid: str, score: float) -> TrackState:
    return TrackState(1, uid, 0, "person", 0.0, 0.0, score, score, (200.0, 100.0, 300.0, 300.0))


def _image(value: int) -> np.ndarray:
    return np.full((480, 640, 3), value, np.uint8)


def test_the_best_scoring_frame_is_saved_as_crop_and_full_frame(tmp_path: Path) -> None:
    published: list[tuple[str, str, bytes]] = []
    m = SnapshotManager(SnapshotsConfig(enabled=True, min_interval_s=0.0, publish="crop", crop_size=64), tmp_path,
                        lambda c, label, data: published.append((c, label, data)))
    t = _track("cam0-1-1", 0.5)
    for k, score in enumerate([0.5, 0.7, 0.95, 0.6, 0.8]):  # grey level 40 * k tells the frames apart
        t.score = score
        m.observe("cam0", t, _image(40 * k), float(k))
    m.finish("cam0", t)
    assert wait_until(lambda: m.saved == 1, 10)
    m.close()
    crop = cv2.imread(str(tmp_path / "cam0" / "cam0-1-1-crop.jpg"))
    full = cv2.imread(str(tmp_path / "cam0" / "cam0-1-1-full.jpg"))
    assert max(crop.shape[:2]) == 64 and full.shape == (480, 640, 3)
    assert abs(float(np.median(crop)) - 80) < 3  # frame 2, score 0.95
    assert t.snapshot is not None and t.snapshot["crop"] == "cam0/cam0-1-1-crop.jpg" and t.snapshot["score"] == 0.95
    assert [(c, label) for c, label, _ in published] == [("cam0", "person")]
    assert cv2.imdecode(np.frombuffer(published[0][2], np.uint8), cv2.IMREAD_COLOR).shape[:2] == crop.shape[:2]


def test_retention_keeps_the_newest_files_within_count_and_bytes(tmp_path: Path) -> None:
    (tmp_path / "cam0").mkdir()
    old = tmp_path / "cam0" / "old-crop.jpg"
    old.write_bytes(b"x" * 100)  # from an earlier run: counted, oldest, removed first
    m = SnapshotManager(SnapshotsConfig(enabled=True, max_count=4), tmp_path)
    for i in range(3):
        t = _track(f"cam0-1-{i}", 0.9)
        m.observe("cam0", t, _image(100), 0.0)
        m.finish("cam0", t)
    assert wait_until(lambda: m.saved == 3, 10)
    m.close()
    left = sorted(p.name for p in (tmp_path / "cam0").iterdir())
    assert left == ["cam0-1-1-crop.jpg", "cam0-1-1-full.jpg", "cam0-1-2-crop.jpg", "cam0-1-2-full.jpg"]
    one = sum(p.stat().st_size for p in (tmp_path / "cam0").glob("cam0-1-2-*"))
    m = SnapshotManager(SnapshotsConfig(enabled=True, max_mb=(one + 1) / (1 << 20)), tmp_path)  # room for one pair
    m.close()
    assert sorted(p.name for p in (tmp_path / "cam0").iterdir()) == ["cam0-1-2-crop.jpg", "cam0-1-2-full.jpg"]


def test_a_stuck_encoder_drops_jobs_and_never_blocks_the_caller(tmp_path: Path) -> None:
    m = SnapshotManager(SnapshotsConfig(enabled=True, min_interval_s=0.0, queue_size=2), tmp_path)
    release = threading.Event()
    real = m._encode
    m._encode = lambda c: (release.wait(30), real(c))[1]  # type: ignore[method-assign]  # a stand-in slow encoder
    for i in range(50):  # the encoder is stuck all along: getting through the loop is the proof of no waiting
        m.observe("cam0", _track(f"cam0-1-{i}", 0.9), _image(10), 0.0)
    assert m.dropped == 48 and m.stats()["queued"] == 2
    for i in range(50):  # ends go in beyond queue_size, up to twice it: each holds a frame
        t = _track(f"cam0-2-{i}", 0.9)
        m.observe("cam0", t, _image(10), 0.0)
        m.finish("cam0", t)
    assert m.stats()["queued"] == 4 and m.dropped == 48 + 50 + 48
    release.set()
    m.close()
