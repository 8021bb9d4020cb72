"""The committed demo detector: Ultralytics YOLOv8 ONNX layout, self-describing metadata, and real
accuracy on the committed sample video through the SDK's own letterbox, decode and NMS."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest

from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.engines.model_info import read_metadata
from edge_sdk.evaluate import recall_at_iou
from tools.evaluate.detector import DEPLOY_PARAMS, detect_all, load_coco, video_frames
from tools.scenes import CLASS_NAMES
from tools.scenes.video import video_coco_path

#: Every 3rd frame of the 20 s sample keeps the test to a few seconds on 2 CPU cores.
FRAME_STEP = 3


def test_onnx_file_layout(demo_model: Path) -> None:
    assert demo_model.stat().st_size <= 15 * 1024 * 1024
    model = onnx.load(str(demo_model))
    onnx.checker.check_model(model)
    assert 7 <= model.ir_version <= 10, "ONNX Runtime 1.17 .. 1.30 read IR 9/10"
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 17
    assert not any(n.op_type in ("NonMaxSuppression", "TopK") for n in model.graph.node), "no NMS inside"
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["names"]) == {str(i): n for i, n in enumerate(CLASS_NAMES)}
    assert json.loads(props["imgsz"]) == [640, 640]
    assert json.loads(props["stride"]) == [8, 16, 32]
    assert props["task"] == "detect"
    assert {"description", "version"} <= set(props)


def test_sdk_reads_the_metadata(demo_model: Path) -> None:
    meta = read_metadata(demo_model)
    assert meta.names == dict(enumerate(CLASS_NAMES))
    assert meta.imgsz == (640, 640)
    assert meta.strides == (8, 16, 32)


def test_loads_in_onnx_runtime_with_yolov8_io(demo_model: Path) -> None:
    with OnnxRuntimeEngine(demo_model) as engine:
        (inp,) = engine.info.inputs
        (out,) = engine.info.outputs
        assert (inp.name, inp.shape, inp.dtype) == ("images", (1, 3, 640, 640), "float32")
        assert (out.name, out.shape, out.dtype) == ("output0", (1, 4 + len(CLASS_NAMES), 8400), "float32")
        (y,) = engine.infer(np.full((1, 3, 640, 640), 114 / 255, np.float32))
    assert y.shape == (1, 10, 8400) and y.dtype == np.float32
    scores = y[0, 4:]
    assert np.all((scores >= 0) & (scores <= 1)), "class scores are sigmoid outputs"
    assert scores.max() < 0.25, "a blank grey frame holds no objects"
    # Boxes are cx, cy, w, h in input pixels around the 8400 anchor centres of strides 8, 16, 32.
    assert 0 < float(np.median(y[0, 2])) < 640 and float(np.abs(y[0, 0, :80] - (np.arange(80) * 8 + 4)).max()) < 64


def test_sample_video_and_ground_truth(sample_video: Path) -> None:
    gt = json.loads(video_coco_path(sample_video).read_text())
    cap = cv2.VideoCapture(str(sample_video))
    assert cap.isOpened()
    fps, width, height = cap.get(cv2.CAP_PROP_FPS), cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)
    frames = 0
    while cap.read()[0]:
        frames += 1
    cap.release()
    assert (width, height) == (640, 480)
    assert 10.0 <= frames / fps <= 20.0
    assert sample_video.stat().st_size < 5_000_000
    assert len(gt["images"]) == frames
    assert [i["id"] for i in gt["images"]] == list(range(frames))
    assert gt["images"][123]["file_name"] == "frame_000123"
    assert {c["name"] for c in gt["categories"]} == set(CLASS_NAMES)
    assert {a["category_id"] for a in gt["annotations"]} == set(range(1, len(CLASS_NAMES) + 1))


def test_recall_on_sample_video_through_sdk_decode(demo_model: Path, sample_video: Path) -> None:
    frames = list(video_frames(sample_video, FRAME_STEP))
    gt = load_coco(video_coco_path(sample_video), [i for i, _ in frames])
    with OnnxRuntimeEngine(demo_model) as engine:
        (dets,) = detect_all(engine, frames, [DEPLOY_PARAMS])
    r = recall_at_iou(gt, dets, iou=0.5, min_score=DEPLOY_PARAMS.conf_thres)
    assert r.total > 300
    assert r.recall >= 0.9, f"recall {r.recall:.3f} ({r.matched}/{r.total}); per class {r.per_class}"
    n_objects = r.total
    assert len(dets) < 1.3 * n_objects, "few false positives at the deployment threshold"


@pytest.mark.parametrize("frame_index", [0, 150])
def test_single_frame_detections_land_on_ground_truth(demo_model: Path, sample_video: Path, frame_index: int) -> None:
    frame = next(f for i, f in video_frames(sample_video) if i == frame_index)
    gt = load_coco(video_coco_path(sample_video), [frame_index])
    with OnnxRuntimeEngine(demo_model) as engine:
        (dets,) = detect_all(engine, [(frame_index, frame)], [DEPLOY_PARAMS])
    assert dets, "the model finds objects on a sample frame"
    assert recall_at_iou(gt, dets, 0.5).recall >= 0.75
