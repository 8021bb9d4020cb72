"""A small drawing surface for sprites: anti-aliased OpenCV primitives on a BGRA canvas.

Coordinates are float pixels of the object's nominal box (origin at its top-left); the canvas adds a
margin around that box so rotated or protruding parts are not cut. Drawing on a zero canvas with
LINE_AA leaves colour premultiplied by coverage, which is what `compose` expects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from tools.scenes.types import Color

_SHIFT = 4
_ONE = 1 << _SHIFT


class Canvas:
    """BGRA uint8 canvas of a `w` x `h` nominal box plus `margin` pixels on every side."""

    def __init__(self, w: float, h: float, margin: int) -> None:
        self.w = float(w)
        self.h = float(h)
        self.margin = int(margin)
        rows = math.ceil(h) + 2 * self.margin
        cols = math.ceil(w) + 2 * self.margin
        self.image = np.zeros((rows, cols, 4), np.uint8)

    def _pt(self, x: float, y: float) -> tuple[int, int]:
        return (round((x + self.margin) * _ONE), round((y + self.margin) * _ONE))

    @staticmethod
    def _c(color: Color) -> tuple[int, int, int, int]:
        return (int(color[0]), int(color[1]), int(color[2]), 255)

    def px(self, u: float, v: float) -> tuple[float, float]:
        """Point at fractions (u, v) of the nominal box."""
        return (u * self.w, v * self.h)

    def poly(self, points: Sequence[tuple[float, float]], color: Color) -> None:
        pts = np.array([self._pt(x, y) for x, y in points], np.int32)
        cv2.fillPoly(self.image, [pts], self._c(color), cv2.LINE_AA, _SHIFT)

    def outline(self, points: Sequence[tuple[float, float]], color: Color, thickness: float, closed: bool = True) -> None:
        pts = np.array([self._pt(x, y) for x, y in points], np.int32)
        cv2.polylines(self.image, [pts], closed, self._c(color), max(1, round(thickness)), cv2.LINE_AA, _SHIFT)

    def rect(self, x0: float, y0: float, x1: float, y1: float, color: Color) -> None:
        self.poly([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], color)

    def circle(self, cx: float, cy: float, r: float, color: Color, thickness: float = -1) -> None:
        t = -1 if thickness < 0 else max(1, round(thickness))
        cv2.circle(self.image, self._pt(cx, cy), max(1, round(r * _ONE)), self._c(color), t, cv2.LINE_AA, _SHIFT)

    def ellipse(self, cx: float, cy: float, ax: float, ay: float, angle: float, color: Color, thickness: float = -1) -> None:
        t = -1 if thickness < 0 else max(1, round(thickness))
        axes = (max(1, round(ax * _ONE)), max(1, round(ay * _ONE)))
        cv2.ellipse(self.image, self._pt(cx, cy), axes, angle, 0, 360, self._c(color), t, cv2.LINE_AA, _SHIFT)

    def line(self, p: tuple[float, float], q: tuple[float, float], color: Color, thickness: float) -> None:
        cv2.line(self.image, self._pt(*p), self._pt(*q), self._c(color), max(1, round(thickness)), cv2.LINE_AA, _SHIFT)

    def text(self, s: str, x: float, y: float, height: float, color: Color) -> None:
        scale = max(0.2, height / 22.0)
        org = (round(x + self.margin), round(y + self.margin))
        cv2.putText(self.image, s, org, cv2.FONT_HERSHEY_SIMPLEX, scale, self._c(color), max(1, round(scale * 2)), cv2.LINE_AA)


def shade(color: Color, factor: float) -> Color:
    """Colour scaled by `factor` (darker below 1, lighter above), clipped to 0..255."""
    return (
        int(min(255, max(0, color[0] * factor))),
        int(min(255, max(0, color[1] * factor))),
        int(min(255, max(0, color[2] * factor))),
    )


def random_color(rng: np.random.Generator, sat: tuple[float, float] = (0.3, 1.0), val: tuple[float, float] = (0.3, 1.0)) -> Color:
    """A BGR colour from a random hue and the given saturation and value ranges."""
    hsv = np.array(
        [[[rng.uniform(0, 180), rng.uniform(*sat) * 255, rng.uniform(*val) * 255]]],
        np.float32,
    ).astype(np.uint8)
    bgr = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return (int(bgr[0]), int(bgr[1]), int(bgr[2]))


def pick(rng: np.random.Generator, palette: Sequence[Color]) -> Color:
    """One colour of `palette`, slightly jittered."""
    c = palette[int(rng.integers(len(palette)))]
    j = rng.uniform(0.85, 1.15)
    return shade(c, j)
