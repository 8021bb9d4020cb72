"""Still frames: one seeded scene per image, and sets of them written with COCO ground truth."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tools.scenes.background import make_background
from tools.scenes.clutter import draw_background_clutter, occluder_sprite
from tools.scenes.coco import CocoBuilder
from tools.scenes.compose import annotate, draw_scene, opaque_pixels
from tools.scenes.objects import render_sprite, sample_object
from tools.scenes.photometric import apply_look, sample_look
from tools.scenes.types import CLASS_NAMES, Annotation, PlacedObject, Sprite

_STILL_STREAM = 0x5717  # keeps still and video random streams apart for the same seed
MIN_OBJECT_SIDE = 12.0
MAX_OBJECTS = 12


def object_size(rng: np.random.Generator, frame_h: int) -> float:
    """Long side of a new object: log-uniform from 12 px to half the frame height."""
    return float(math.exp(rng.uniform(math.log(MIN_OBJECT_SIDE), math.log(0.5 * frame_h))))


def _position(
    rng: np.random.Generator,
    sprite: Sprite,
    width: int,
    height: int,
    horizon: int | None,
) -> tuple[int, int]:
    sw, sh = sprite.width, sprite.height
    if rng.random() < 0.15:  # truncated by a frame edge
        edge = int(rng.integers(4))
        out = rng.uniform(0.1, 0.6)
        cx = rng.uniform(0, width) if edge < 2 else (-sw / 2 + sw * (1 - out) if edge == 2 else width + sw / 2 - sw * (1 - out))
        cy = (
            rng.uniform(0, height) if edge >= 2 else (-sh / 2 + sh * (1 - out) if edge == 0 else height + sh / 2 - sh * (1 - out))
        )
    else:
        cx = rng.uniform(sw / 2, max(sw / 2 + 1, width - sw / 2))
        if horizon is not None and rng.random() < 0.7:
            bottom = rng.uniform(min(horizon + sh * 0.3, height - 1), height + 0.05 * sh)
            cy = bottom - sh / 2
        else:
            cy = rng.uniform(sh / 2, max(sh / 2 + 1, height - sh / 2))
    return round(cx - sw / 2), round(cy - sh / 2)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over the smaller box's area."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iw * ih / max(1, small)


def _place_objects(rng: np.random.Generator, width: int, height: int, horizon: int | None) -> list[PlacedObject]:
    count = 0 if rng.random() < 0.04 else int(rng.integers(1, MAX_OBJECTS + 1))
    placed: list[PlacedObject] = []
    rects: list[tuple[int, int, int, int]] = []
    for _ in range(count):
        params = sample_object(rng, int(rng.integers(len(CLASS_NAMES))), object_size(rng, height))
        sprite = render_sprite(params, phase=float(rng.random()))
        for _attempt in range(6):
            x0, y0 = _position(rng, sprite, width, height, horizon)
            rect = (x0, y0, x0 + sprite.width, y0 + sprite.height)
            if all(_overlap(rect, r) < 0.5 for r in rects):
                break
        rects.append(rect)
        placed.append(PlacedObject(params, sprite, x0, y0, opaque_pixels(sprite)))
    return placed


@dataclass
class StillScene:
    """Everything behind one still: the frame before and after the camera look, the objects as
    placed, the occluders, the owner map (object index per pixel, see `compose`) and the annotations."""

    drawn: np.ndarray
    frame: np.ndarray
    objects: list[PlacedObject]
    occluders: list[tuple[Sprite, int, int]]
    owner: np.ndarray
    annotations: list[Annotation]


def still_scene(seed: int, width: int = 640, height: int = 480) -> StillScene:
    """Generate the still of `seed` and keep its internals (for tests and debugging)."""
    if width < 64 or height < 64:
        raise ValueError(f"frame must be at least 64x64, got {width}x{height}")
    rng = np.random.default_rng([_STILL_STREAM, int(seed)])
    bg = make_background(rng, width, height)
    frame = bg.image
    draw_background_clutter(rng, frame, int(rng.integers(3, 25)))
    objects = _place_objects(rng, width, height, bg.horizon)
    occluders: list[tuple[Sprite, int, int]] = []
    for _ in range(int(rng.integers(0, 3)) if rng.random() < 0.5 else 0):
        sprite = occluder_sprite(rng, height)
        occluders.append((sprite, int(rng.integers(-sprite.width // 2, width)), int(rng.integers(0, height))))
    owner = draw_scene(frame, objects, occluders)
    anns = annotate(owner, objects)
    shown = apply_look(frame, sample_look(rng), rng)
    return StillScene(frame, shown, objects, occluders, owner, anns)


def generate_still(seed: int, width: int = 640, height: int = 480) -> tuple[np.ndarray, list[Annotation]]:
    """One camera-like BGR uint8 frame and its ground truth; the same seed always gives the same frame."""
    scene = still_scene(seed, width, height)
    return scene.frame, scene.annotations


def generate_stills(
    start_seed: int, count: int, width: int = 640, height: int = 480
) -> Iterator[tuple[int, np.ndarray, list[Annotation]]]:
    """(seed, frame, annotations) for seeds start_seed .. start_seed + count - 1."""
    for seed in range(start_seed, start_seed + count):
        frame, anns = generate_still(seed, width, height)
        yield seed, frame, anns


def write_still_set(out_dir: str | Path, seeds: Iterable[int], width: int = 640, height: int = 480) -> Path:
    """Write `still_<seed>.png` frames (lossless, exactly as generated) and `annotations.coco.json`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(seeds)
    coco = CocoBuilder("edge-sdk generated stills", {"seeds": [seeds[0], seeds[-1]] if seeds else []})
    for seed in seeds:
        frame, anns = generate_still(seed, width, height)
        name = f"still_{seed:08d}.png"
        if not cv2.imwrite(str(out / name), frame):
            raise OSError(f"could not write {out / name}")
        coco.add_image(seed, name, width, height, anns, seed=seed)
    return coco.write(out / "annotations.coco.json")
