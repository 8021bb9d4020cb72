"""The scene generator: deterministic from its seed, and its ground truth is exactly what was drawn."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from tools.scenes import CLASS_NAMES, generate_still, generate_video_frames, write_still_set, write_video
from tools.scenes.__main__ import main as scenes_main
from tools.scenes.compose import ALPHA_OPAQUE
from tools.scenes.objects import render_sprite, sample_object
from tools.scenes.still import StillScene, still_scene
from tools.scenes.types import MIN_VISIBLE_FRACTION, PlacedObject, Sprite

SEEDS = range(20)


def _full_mask(obj: PlacedObject, width: int, height: int, min_alpha: int = ALPHA_OPAQUE) -> np.ndarray:
    """The object's pixels (alpha >= min_alpha) as if nothing else were drawn, clipped to the frame."""
    return _sprite_mask(obj.sprite, obj.x0, obj.y0, width, height, min_alpha)


def _sprite_mask(sprite: Sprite, x0: int, y0: int, width: int, height: int, min_alpha: int = ALPHA_OPAQUE) -> np.ndarray:
    mask = np.zeros((height, width), bool)
    alpha = sprite.bgra[:, :, 3] >= min_alpha
    fy0, fx0 = max(0, y0), max(0, x0)
    fy1, fx1 = min(height, y0 + alpha.shape[0]), min(width, x0 + alpha.shape[1])
    if fy0 < fy1 and fx0 < fx1:
        mask[fy0:fy1, fx0:fx1] = alpha[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    return mask


def _bbox(mask: np.ndarray) -> tuple[float, float, float, float]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (float(cols[0]), float(rows[0]), float(cols[-1] - cols[0] + 1), float(rows[-1] - rows[0] + 1))


@pytest.fixture(scope="module")
def scenes() -> list[StillScene]:
    return [still_scene(s) for s in SEEDS]


def test_same_seed_same_frame_and_annotations() -> None:
    for seed in (0, 7, 123_456):
        a_img, a_anns = generate_still(seed)
        b_img, b_anns = generate_still(seed)
        assert np.array_equal(a_img, b_img)
        assert a_anns == b_anns
    c_img, _ = generate_still(8)
    assert not np.array_equal(generate_still(7)[0], c_img)


def test_frames_are_camera_like(scenes: list[StillScene]) -> None:
    for sc in scenes:
        assert sc.frame.shape == (480, 640, 3) and sc.frame.dtype == np.uint8
        assert float(sc.frame.std()) > 5.0  # textured, not flat
    counts = np.bincount([a.class_id for sc in scenes for a in sc.annotations], minlength=len(CLASS_NAMES))
    assert np.all(counts > 0), f"every class appears in 20 frames: {counts}"
    sizes = [max(a.bbox[2], a.bbox[3]) for sc in scenes for a in sc.annotations if not a.ignore]
    assert min(sizes) <= 20 and max(sizes) >= 150


def test_box_is_tight_box_of_visible_pixels(scenes: list[StillScene]) -> None:
    for sc in scenes:
        for ann in sc.annotations:
            visible = sc.owner == ann.object_index
            assert ann.bbox == _bbox(visible)
            assert ann.visible_fraction == pytest.approx(
                np.count_nonzero(visible) / sc.objects[ann.object_index].full_pixels, abs=1e-4
            )
            assert ann.ignore == (ann.visible_fraction < MIN_VISIBLE_FRACTION or min(ann.bbox[2:]) < 4)


def test_box_matches_the_drawn_object(scenes: list[StillScene]) -> None:
    """Each box lies inside the object's own drawn pixels' box; an unoccluded object's box equals it."""
    checked_unoccluded = 0
    for sc in scenes:
        h, w = sc.owner.shape
        masks = [_full_mask(o, w, h) for o in sc.objects]
        front = np.zeros((h, w), bool)
        for sprite, x0, y0 in sc.occluders:
            front |= _sprite_mask(sprite, x0, y0, w, h)
        for ann in sc.annotations:
            full = masks[ann.object_index]
            fx, fy, fw, fh = _bbox(full)
            x, y, bw, bh = ann.bbox
            assert fx <= x and fy <= y and x + bw <= fx + fw and y + bh <= fy + fh
            others = [m for i, m in enumerate(masks) if i != ann.object_index]
            overlapped = bool(np.any(full & front)) or any(np.any(full & m) for m in others)
            if not overlapped:
                assert ann.bbox == (fx, fy, fw, fh)
                assert np.all(sc.owner[full] == ann.object_index)
                checked_unoccluded += 1
    assert checked_unoccluded > 20


def test_drawn_pixels_are_the_object(scenes: list[StillScene]) -> None:
    """Where an object owns a pixel that nothing else touches, the drawn frame shows the object's colour."""
    for sc in scenes[:8]:
        h, w = sc.owner.shape
        for ann in sc.annotations:
            obj = sc.objects[ann.object_index]
            touched = np.zeros((h, w), bool)
            for i, other in enumerate(sc.objects):
                if i != ann.object_index:
                    touched |= _full_mask(other, w, h, min_alpha=1)
            for sprite, x0, y0 in sc.occluders:
                touched |= _sprite_mask(sprite, x0, y0, w, h, min_alpha=1)
            ys, xs = np.nonzero((sc.owner == ann.object_index) & ~touched)
            sprite = obj.sprite.bgra[ys - obj.y0, xs - obj.x0]
            opaque = sprite[:, 3] == 255
            drawn = sc.drawn[ys, xs][opaque].astype(int)
            assert np.abs(drawn - sprite[opaque, :3].astype(int)).max(initial=0) <= 1


def test_truncated_objects_are_clipped_to_the_frame(scenes: list[StillScene]) -> None:
    truncated = 0
    for sc in scenes:
        h, w = sc.owner.shape
        for ann in sc.annotations:
            x, y, bw, bh = ann.bbox
            assert x >= 0 and y >= 0 and x + bw <= w and y + bh <= h
            if ann.truncated:
                truncated += 1
                obj = sc.objects[ann.object_index]
                assert np.count_nonzero(_full_mask(obj, w, h)) < obj.full_pixels
                if not ann.ignore and ann.visible_fraction > 0.9:
                    assert x == 0 or y == 0 or x + bw == w or y + bh == h
    assert truncated > 0


def test_rotation_and_flip_change_the_sprite() -> None:
    rng = np.random.default_rng(0)
    p = sample_object(rng, 1, 120.0)
    base = render_sprite(p.__class__(**{**p.__dict__, "angle": 0.0, "flip": False}))
    turned = render_sprite(p.__class__(**{**p.__dict__, "angle": 30.0, "flip": False}))
    assert turned.height > base.height  # a rotated wide car needs a taller sprite
    with pytest.raises(ValueError):
        sample_object(rng, len(CLASS_NAMES), 50.0)


def test_video_frames_are_deterministic_and_move() -> None:
    a = list(generate_video_frames(3, seconds=1.0, fps=6))
    b = list(generate_video_frames(3, seconds=1.0, fps=6))
    assert len(a) == 6
    for (ia, fa, aa), (ib, fb, ab) in zip(a, b):
        assert ia == ib and np.array_equal(fa, fb) and aa == ab
    tracks: dict[int, list[tuple[float, float, float, float]]] = {}
    for _, _, anns in a:
        for ann in anns:
            assert ann.track_id >= 0
            tracks.setdefault(ann.track_id, []).append(ann.bbox)
    assert any(len(set(boxes)) > 1 for boxes in tracks.values()), "some object moves"


def test_write_still_set_coco(tmp_path: Path) -> None:
    path = write_still_set(tmp_path / "set", range(5, 8))
    gt = json.loads(path.read_text())
    assert [i["id"] for i in gt["images"]] == [5, 6, 7]
    assert [c["name"] for c in gt["categories"]] == list(CLASS_NAMES)
    assert {c["id"] for c in gt["categories"]} == set(range(1, len(CLASS_NAMES) + 1))
    for img in gt["images"]:
        frame = cv2.imread(str(tmp_path / "set" / img["file_name"]))
        assert np.array_equal(frame, generate_still(img["id"])[0])  # PNG keeps the exact pixels
    for ann in gt["annotations"]:
        assert ann["iscrowd"] == ann["ignore"] and len(ann["bbox"]) == 4 and ann["area"] > 0


def test_write_video_mp4v_is_readable_with_ground_truth_per_frame(tmp_path: Path) -> None:
    gt_path = write_video(tmp_path / "v.mp4", seed=4, seconds=1.0, fps=8, codec="mp4v")
    assert gt_path == tmp_path / "v.coco.json"
    gt = json.loads(gt_path.read_text())
    cap = cv2.VideoCapture(str(tmp_path / "v.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    assert n == len(gt["images"]) == 8
    assert [i["file_name"] for i in gt["images"][:2]] == ["frame_000000", "frame_000001"]
    assert [i["id"] for i in gt["images"]] == list(range(8))


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the ffmpeg program is not installed")
def test_cli_video_h264_and_stills(tmp_path: Path) -> None:
    assert scenes_main(["video", "--out", str(tmp_path / "h.mp4"), "--seed", "2", "--seconds", "1", "--fps", "5"]) == 0
    cap = cv2.VideoCapture(str(tmp_path / "h.mp4"))
    assert cap.isOpened() and cap.read()[0]
    cap.release()
    assert scenes_main(["stills", "--out", str(tmp_path / "s"), "--seeds", "10:12"]) == 0
    assert len(json.loads((tmp_path / "s" / "annotations.coco.json").read_text())["images"]) == 2
