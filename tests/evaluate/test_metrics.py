"""COCO metrics through the kept libraries: known answers on small hand-made cases."""

from __future__ import annotations

from typing import Any

import pytest

from edge_sdk.evaluate import BACKENDS, coco_map, recall_at_iou


def _gt() -> dict[str, Any]:
    anns = [
        # image 1: two persons, one car; image 2: one dog and an ignored (crowd) person
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 100], "area": 4000, "iscrowd": 0},
        {"id": 2, "image_id": 1, "category_id": 1, "bbox": [200, 20, 30, 90], "area": 2700, "iscrowd": 0},
        {"id": 3, "image_id": 1, "category_id": 2, "bbox": [300, 200, 120, 50], "area": 6000, "iscrowd": 0},
        {"id": 4, "image_id": 2, "category_id": 3, "bbox": [50, 60, 80, 50], "area": 4000, "iscrowd": 0},
        {"id": 5, "image_id": 2, "category_id": 1, "bbox": [400, 100, 10, 20], "area": 200, "iscrowd": 1, "ignore": 1},
    ]
    return {
        "images": [{"id": 1, "width": 640, "height": 480}, {"id": 2, "width": 640, "height": 480}],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "car"}, {"id": 3, "name": "dog"}],
    }


def _det(ann: dict[str, Any], score: float = 0.9, dx: float = 0.0, cat: int | None = None) -> dict[str, Any]:
    x, y, w, h = ann["bbox"]
    return {"image_id": ann["image_id"], "category_id": cat or ann["category_id"], "bbox": [x + dx, y, w, h], "score": score}


@pytest.mark.parametrize("backend", BACKENDS)
def test_perfect_detections_score_one(backend: str) -> None:
    gt = _gt()
    dets = [_det(a) for a in gt["annotations"] if not a["iscrowd"]]
    m = coco_map(gt, dets, backend)
    assert m.map50 == pytest.approx(1.0) and m.map50_95 == pytest.approx(1.0)
    assert [c.ap50 for c in m.per_class] == pytest.approx([1.0, 1.0, 1.0])
    assert m.n_gt == 4 and m.n_images == 2
    r = recall_at_iou(gt, dets, 0.5, backend=backend)
    assert (r.recall, r.matched, r.total) == (1.0, 4, 4)


def test_misses_wrong_class_and_loose_boxes() -> None:
    gt = _gt()
    a = gt["annotations"]
    dets = [
        _det(a[0]),  # person hit
        _det(a[2], cat=1),  # the car detected as a person: a miss for car, a false person
        _det(a[3], dx=20.0),  # dog shifted by 20 px of 80: IoU 0.6
        _det(a[4]),  # on the ignored crowd person: neither hit nor false positive
    ]
    r = recall_at_iou(gt, dets, 0.5)
    assert (r.matched, r.total) == (2, 4)
    assert r.per_class == {"person": 0.5, "car": 0.0, "dog": 1.0}
    assert recall_at_iou(gt, dets, 0.7).per_class["dog"] == 0.0
    m = coco_map(gt, dets)
    by = {c.name: c for c in m.per_class}
    assert by["car"].ap50 == 0.0 and by["dog"].ap50 == pytest.approx(1.0)
    assert by["dog"].ap50_95 == pytest.approx(0.3)  # IoU exactly 0.6: matched at 0.50, 0.55, 0.60 of ten thresholds
    assert 0.0 < m.map50 < 1.0


def test_score_threshold_and_empty_detections() -> None:
    gt = _gt()
    dets = [_det(a, score=0.1) for a in gt["annotations"] if not a["iscrowd"]]
    assert recall_at_iou(gt, dets, 0.5, min_score=0.25).recall == 0.0
    assert recall_at_iou(gt, dets, 0.5, min_score=0.05).recall == 1.0
    empty = coco_map(gt, [])
    assert empty.map50 == 0.0 and empty.n_dets == 0


def test_backends_agree_on_a_mixed_case() -> None:
    gt = _gt()
    a = gt["annotations"]
    dets = [_det(a[0], 0.8), _det(a[1], 0.3, dx=8.0), _det(a[3], 0.6, dx=12.0), _det(a[2], 0.5, cat=3)]
    py, fast = coco_map(gt, dets, "pycocotools"), coco_map(gt, dets, "faster-coco-eval")
    assert py.map50 == pytest.approx(fast.map50, abs=1e-6)
    assert py.map50_95 == pytest.approx(fast.map50_95, abs=1e-6)


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="annotations"):
        coco_map({"images": [], "categories": []}, [])
    with pytest.raises(ValueError, match="score"):
        coco_map(_gt(), [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}])
    with pytest.raises(ValueError, match="backend"):
        coco_map(_gt(), [_det(_gt()["annotations"][0])], "mine")
