"""tools/tracking_eval.py, what the tracking benchmark's figures rest on: on ground truth given back as detections
both trackers score IDF1 and MOTA 1 through motmetrics; two objects crossing with their ids traded count as ID
switches; an ignored object's box is neither a false positive nor a miss."""

from __future__ import annotations

from typing import Any

import numpy as np

from edge_sdk.tracking import ByteTracker
from edge_sdk.tracking.base import TrackedBox
from tools.tracking_eval import IouTracker, accumulate, run_tracker, summarize, truth_by_frame


def _scene(frames: int = 30, ignored: bool = False) -> dict[str, Any]:
    """Two people walking towards each other on separate rows (track ids 7 and 9), COCO with track_id."""
    anns = []
    for k in range(frames):
        for track_id, x, y in ((7, 50 + 8 * k, 100), (9, 400 - 8 * k, 300)):
            anns.append({"id": len(anns) + 1, "image_id": k, "category_id": 1, "bbox": [x, y, 40, 80], "track_id": track_id})
        if ignored:
            anns.append({"id": len(anns) + 1, "image_id": k, "category_id": 1, "bbox": [550, 20, 30, 30], "track_id": 99,
                         "ignore": 1})
    return {"images": [{"id": k} for k in range(frames)], "annotations": anns,
            "categories": [{"id": 1, "name": "person"}]}


def _detections(coco: dict[str, Any]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    out = []
    for img in coco["images"]:
        boxes = [[x, y, x + w, y + h] for a in coco["annotations"] if a["image_id"] == img["id"]
                 for x, y, w, h in [a["bbox"]]]
        out.append((np.array(boxes, np.float64), np.full(len(boxes), 0.9), np.zeros(len(boxes), np.int64)))
    return out


def test_ground_truth_as_detections_scores_one_for_both_trackers() -> None:
    coco = _scene()
    for tracker in (ByteTracker(), IouTracker(min_hits=1)):
        hyps, cpu = run_tracker(tracker, _detections(coco))
        m = summarize([accumulate(truth_by_frame(coco), hyps)], ["s"])["s"]
        assert len(cpu) == 30
        assert m["idf1"] == 1.0 and m["mota"] == 1.0 and m["num_switches"] == 0, (type(tracker).__name__, m)


def test_traded_ids_are_id_switches_and_ignored_objects_count_for_nothing() -> None:
    coco = _scene(ignored=True)
    truth = truth_by_frame(coco)
    hyps: dict[int, list[TrackedBox]] = {}
    for k, (boxes, _, _) in enumerate(_detections(coco)):
        ids = [1, 2, 3] if k < 15 else [2, 1, 3]  # the two people trade ids halfway; 3 is the ignored box
        hyps[k] = [TrackedBox(i, tuple(float(v) for v in b), 0.9, 0, j, 1)  # type: ignore[arg-type]
                   for j, (i, b) in enumerate(zip(ids, boxes))]
    m = summarize([accumulate(truth, hyps)], ["s"])["s"]
    assert m["num_switches"] == 2 and m["num_false_positives"] == 0 and m["num_misses"] == 0
    assert m["num_objects"] == 60 and m["idf1"] == 0.5
