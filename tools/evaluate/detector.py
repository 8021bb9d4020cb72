"""Run a detector the way the SDK does (letterbox -> engine -> decode + NMS -> original pixels) and
collect COCO results, on generated still sets or on a video with its ground truth."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.decode import DecodeParams, Detections, decode_yolov8
from edge_sdk.engines.base import Engine
from edge_sdk.preprocess import letterbox

#: Decoding for mAP: keep nearly everything, as COCO evaluation expects (Ultralytics val settings).
MAP_PARAMS = DecodeParams(conf_thres=0.001, iou_thres=0.7, max_det=300)
#: Decoding as deployed: the SDK's default thresholds.
DEPLOY_PARAMS = DecodeParams()


def detect(engine: Engine, bgr: np.ndarray, params: DecodeParams) -> Detections:
    """Detections of one BGR frame, boxes x1,y1,x2,y2 in the frame's pixels."""
    tensor, info = letterbox(bgr, engine.info.input_hw)
    dets = decode_yolov8(engine.infer(tensor), params)
    if len(dets):
        dets = Detections(info.to_original(dets.boxes), dets.scores, dets.class_ids)
    return dets


def to_coco_results(image_id: int, dets: Detections) -> list[dict[str, Any]]:
    """COCO result dicts (category id = class index + 1, bbox x, y, w, h)."""
    out = []
    for box, score, cls in zip(dets.boxes, dets.scores, dets.class_ids):
        x1, y1, x2, y2 = (float(v) for v in box)
        out.append(
            {"image_id": int(image_id), "category_id": int(cls) + 1, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": float(score)}
        )
    return out


def detect_all(
    engine: Engine,
    frames: Iterable[tuple[int, np.ndarray]],
    params_list: list[DecodeParams],
) -> list[list[dict[str, Any]]]:
    """For each of `params_list`, the COCO results of all (image_id, frame) pairs (one inference per frame)."""
    results: list[list[dict[str, Any]]] = [[] for _ in params_list]
    for image_id, bgr in frames:
        tensor, info = letterbox(bgr, engine.info.input_hw)
        raw = engine.infer(tensor)
        for out, params in zip(results, params_list):
            dets = decode_yolov8(raw, params)
            if len(dets):
                out.extend(to_coco_results(image_id, Detections(info.to_original(dets.boxes), dets.scores, dets.class_ids)))
    return results


def still_frames(
    seeds: Iterable[int], width: int = 640, height: int = 480
) -> tuple[dict[str, Any], Iterator[tuple[int, np.ndarray]]]:
    """Ground truth of generated stills (image id = seed) and a lazy iterator of (seed, frame).

    The ground truth dict is filled while the iterator runs: consume the iterator first.
    """
    from tools.scenes.coco import CocoBuilder
    from tools.scenes.still import generate_still

    seeds = list(seeds)
    builder = CocoBuilder("edge-sdk generated stills", {"seeds": [seeds[0], seeds[-1]] if seeds else []})
    gt = builder.to_dict()

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        for seed in seeds:
            frame, anns = generate_still(seed, width, height)
            builder.add_image(seed, f"still_{seed:08d}.png", width, height, anns, seed=seed)
            yield seed, frame

    return gt, frames()


def video_frames(video: str | Path, step: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, BGR frame) of every `step`-th frame of a video file read with OpenCV."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise OSError(f"OpenCV cannot open video {video}")
    try:
        index = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            if index % step == 0:
                yield index, frame
            index += 1
    finally:
        cap.release()


def load_coco(path: str | Path, image_ids: Iterable[int] | None = None) -> dict[str, Any]:
    """A COCO JSON file, optionally restricted to some image ids."""
    gt: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    if image_ids is not None:
        keep = set(image_ids)
        gt["images"] = [i for i in gt["images"] if i["id"] in keep]
        gt["annotations"] = [a for a in gt["annotations"] if a["image_id"] in keep]
    return gt
