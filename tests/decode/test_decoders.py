"""Each output layout through a real ONNX Runtime session of a model that outputs a known tensor."""

import importlib
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.decode import DecodeParams, detect_layout, get_decoder, nms
from edge_sdk.decode.base import Detections
from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.errors import ConfigError
from tests.support.onnx_models import constant_output_model

NAMES = {0: "person", 1: "car", 2: "bicycle"}


def _run(tmp_path: Path, out: np.ndarray) -> tuple[list[np.ndarray], str]:
    path = constant_output_model(tmp_path / "m.onnx", out, names=NAMES)
    with OnnxRuntimeEngine(path) as engine:
        outputs = engine.infer(np.zeros((1, 3, 64, 64), np.float32))
        layout = detect_layout(outputs[0].shape, len(NAMES), input_size=(64, 64))
    return outputs, layout


def test_yolov8_layout(tmp_path: Path) -> None:
    n = 84  # anchors of a 64x64 input at strides 8, 16, 32
    out = np.zeros((1, 4 + 3, n), np.float32)
    out[0, :4, :] = [[10], [10], [4], [4]]  # background anchors, low score
    out[0, 4:, :] = 0.01
    out[0, :, 0] = [32, 20, 10, 8, 0.1, 0.9, 0.2]  # a car at (27,16)-(37,24)
    out[0, :, 1] = [33, 20, 10, 8, 0.1, 0.8, 0.2]  # overlapping car: suppressed by NMS
    out[0, :, 2] = [33, 20, 10, 8, 0.7, 0.1, 0.2]  # a person at the same place: another class, kept
    outputs, layout = _run(tmp_path, out)
    assert layout == "yolov8"
    dets = get_decoder(layout)(outputs, DecodeParams(conf_thres=0.25, iou_thres=0.5))
    assert len(dets) == 2
    order = np.argsort(-dets.scores)
    assert dets.class_ids[order].tolist() == [1, 0]
    np.testing.assert_allclose(dets.boxes[order[0]], [27, 16, 37, 24], atol=1e-5)
    np.testing.assert_allclose(dets.scores[order], [0.9, 0.7], atol=1e-6)


def test_yolov5_layout_multiplies_objectness(tmp_path: Path) -> None:
    out = np.zeros((1, 252, 5 + 3), np.float32)  # 3 anchors x 84 cells
    out[0, 0] = [20, 20, 10, 10, 0.9, 0.1, 0.1, 0.8]  # bicycle, score 0.72
    out[0, 1] = [40, 40, 10, 10, 0.5, 0.9, 0.0, 0.0]  # person, score 0.45
    out[0, 2] = [50, 50, 10, 10, 0.2, 0.9, 0.0, 0.0]  # objectness too low
    outputs, layout = _run(tmp_path, out)
    assert layout == "yolov5"
    dets = get_decoder(layout)(outputs, DecodeParams(conf_thres=0.3))
    order = np.argsort(dets.class_ids)
    assert dets.class_ids[order].tolist() == [0, 2]
    np.testing.assert_allclose(dets.scores[order], [0.45, 0.72], atol=1e-6)


def test_end2end_layout_needs_no_nms(tmp_path: Path) -> None:
    out = np.zeros((1, 10, 6), np.float32)
    out[0, 0] = [1, 2, 11, 12, 0.95, 1]
    out[0, 1] = [2, 3, 12, 13, 0.90, 1]  # overlapping, same class: kept (the model already did NMS)
    out[0, 2] = [5, 5, 9, 9, 0.10, 0]
    outputs, layout = _run(tmp_path, out)
    assert layout == "end2end"
    dets = get_decoder(layout)(outputs, DecodeParams(conf_thres=0.25))
    assert len(dets) == 2
    np.testing.assert_allclose(dets.boxes[0], [1, 2, 11, 12])


def test_class_filter_and_max_det() -> None:
    boxes = np.array([[0, 0, 10, 10], [20, 20, 30, 30], [40, 40, 50, 50]], np.float32)
    dets = Detections(boxes, np.array([0.9, 0.8, 0.7], np.float32), np.array([0, 1, 1]))
    kept = nms(dets, DecodeParams(max_det=2))
    assert len(kept) == 2 and kept.scores.tolist() == pytest.approx([0.9, 0.8])
    out = np.zeros((1, 4 + 3, 3), np.float32)
    out[0, :4] = [[5, 25, 45], [5, 25, 45], [10, 10, 10], [10, 10, 10]]
    out[0, 4:] = [[0.9, 0, 0], [0, 0.8, 0], [0, 0, 0.7]]
    only_cars = get_decoder("yolov8")([out], DecodeParams(classes=frozenset({1})))
    assert only_cars.class_ids.tolist() == [1]


def test_nms_suppresses_only_same_class_above_threshold() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [30, 30, 40, 40]], np.float32)
    dets = Detections(boxes, np.array([0.9, 0.85, 0.8, 0.5], np.float32), np.array([0, 0, 1, 0]))
    kept = nms(dets, DecodeParams(iou_thres=0.5))
    assert sorted(kept.scores.tolist()) == pytest.approx([0.5, 0.8, 0.9])
    loose = nms(dets, DecodeParams(iou_thres=0.9))  # IoU of the first two is 0.818: both kept
    assert len(loose) == 4


def test_user_decoder_by_dotted_path_and_errors() -> None:
    assert get_decoder("edge_sdk.decode.yolov5:decode_yolov5").fn.__name__ == "decode_yolov5"
    with pytest.raises(ConfigError, match="unknown decoder"):
        get_decoder("yolov99")
    with pytest.raises(ConfigError, match="cannot import"):
        get_decoder("no_such_module_xyz:decode")


@pytest.mark.parametrize("seed", range(6))
def test_nms_on_the_iou_matrix_keeps_exactly_what_the_row_loop_keeps(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Up to MATRIX_MAX candidates NMS works on the pairwise IoU matrix; above it one row at a time. Same boxes,
    same order, with ties in the scores, heavy overlap, several classes and a max_det cut."""
    nms_module = importlib.import_module("edge_sdk.decode.nms")

    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 400))
    xy = rng.uniform(0, 100, (n, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(0, 40, (n, 2)).astype(np.float32)], axis=1)
    scores = rng.choice(np.linspace(0, 1, 11), n).astype(np.float32)  # many ties: the stable order decides
    classes = rng.integers(0, 3, n)
    max_det = int(rng.integers(1, 60))
    by_matrix = nms_module.nms_indices(boxes, scores, classes, 0.45, max_det)
    monkeypatch.setattr(nms_module, "MATRIX_MAX", 0)
    by_rows = nms_module.nms_indices(boxes, scores, classes, 0.45, max_det)
    assert by_matrix.tolist() == by_rows.tolist() and len(by_rows) > 0
