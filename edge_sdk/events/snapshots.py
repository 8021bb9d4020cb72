"""The best frame of each track as JPEGs: a crop around the object and the full frame with its box drawn.

    manager = SnapshotManager(cfg.events.snapshots, folder, publish=...)
    manager.observe(camera, track, image, frame_time)   # publish thread, every frame a track is seen
    manager.finish(camera, track)                        # publish thread, when the track ends
    manager.close()

Split in two so that encoding never stalls inference:
- On the publish thread `observe` only compares numbers and keeps a reference to the frame of the best
  candidate (sources hand out a new array per frame and nobody writes into it). A candidate is handed to
  the encoder at most every `min_interval_s` per track, and at the end.
- The encoder thread crops, scales, draws and encodes, keeps each live track's best JPEGs in memory, and
  at the end writes them (atomically) to `<folder>/<camera>/<uid>-crop.jpg` and `-full.jpg`, prunes the
  oldest files beyond `max_count` files or `max_mb`, and (`publish`) hands the latest to the publisher as
  the retained `<prefix>/<device>/<camera>/snapshot/<label>`.
- Encode jobs beyond `queue_size` waiting are dropped and counted (`dropped`): the track keeps its
  previous best. The end of a track goes in beyond that, up to twice `queue_size` (each job holds a frame:
  memory stays bounded while a disk hangs); past that it is dropped too, and that track has no files.

Quality of a candidate: its score, halved when the box touches the frame's border (a cut object).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.atomic import remove_stale_temps, write_bytes_atomic
from edge_sdk.config.events import SnapshotsConfig
from edge_sdk.events.camera import TrackState
from edge_sdk.events.draw import Drawable, draw, jpeg, scaled

log = logging.getLogger(__name__)

PublishSnapshot = Callable[[str, str, bytes], None]  # camera, label, JPEG


@dataclass
class _Candidate:
    image: np.ndarray
    box: tuple[float, float, float, float]
    text: str
    key: int
    quality: float
    time: float


@dataclass(frozen=True)
class _Encode:
    uid: str
    candidate: _Candidate


@dataclass(frozen=True)
class _Finish:
    uid: str
    camera: str
    label: str


@dataclass
class _Best:
    crop: bytes
    full: bytes


def quality(score: float, box: tuple[float, float, float, float], width: int, height: int) -> float:
    x1, y1, x2, y2 = box
    cut = x1 <= 1 or y1 <= 1 or x2 >= width - 1 or y2 >= height - 1
    return score * (0.5 if cut else 1.0)


class SnapshotManager:
    def __init__(self, cfg: SnapshotsConfig, folder: Path, publish: PublishSnapshot | None = None) -> None:
        self.cfg = cfg
        self.folder = folder
        self.publish = publish if cfg.publish != "none" else None
        self.dropped = 0
        self.saved = 0
        self.errors = 0
        self._pending = 0  # encode jobs queued (bounded by queue_size)
        self._lock = threading.Lock()
        self._best_quality: dict[str, float] = {}  # uid -> quality handed to the encoder
        self._candidate: dict[str, _Candidate] = {}  # uid -> better candidate not yet handed over
        self._last_submit: dict[str, float] = {}
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._best: dict[str, _Best] = {}  # encoder thread only
        self._files: deque[tuple[Path, int]] = deque()
        self._bytes = 0
        folder.mkdir(parents=True, exist_ok=True)
        self._scan()
        self._thread = threading.Thread(target=self._run, name="snapshots", daemon=True)
        self._thread.start()

    # -- publish thread -------------------------------------------------------------------------------
    def observe(self, camera: str, t: TrackState, image: np.ndarray, now: float) -> None:
        h, w = image.shape[:2]
        q = quality(t.score, t.box, w, h)
        held = self._candidate.get(t.uid)
        if q > max(self._best_quality.get(t.uid, -1.0), held.quality if held else -1.0):
            held = self._candidate[t.uid] = _Candidate(image, t.box, f"{t.label} {t.score:.2f}", t.id, q, now)
            t.snapshot = self.reference(camera, t.uid, t.score, now)
        if held is not None and now - self._last_submit.get(t.uid, -1e18) >= self.cfg.min_interval_s:
            self._last_submit[t.uid] = now  # tried now; a dropped candidate is kept for the next try or the end
            self._submit(t.uid)

    def finish(self, camera: str, t: TrackState) -> None:
        if t.uid in self._candidate:
            self._submit(t.uid, force=True)
        self._candidate.pop(t.uid, None)  # dropped even so: the frame is let go
        self._best_quality.pop(t.uid, None)
        self._last_submit.pop(t.uid, None)
        self._queue.put(_Finish(t.uid, camera, t.label))

    def reference(self, camera: str, uid: str, score: float, at: float) -> dict[str, Any]:
        return {"crop": f"{camera}/{uid}-crop.jpg", "full": f"{camera}/{uid}-full.jpg", "score": round(score, 5),
                "time": round(at, 6)}

    def _submit(self, uid: str, force: bool = False) -> None:
        with self._lock:
            if self._pending >= self.cfg.queue_size * (2 if force else 1):
                self.dropped += 1
                return
            self._pending += 1
        cand = self._candidate.pop(uid)
        self._best_quality[uid] = cand.quality
        self._queue.put(_Encode(uid, cand))

    def close(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def stats(self) -> dict[str, Any]:
        return {"saved": self.saved, "dropped": self.dropped, "errors": self.errors, "queued": self._pending,
                "files": len(self._files), "bytes": self._bytes}

    # -- encoder thread -------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                if isinstance(job, _Encode):
                    self._best[job.uid] = self._encode(job.candidate)
                else:
                    self._finish(job)
            except Exception:  # a bug or a full disk: that snapshot is lost, the others go on
                self.errors += 1
                log.exception("snapshot failed (%d so far)", self.errors)
            finally:
                if isinstance(job, _Encode):
                    with self._lock:
                        self._pending -= 1

    def _encode(self, c: _Candidate) -> _Best:
        h, w = c.image.shape[:2]
        x1, y1, x2, y2 = c.box
        mx, my = (x2 - x1) * self.cfg.crop_margin, (y2 - y1) * self.cfg.crop_margin
        cx1, cy1 = max(0, int(x1 - mx)), max(0, int(y1 - my))
        cx2, cy2 = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
        crop = c.image[cy1:max(cy2, cy1 + 1), cx1:max(cx2, cx1 + 1)]
        side = max(crop.shape[:2])
        if side > self.cfg.crop_size:
            import cv2

            s = self.cfg.crop_size / side
            crop = cv2.resize(crop, (max(1, round(crop.shape[1] * s)), max(1, round(crop.shape[0] * s))),
                              interpolation=cv2.INTER_AREA)
        full, scale = scaled(c.image, self.cfg.full_width)
        draw(full, [Drawable(c.box, c.text, c.key)], scale)
        return _Best(jpeg(np.ascontiguousarray(crop), self.cfg.quality), jpeg(full, self.cfg.quality))

    def _finish(self, job: _Finish) -> None:
        best = self._best.pop(job.uid, None)
        if best is None:
            return
        folder = self.folder / job.camera
        folder.mkdir(parents=True, exist_ok=True)
        for kind, data in (("crop", best.crop), ("full", best.full)):
            path = write_bytes_atomic(folder / f"{job.uid}-{kind}.jpg", data)
            self._files.append((path, len(data)))
            self._bytes += len(data)
        self.saved += 1
        self._prune()
        if self.publish is not None:
            self.publish(job.camera, job.label, best.crop if self.cfg.publish == "crop" else best.full)

    def _prune(self) -> None:
        limit = int(self.cfg.max_mb * (1 << 20))
        while self._files and (len(self._files) > self.cfg.max_count or self._bytes > limit):
            path, size = self._files.popleft()
            path.unlink(missing_ok=True)
            self._bytes -= size

    def _scan(self) -> None:
        """Files left by earlier runs count against the limits too, oldest first."""
        found = []
        for cam in (p for p in self.folder.iterdir() if p.is_dir()):
            remove_stale_temps(cam)
            for p in cam.glob("*.jpg"):
                st = p.stat()
                found.append((st.st_mtime, p, st.st_size))
        for _, p, size in sorted(found):
            self._files.append((p, size))
            self._bytes += size
        self._prune()
