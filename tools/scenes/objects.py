"""Random object parameters per class, and rendering of an object into a rotated sprite."""

from __future__ import annotations

import math
from collections.abc import Callable

import cv2
import numpy as np

from tools.scenes.canvas import Canvas, pick, random_color, shade
from tools.scenes.figures import draw_dog, draw_person
from tools.scenes.things import draw_parcel, draw_sign
from tools.scenes.types import CLASS_NAMES, Color, ObjectParams, Sprite
from tools.scenes.vehicles import draw_bicycle, draw_car

DrawFn = Callable[[Canvas, ObjectParams, float], None]
_DRAW: tuple[DrawFn, ...] = (draw_person, draw_car, draw_bicycle, draw_sign, draw_parcel, draw_dog)

#: Small objects are drawn at least this tall and scaled down, so their details stay smooth.
_MIN_DRAW_SIDE = 128.0

_SKIN: tuple[Color, ...] = ((60, 90, 140), (90, 130, 190), (120, 160, 215), (150, 185, 230), (40, 60, 95))
_HAIR: tuple[Color, ...] = ((20, 20, 25), (30, 45, 70), (60, 90, 130), (150, 160, 170), (40, 80, 160))
_CAR: tuple[Color, ...] = (
    (235, 235, 235),
    (30, 30, 30),
    (160, 160, 165),
    (40, 40, 180),
    (150, 60, 20),
    (60, 110, 40),
    (30, 150, 200),
    (90, 60, 50),
)
_CARD: tuple[Color, ...] = ((90, 140, 190), (70, 120, 170), (110, 160, 200), (200, 205, 210), (60, 100, 150))
_FUR: tuple[Color, ...] = ((40, 80, 140), (25, 30, 35), (200, 210, 220), (70, 140, 200), (40, 60, 90), (120, 160, 190))


def _aspect(class_id: int, style: int, extra: tuple[float, ...], rng: np.random.Generator) -> float:
    """Width / height of the nominal box."""
    if class_id == 0:
        return rng.uniform(0.32, 0.42) if style == 1 else rng.uniform(0.3, 0.4)
    if class_id == 1:
        return rng.uniform(1.2, 1.5) if style == 2 else rng.uniform(2.1, 2.8)
    if class_id == 2:
        return rng.uniform(1.55, 1.85)
    if class_id == 3:
        if extra[0] > 0.3:
            return rng.uniform(0.3, 0.45)
        return rng.uniform(1.2, 1.5) if style == 4 else rng.uniform(0.95, 1.05)
    if class_id == 4:
        return rng.uniform(0.75, 1.7)
    return rng.uniform(1.35, 1.7)


def _colors(class_id: int, rng: np.random.Generator) -> tuple[Color, ...]:
    if class_id == 0:
        return (
            pick(rng, _SKIN),
            random_color(rng),
            random_color(rng, val=(0.15, 0.7)),
            random_color(rng, val=(0.05, 0.4)),
            pick(rng, _HAIR),
            random_color(rng),
        )
    if class_id == 1:
        return (pick(rng, _CAR), random_color(rng, sat=(0, 0.1), val=(0.5, 0.9)), random_color(rng, sat=(0, 0.3), val=(0.85, 1)))
    if class_id == 2:
        return (
            random_color(rng, sat=(0.5, 1.0)),
            random_color(rng, sat=(0, 0.2), val=(0.05, 0.25)),
            random_color(rng, val=(0.1, 0.5)),
        )
    if class_id == 3:
        return (random_color(rng, sat=(0, 0.15), val=(0.4, 0.8)), random_color(rng, sat=(0.7, 1.0), val=(0.4, 0.8)))
    if class_id == 4:
        return (pick(rng, _CARD), random_color(rng, sat=(0.1, 0.5), val=(0.6, 0.95)))
    fur = pick(rng, _FUR)
    return (fur, shade(fur, rng.uniform(0.3, 0.6)), (15, 15, 15), random_color(rng, sat=(0.6, 1.0)))


def _angle(class_id: int, rng: np.random.Generator) -> float:
    if class_id == 4:
        return float(rng.uniform(-35, 35))
    if rng.random() < 0.08:
        return float(rng.uniform(-45, 45))
    return float(np.clip(rng.normal(0.0, 7.0), -25, 25))


def sample_object(rng: np.random.Generator, class_id: int, long_side: float) -> ObjectParams:
    """Random parameters of one object of `class_id` whose nominal box has `long_side` pixels."""
    if not 0 <= class_id < len(CLASS_NAMES):
        raise ValueError(f"class_id must be in 0..{len(CLASS_NAMES) - 1}, got {class_id}")
    styles = (3, 3, 2, 5, 3, 3)[class_id]
    style = int(rng.integers(styles))
    extra = tuple(float(v) for v in rng.random(3))
    aspect = _aspect(class_id, style, extra, rng)
    w, h = (long_side, long_side / aspect) if aspect >= 1 else (long_side * aspect, long_side)
    flip = bool(rng.random() < 0.5) and class_id != 3 and not (class_id == 4 and style == 2)  # keep text readable
    return ObjectParams(
        class_id=class_id,
        width=float(w),
        height=float(h),
        angle=_angle(class_id, rng),
        flip=flip,
        style=style,
        colors=_colors(class_id, rng),
        extra=extra,
    )


def render_sprite(p: ObjectParams, phase: float = 0.0, scale: float = 1.0) -> Sprite:
    """Draw object `p` (its nominal box times `scale`), mirrored and rotated, into a tight sprite."""
    w, h = p.width * scale, p.height * scale
    up = max(1.0, _MIN_DRAW_SIDE / max(w, h))
    margin = math.ceil(0.06 * max(w, h) * up) + 2
    canvas = Canvas(w * up, h * up, margin)
    _DRAW[p.class_id](canvas, p, phase)
    img: np.ndarray = canvas.image[:, ::-1] if p.flip else canvas.image
    if up > 1.0:
        size = (max(1, round(img.shape[1] / up)), max(1, round(img.shape[0] / up)))
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    if abs(p.angle) > 0.05:
        img = _rotate(img, p.angle)
    return Sprite(_crop_to_alpha(np.ascontiguousarray(img)))


def _rotate(img: np.ndarray, angle: float) -> np.ndarray:
    rows, cols = img.shape[:2]
    a = math.radians(angle)
    new_w = math.ceil(abs(cols * math.cos(a)) + abs(rows * math.sin(a))) + 2
    new_h = math.ceil(abs(cols * math.sin(a)) + abs(rows * math.cos(a))) + 2
    m = cv2.getRotationMatrix2D((cols / 2, rows / 2), angle, 1.0)
    m[0, 2] += (new_w - cols) / 2
    m[1, 2] += (new_h - rows) / 2
    return cv2.warpAffine(img, m, (new_w, new_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def _crop_to_alpha(img: np.ndarray) -> np.ndarray:
    """Crop to the pixels with any alpha, keeping the sprite centred on the same point (symmetric crop)."""
    alpha = img[:, :, 3]
    rows = np.flatnonzero(alpha.any(axis=1))
    cols = np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return img[:1, :1].copy()
    top = min(int(rows[0]), img.shape[0] - 1 - int(rows[-1]))
    left = min(int(cols[0]), img.shape[1] - 1 - int(cols[-1]))
    return img[top : img.shape[0] - top, left : img.shape[1] - left].copy()
