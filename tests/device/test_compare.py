"""The comparison selftest uses between an engine and ONNX Runtime: it passes close outputs and catches
moved boxes, missing or extra detections and raw drift, each against the stated tolerance."""

from __future__ import annotations

import numpy as np

from edge_sdk.decode.base import DecodeParams
from edge_sdk.decode.yolov8 import decode_yolov8
from edge_sdk.device.compare import FP16, INT8, compare
from edge_sdk.tracking.assign import iou_matrix


def yolo_output(boxes: list[tuple[float, float, float, float, int, float]], n: int = 20, nc: int = 2) -> np.ndarray:
    """A [1, 4+nc, n] YOLOv8 output holding the given (cx, cy, w, h, class, score) candidates."""
    out = np.zeros((1, 4 + nc, n), np.float32)
    for i, (cx, cy, w, h, cls, score) in enumerate(boxes):
        out[0, :4, i] = (cx, cy, w, h)
        out[0, 4 + cls, i] = score
    return out


REF = [[yolo_output([(20, 20, 10, 10, 0, 0.9), (60, 60, 20, 10, 1, 0.8), (100, 30, 8, 8, 0, 0.6)])]]


def test_identical_and_slightly_different_outputs_pass() -> None:
    assert compare(REF, REF, decode_yolov8, DecodeParams(), FP16).ok
    near = [[REF[0][0] * np.float32(1.005)]]
    result = compare(REF, near, decode_yolov8, DecodeParams(), FP16)
    assert result.ok and result.recall == 1.0 and result.close_fraction == 1.0


def test_moved_box_missing_and_extra_detections_fail() -> None:
    moved = [[yolo_output([(26, 20, 10, 10, 0, 0.9), (60, 60, 20, 10, 1, 0.8), (100, 30, 8, 8, 0, 0.6)])]]
    r = compare(REF, moved, decode_yolov8, DecodeParams(), INT8)
    assert not r.ok and r.recall == 2 / 3 and "matched 66.7% of 3" in r.describe()
    wrong_class = [[yolo_output([(20, 20, 10, 10, 1, 0.9), (60, 60, 20, 10, 1, 0.8), (100, 30, 8, 8, 0, 0.6)])]]
    assert not compare(REF, wrong_class, decode_yolov8, DecodeParams(), INT8).ok
    extra = [[yolo_output([(20, 20, 10, 10, 0, 0.9), (60, 60, 20, 10, 1, 0.8), (100, 30, 8, 8, 0, 0.6),
                           (150, 150, 9, 9, 1, 0.7), (200, 200, 9, 9, 0, 0.7)])]]
    r = compare(REF, extra, decode_yolov8, DecodeParams(), INT8)
    assert r.recall == 1.0 and r.extra == 2 and not r.ok


def test_raw_drift_fails_fp16_but_not_int8() -> None:
    drift = [[REF[0][0].copy()]]
    drift[0][0][0, 0, :3] += 2.5  # cx of the three boxes: over 0.02*|ref| + 0.02*max|ref|, IoU still >= 0.7 (w 40)
    drift[0][0][0, 2:4, :3] = 40
    ref = [[REF[0][0].copy()]]
    ref[0][0][0, 2:4, :3] = 40
    assert not compare(ref, drift, decode_yolov8, DecodeParams(), FP16).ok
    assert compare(ref, drift, decode_yolov8, DecodeParams(), INT8).ok  # same detections: INT8 ignores raw drift


def test_iou_matrix() -> None:
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 1 / 3, 0.0]], rtol=1e-6)
