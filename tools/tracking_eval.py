"""Tracking accuracy against a scene's ground truth, through motmetrics (MOTA, IDF1, ID switches), and the
plain IoU tracker the ByteTrack numbers are compared with. Used by tools/bench_tracking.py and its test.

Ground truth: the scene generator's COCO file, whose annotations carry `track_id` (the object's id across
frames) and `ignore` (objects too hidden or cut to be fair targets). Matching, as the MOTChallenge devkit
does: per frame a hypothesis matched (IoU >= 0.5) to an ignored object is dropped with it, so it counts
neither as a false positive nor as a miss; the rest go to motmetrics with distance 1 - IoU (no match below
IoU 0.5, nor across classes).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edge_sdk.tracking.assign import iou_matrix, linear_assignment
from edge_sdk.tracking.base import TrackedBox, Tracker, TrackerUpdate

MIN_IOU = 0.5


@dataclass
class FrameTruth:
    ids: list[int] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)
    classes: list[int] = field(default_factory=list)
    ignore_boxes: list[list[float]] = field(default_factory=list)


def truth_by_frame(coco: dict[str, Any]) -> dict[int, FrameTruth]:
    """Per image id, the ground-truth objects (id, xyxy box, class index) and the ignored boxes."""
    frames: dict[int, FrameTruth] = {img["id"]: FrameTruth() for img in coco["images"]}
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        box = [x, y, x + w, y + h]
        f = frames[a["image_id"]]
        if a.get("ignore") or a.get("iscrowd"):
            f.ignore_boxes.append(box)
        else:
            f.ids.append(int(a["track_id"]))
            f.boxes.append(box)
            f.classes.append(int(a["category_id"]) - 1)
    return frames


class IouTracker(Tracker):
    """The baseline: a plain IoU tracker (Bochinski et al., 2017) with no motion model and no memory.

    Each track takes the unmatched detection it overlaps most (IoU >= `min_iou`, greedily, best pairs
    first); a track with no detection in a frame ends at once; every detection left over starts a track,
    confirmed (reported) after `min_hits` consecutive frames, as ByteTrack's are."""

    def __init__(self, min_iou: float = 0.3, min_hits: int = 2, min_score: float = 0.0) -> None:
        self.min_iou, self.min_hits, self.min_score = min_iou, min_hits, min_score
        self._next = 1
        self._tracks: list[dict[str, Any]] = []

    def update(self, boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray) -> TrackerUpdate:
        keep = np.flatnonzero(np.asarray(scores) >= self.min_score)
        boxes, scores, class_ids = np.asarray(boxes)[keep], np.asarray(scores)[keep], np.asarray(class_ids)[keep]
        iou = iou_matrix(np.array([t["box"] for t in self._tracks]).reshape(-1, 4), boxes)
        pairs = sorted(((float(iou[i, j]), i, j) for i, j in zip(*np.nonzero(iou >= self.min_iou))), reverse=True)
        used_t: set[int] = set()
        used_d: set[int] = set()
        alive, removed = [], []
        for _, i, j in pairs:
            if i in used_t or j in used_d:
                continue
            used_t.add(i)
            used_d.add(j)
            t = self._tracks[i]
            t.update(box=boxes[j], score=float(scores[j]), cls=int(class_ids[j]), det=int(keep[j]), hits=t["hits"] + 1)
            if t["id"] == 0 and t["hits"] >= self.min_hits:
                t["id"] = self._take_id()
            alive.append(t)
        for i, t in enumerate(self._tracks):
            if i not in used_t and t["id"]:
                removed.append(t["id"])
        for j in range(len(boxes)):
            if j not in used_d:
                t = {"id": 0, "box": boxes[j], "score": float(scores[j]), "cls": int(class_ids[j]), "det": int(keep[j]),
                     "hits": 1}
                if self.min_hits <= 1:
                    t["id"] = self._take_id()
                alive.append(t)
        self._tracks = alive
        out = [TrackedBox(t["id"], tuple(float(v) for v in t["box"]), t["score"], t["cls"], t["det"], t["hits"])  # type: ignore[arg-type]
               for t in alive if t["id"]]
        return TrackerUpdate(out, removed)

    def flush(self) -> list[int]:
        ids = [t["id"] for t in self._tracks if t["id"]]
        self._tracks = []
        return ids

    def _take_id(self) -> int:
        self._next += 1
        return self._next - 1


def accumulate(truth: dict[int, FrameTruth], hypotheses: dict[int, list[TrackedBox]]) -> Any:
    """A motmetrics accumulator of one sequence: ground truth against the tracks reported per frame."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=False)
    for frame_id in sorted(truth):
        gt = truth[frame_id]
        hyps = list(hypotheses.get(frame_id, []))
        if gt.ignore_boxes and hyps:
            hyps = _without_ignored(gt, hyps)
        gt_boxes = np.array(gt.boxes).reshape(-1, 4)
        hyp_boxes = np.array([h.box for h in hyps]).reshape(-1, 4)
        iou = iou_matrix(gt_boxes, hyp_boxes)
        same_class = np.array(gt.classes)[:, None] == np.array([h.class_id for h in hyps])[None, :]
        dist = np.where((iou >= MIN_IOU) & same_class, 1.0 - iou, np.nan)
        acc.update(gt.ids, [h.track_id for h in hyps], dist, frameid=frame_id)
    return acc


def _without_ignored(gt: FrameTruth, hyps: list[TrackedBox]) -> list[TrackedBox]:
    """Drop the hypotheses that match an ignored object better than any counted one (MOTChallenge devkit)."""
    all_boxes = np.array(gt.boxes + gt.ignore_boxes).reshape(-1, 4)
    iou = iou_matrix(all_boxes, np.array([h.box for h in hyps]).reshape(-1, 4))
    matches, _, _ = linear_assignment(1.0 - iou, 1.0 - MIN_IOU)
    ignored = {j for i, j in matches if i >= len(gt.boxes)}
    return [h for j, h in enumerate(hyps) if j not in ignored]


def run_tracker(tracker: Tracker, frames: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[
        dict[int, list[TrackedBox]], list[float]]:
    """Feed a tracker every frame's detections; the tracks per frame and the CPU seconds of each update."""
    import time

    out: dict[int, list[TrackedBox]] = defaultdict(list)
    cpu: list[float] = []
    for i, (boxes, scores, classes) in enumerate(frames):
        t0 = time.thread_time()
        update = tracker.update(boxes, scores, classes)
        cpu.append(time.thread_time() - t0)
        out[i] = update.tracks
    return out, cpu


def summarize(accs: list[Any], names: list[str]) -> dict[str, dict[str, float]]:
    """MOTA, IDF1, ID switches and friends per sequence and OVERALL (motmetrics' own computation)."""
    import motmetrics as mm

    metrics = ["mota", "motp", "idf1", "idp", "idr", "num_switches", "num_false_positives", "num_misses",
               "num_objects", "num_unique_objects", "mostly_tracked", "num_fragmentations"]
    df = mm.metrics.create().compute_many(accs, metrics=metrics, names=names, generate_overall=len(accs) > 1)
    out: dict[str, dict[str, float]] = {}
    for name, row in df.iterrows():
        out[str(name)] = {k: (float(row[k]) if k in ("mota", "motp", "idf1", "idp", "idr") else int(row[k]))
                          for k in metrics}
    return out
