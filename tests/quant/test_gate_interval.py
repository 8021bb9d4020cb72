"""The gate's bootstrap interval of the drop: zero width when the candidate equals FP32, around the drop
when the candidate misses objects, wider on fewer frames; absent when asked for no draws."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge_sdk.calibration.dataset import FrameFile
from edge_sdk.config.loader import load_config_text
from edge_sdk.decode.base import Detections
from edge_sdk.quant.build import _warnings
from edge_sdk.quant.gate import ModelScore, Reference, drop_interval, drop_points
from edge_sdk.quant.metrics import coco_images, coco_map, detections_to_annotations, detections_to_results
from edge_sdk.quant.report import render


def _frames_dets(count: int, seed: int = 0) -> list[Detections]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        n = int(rng.integers(3, 8))
        xy = rng.uniform(0, 500, (n, 2))
        wh = rng.uniform(20, 120, (n, 2))
        boxes = np.concatenate([xy, xy + wh], axis=1).astype(np.float32)
        out.append(Detections(boxes, rng.uniform(0.5, 1.0, n).astype(np.float32), rng.integers(0, 3, n)))
    return out


def _reference(fp32: list[Detections]) -> Reference:
    n = len(fp32)
    gt = {"images": coco_images(n, 640, 640), "annotations": detections_to_annotations(fp32),
          "categories": [{"id": c + 1, "name": str(c)} for c in range(3)]}
    score = coco_map(gt, detections_to_results(fp32))
    frames = [FrameFile(Path(f"{i}.png"), "0" * 64, 1, 640, 640) for i in range(n)]
    return Reference(frames, [], [], gt, len(gt["annotations"]),
                     ModelScore(score.map50_95, score.map50, {}, 1.0, len(gt["annotations"]), fp32))


def _candidate(ref: Reference, per_frame: list[Detections]) -> ModelScore:
    score = coco_map(ref.gt, detections_to_results(per_frame))
    return ModelScore(score.map50_95, score.map50, {}, 1.0, 0, per_frame)


def _misses_every_fourth_frame(fp32: list[Detections]) -> list[Detections]:
    return [Detections() if i % 4 == 0 else d for i, d in enumerate(fp32)]


def test_a_candidate_equal_to_fp32_has_a_zero_interval() -> None:
    fp32 = _frames_dets(12)
    ref = _reference(fp32)
    assert drop_interval(ref, _candidate(ref, fp32), 40) == (0.0, 0.0)


def test_the_interval_holds_the_drop_and_narrows_with_more_frames() -> None:
    widths = []
    for count in (12, 48):
        fp32 = _frames_dets(count, seed=count)
        ref = _reference(fp32)
        cand = _candidate(ref, _misses_every_fourth_frame(fp32))
        drop = drop_points(ref.fp32, cand)
        interval = drop_interval(ref, cand, 100)
        assert drop is not None and drop > 10 and interval is not None
        lo, hi = interval
        assert 0 < lo < drop < hi, (lo, drop, hi)
        widths.append(hi - lo)
    assert widths[1] < widths[0]  # four times the frames: a tighter interval


def test_no_draws_or_no_objects_give_no_interval() -> None:
    fp32 = _frames_dets(6)
    ref = _reference(fp32)
    assert drop_interval(ref, _candidate(ref, fp32), 0) is None
    empty = _reference([Detections() for _ in range(4)])
    assert drop_interval(empty, _candidate(empty, [Detections() for _ in range(4)]), 20) is None


def _report(interval: list[float] | None) -> dict[str, Any]:
    return {"speed": {}, "budget": {"max_map50_95_drop": 1.0}, "frames": {"holdout": 60}, "reference": {"objects": 300},
            "int8": {"ort": {"drop": 0.8, "drop_interval90": interval}}}


def test_an_interval_across_the_budget_is_a_warning_in_the_report() -> None:
    cfg = load_config_text("version: 1\nmodel:\n  path: m.onnx\nsources:\n  - uri: file:///x.mp4\n")
    warnings = _warnings(cfg, _report([0.2, 1.6]))
    assert len(warnings) == 1 and "CPU form" in warnings[0] and "0.20 to 1.60" in warnings[0]
    assert "60 held-out frames" in warnings[0] and "holdout_fraction" in warnings[0]
    assert _warnings(cfg, _report([0.2, 0.9])) == [] and _warnings(cfg, _report(None)) == []
    text = render({**_report([0.2, 1.6]), "decision": "pass", "method": {"method": "percentile"}, "fp32": {}})
    assert "drop (90% interval)" in text and "0.80 (0.20 to 1.60)" in text


def test_resampled_scores_equal_scoring_each_draw_from_scratch() -> None:
    """The bootstrap accumulates COCOeval's per-image results per draw instead of evaluating each draw anew:
    the same figures, an image drawn twice counting twice."""
    from edge_sdk.quant.metrics import resampled_map50_95

    fp32 = _frames_dets(16, seed=7)
    ref = _reference(fp32)
    cand = _misses_every_fourth_frame([Detections(d.boxes + 2.0, d.scores, d.class_ids) for d in fp32])
    picks = [np.random.default_rng(s).integers(0, 16, 16) for s in range(4)]
    for keep in ({1, 2, 3}, {2}):
        fast = resampled_map50_95(ref.gt, detections_to_results(cand), picks, keep)
        for pick, got in zip(picks, fast):
            anns = [{**a, "id": n + 1, "image_id": j + 1} for n, (j, a) in enumerate(
                (j, a) for j, i in enumerate(pick.tolist()) for a in ref.gt["annotations"]
                if a["image_id"] == i + 1 and a["category_id"] in keep)]
            gt = {"images": coco_images(16, 640, 640), "annotations": anns,
                  "categories": [c for c in ref.gt["categories"] if c["id"] in keep]}
            results = [r for r in detections_to_results([cand[i] for i in pick.tolist()]) if r["category_id"] in keep]
            assert got == coco_map(gt, results).map50_95
