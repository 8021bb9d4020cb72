"""Clutter that is not an object: shapes drawn on the background, and foreground occluders.

Some clutter looks like parts of objects on purpose (a lone tyre, a bare pole, a coloured disc, a
brown rectangle) so the detector learns the whole object, not one of its parts.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from tools.scenes.canvas import Canvas, random_color, shade
from tools.scenes.types import Sprite

_FONT_TEXT = ("OPEN", "EXIT", "SALE", "42", "PARKING", "CAFE", "B-7", "NO ENTRY", "5%")


def _one_background_item(rng: np.random.Generator, img: np.ndarray, kind: int) -> None:
    h, w = img.shape[:2]
    x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
    s = int(np.exp(rng.uniform(np.log(6), np.log(0.35 * h))))
    col = random_color(rng)
    aa = cv2.LINE_AA
    if kind == 0:  # rectangle: window, poster, crate side
        cv2.rectangle(img, (x, y), (x + s, y + int(s * rng.uniform(0.3, 2.0))), col, -1, aa)
    elif kind == 1:  # disc
        cv2.circle(img, (x, y), max(2, s // 2), col, -1, aa)
    elif kind == 2:  # ring: looks like a lone wheel
        cv2.circle(img, (x, y), max(3, s // 2), shade(col, 0.3), max(1, s // 10), aa)
    elif kind == 3:  # bare pole or cable
        cv2.line(img, (x, y), (x + int(rng.integers(-s, s)), y + s * 2), col, max(1, s // 12), aa)
    elif kind == 4:  # random polygon
        n = int(rng.integers(3, 7))
        pts = np.array([[x + rng.uniform(-s, s), y + rng.uniform(-s, s)] for _ in range(n)], np.int32)
        cv2.fillPoly(img, [pts], col, aa)
    elif kind == 5:  # text
        scale = max(0.3, s / 30)
        text = _FONT_TEXT[int(rng.integers(len(_FONT_TEXT)))]
        cv2.putText(img, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, col, max(1, int(scale * 2)), aa)
    elif kind == 6:  # traffic cone
        pts = np.array([[x, y - s], [x + s // 3, y], [x - s // 3, y]], np.int32)
        cv2.fillPoly(img, [pts], (20, 110, 240), aa)
        cv2.line(img, (x - s // 5, y - s // 2), (x + s // 5, y - s // 2), (240, 240, 240), max(1, s // 10), aa)
    elif kind == 7:  # tree
        cv2.line(img, (x, y), (x, y - s), (30, 50, 70), max(2, s // 8), aa)
        cv2.circle(img, (x, y - s), max(3, s // 2), (int(rng.integers(20, 60)), int(rng.integers(70, 140)), 30), -1, aa)
    elif kind == 8:  # ellipse blob: puddle, shadow, balloon
        axes = (max(2, s // 2), max(2, int(s * rng.uniform(0.15, 0.6))))
        cv2.ellipse(img, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, col, -1, aa)
    else:  # stripes: fence or barrier
        for k in range(int(rng.integers(3, 9))):
            xx = x + k * max(3, s // 4)
            cv2.line(img, (xx, y), (xx, y + s), col, max(1, s // 16), aa)
        cv2.line(img, (x, y + s // 4), (x + 8 * max(3, s // 4), y + s // 4), col, max(1, s // 16), aa)


def draw_background_clutter(rng: np.random.Generator, img: np.ndarray, count: int) -> None:
    """Draw `count` random non-object shapes onto `img` in place."""
    for _ in range(count):
        _one_background_item(rng, img, int(rng.integers(10)))


def occluder_sprite(rng: np.random.Generator, frame_h: int) -> Sprite:
    """A foreground thing that hides objects behind it: pole, bush, railing or barrier."""
    kind = int(rng.integers(4))
    s = rng.uniform(0.15, 0.6) * frame_h
    if kind == 0:
        c = Canvas(max(3.0, s * rng.uniform(0.03, 0.08)), s * 1.5, 2)
        c.rect(0, 0, c.w, c.h, random_color(rng, sat=(0, 0.3), val=(0.2, 0.7)))
    elif kind == 1:
        c = Canvas(s, s * rng.uniform(0.4, 0.8), 2)
        green = (int(rng.integers(10, 60)), int(rng.integers(60, 150)), int(rng.integers(10, 60)))
        for _ in range(int(rng.integers(5, 12))):
            r = rng.uniform(0.15, 0.3) * c.h
            c.circle(
                rng.uniform(r, max(r + 1, c.w - r)),
                rng.uniform(r, max(r + 1, c.h - r * 0.5)),
                r,
                shade(green, rng.uniform(0.7, 1.3)),
            )
    elif kind == 2:
        c = Canvas(s * 1.5, s * 0.5, 2)
        col = random_color(rng, sat=(0, 0.4), val=(0.3, 0.9))
        t = max(1.0, c.h * 0.06)
        c.line((0, 0.1 * c.h), (c.w, 0.1 * c.h), col, t)
        c.line((0, 0.55 * c.h), (c.w, 0.55 * c.h), col, t)
        for k in range(int(rng.integers(3, 8))):
            x = k * c.w / 7
            c.line((x, 0.0), (x, c.h), col, t)
    else:
        c = Canvas(s, s * 0.3, 2)
        c.rect(0, 0, c.w, c.h, (240, 240, 240))
        n = int(rng.integers(3, 7))
        for k in range(0, 2 * n, 2):
            x0 = k * c.w / (2 * n)
            c.poly([(x0, 0), (x0 + c.w / (2 * n), 0), (x0, c.h), (x0 - c.w / (2 * n), c.h)], (30, 30, 200))
    img: np.ndarray = c.image
    angle = float(rng.normal(0, 5))
    if abs(angle) > 0.5:
        rows, cols = img.shape[:2]
        m = cv2.getRotationMatrix2D((cols / 2, rows / 2), angle, 1.0)
        pad = math.ceil(abs(math.sin(math.radians(angle))) * max(rows, cols)) + 2
        m[0, 2] += pad
        m[1, 2] += pad
        img = cv2.warpAffine(img, m, (cols + 2 * pad, rows + 2 * pad), flags=cv2.INTER_LINEAR, borderValue=0)
    return Sprite(np.ascontiguousarray(img))
