"""Ultralytics' own exports (tools/models/ultralytics_zoo.py: YOLOv5u, YOLOv8, YOLOv10, YOLO11, YOLO26 and a
small RT-DETR built from their YAML with random weights, exported by Ultralytics' exporter) through the real
pipeline, against Ultralytics' own `predict` on the same exported file and frames (its LetterBox, its NMS or
end-to-end post-processing), stored beside each model."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.run_model import config_for, run_pipeline, write_frames

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "ultralytics"
LAYOUT = {"yolov5nu": "yolov8", "yolov8n": "yolov8", "yolo11n": "yolov8", "yolov10n": "end2end",
          "yolo26n": "end2end", "rtdetr": "rtdetr-topk"}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    lt, rb = np.maximum(a[:2], b[:2]), np.minimum(a[2:], b[2:])
    inter = float(np.prod(np.clip(rb - lt, 0, None)))
    return inter / float(np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter + 1e-9)


def sample_frames(indices: list[int]) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(ROOT / "samples" / "demo.mp4"))
    out = []
    for i in range(max(indices) + 1):
        ok, frame = cap.read()
        assert ok
        if i in indices:
            out.append(frame)
    return out


@pytest.mark.parametrize("name", sorted(LAYOUT))
def test_ultralytics_export_matches_ultralytics_predict(tmp_path: Path, name: str) -> None:
    ref = json.loads((DATA / f"{name}.json").read_text())
    frames = write_frames(tmp_path / "frames", sample_frames(ref["frames"]))
    decode = f"decode: {{conf_thres: {ref['conf']}, iou_thres: {ref['iou']}, max_det: {ref['max_det']}}}\n"
    bundle, results = run_pipeline(config_for(tmp_path, DATA / f"{name}.onnx", frames, "", decode), tmp_path)
    assert bundle.decoder_name == LAYOUT[name]
    assert bundle.metadata.names == {0: "alpha", 1: "beta", 2: "gamma"}
    for result, want in zip(results, ref["predictions"]):
        got = result.detections
        theirs = np.array(want["boxes"], np.float32).reshape(-1, 4)
        assert len(got) == len(theirs)
        for box, score, cls in zip(got.boxes, got.scores, got.class_ids):  # end-to-end heads repeat a box per class
            same = [i for i in range(len(theirs)) if iou(box, theirs[i]) > 0.99 and want["classes"][i] == cls
                    and abs(want["scores"][i] - score) < 1e-4]
            assert same, (box, cls, score)
