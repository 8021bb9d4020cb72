"""Textured, structured backgrounds: street, indoor, park and abstract texture scenes."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from tools.scenes.canvas import random_color, shade
from tools.scenes.types import Color


@dataclass
class Background:
    """A background image and the y of its horizon (where the ground starts), if it has one."""

    image: np.ndarray
    horizon: int | None


def value_noise(rng: np.random.Generator, width: int, height: int, cells: int) -> np.ndarray:
    """Smooth noise in 0..1, float32 HxW, with about `cells` features across the larger side."""
    cx = max(2, round(cells * width / max(width, height)))
    cy = max(2, round(cells * height / max(width, height)))
    small = rng.random((cy, cx), dtype=np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def fractal_noise(rng: np.random.Generator, width: int, height: int, base: int = 4, octaves: int = 4) -> np.ndarray:
    """Sum of value-noise octaves, normalised to roughly -1..1."""
    out = np.zeros((height, width), np.float32)
    amp, total = 1.0, 0.0
    for k in range(octaves):
        out += amp * (value_noise(rng, width, height, base * 2**k) - 0.5)
        total += amp
        amp *= 0.55
    return out * (2.0 / total)


def textured_fill(rng: np.random.Generator, width: int, height: int, color: Color, strength: float) -> np.ndarray:
    """A HxWx3 uint8 area of `color` modulated by fractal noise of relative `strength`."""
    n = fractal_noise(rng, width, height, base=int(rng.integers(3, 12)), octaves=int(rng.integers(3, 6)))
    mod = 1.0 + strength * n
    img = np.asarray(color, np.float32)[None, None, :] * mod[:, :, None]
    return np.clip(img, 0, 255).astype(np.uint8)


def _sky(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    top = random_color(rng, sat=(0.0, 0.5), val=(0.55, 1.0))
    bottom = shade(top, rng.uniform(1.0, 1.3))
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    grad = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    clouds = value_noise(rng, width, height, int(rng.integers(3, 8)))[:, :, None]
    img = grad + rng.uniform(0, 50) * (clouds - 0.5)
    return np.clip(np.broadcast_to(img, (height, width, 3)), 0, 255).astype(np.uint8)


def _buildings(rng: np.random.Generator, img: np.ndarray, horizon: int) -> None:
    width = img.shape[1]
    x = int(rng.integers(-40, 0))
    while x < width:
        bw = int(rng.integers(40, 220))
        bh = int(rng.uniform(0.3, 1.0) * horizon)
        col = random_color(rng, sat=(0.0, 0.4), val=(0.25, 0.85))
        cv2.rectangle(img, (x, horizon - bh), (x + bw, horizon), col, -1)
        win = random_color(rng, sat=(0.0, 0.3), val=(0.1, 0.9))
        ws, wh = int(rng.integers(6, 18)), int(rng.integers(6, 20))
        for wy in range(horizon - bh + 6, horizon - wh - 4, wh + int(rng.integers(4, 14))):
            for wx in range(x + 5, x + bw - ws - 4, ws + int(rng.integers(4, 12))):
                cv2.rectangle(img, (wx, wy), (wx + ws, wy + wh), win, -1)
        x += bw + int(rng.integers(0, 30))


def _street(rng: np.random.Generator, width: int, height: int) -> Background:
    horizon = int(rng.uniform(0.25, 0.55) * height)
    img = _sky(rng, width, height)
    _buildings(rng, img, horizon)
    ground = textured_fill(rng, width, height - horizon, random_color(rng, sat=(0, 0.15), val=(0.3, 0.6)), 0.25)
    img[horizon:] = ground
    road_top = horizon + int(rng.uniform(0.1, 0.4) * (height - horizon))
    road_bot = min(height, road_top + int(rng.uniform(0.25, 0.6) * (height - horizon)))
    cv2.rectangle(img, (0, road_top), (width, road_top + 3), random_color(rng, sat=(0, 0.1), val=(0.6, 0.9)), -1)
    mid = (road_top + road_bot) // 2
    dash, gap = int(rng.integers(20, 60)), int(rng.integers(15, 50))
    line_col = (230, 230, 230) if rng.random() < 0.6 else (40, 200, 230)
    for x in range(int(rng.integers(-dash, 0)), width, dash + gap):
        cv2.rectangle(img, (x, mid - 2), (x + dash, mid + 2), line_col, -1)
    return Background(img, horizon)


def _indoor(rng: np.random.Generator, width: int, height: int) -> Background:
    horizon = int(rng.uniform(0.35, 0.65) * height)
    img = np.empty((height, width, 3), np.uint8)
    img[:horizon] = textured_fill(rng, width, horizon, random_color(rng, sat=(0, 0.35), val=(0.4, 0.95)), 0.15)
    img[horizon:] = textured_fill(rng, width, height - horizon, random_color(rng, sat=(0, 0.4), val=(0.25, 0.75)), 0.2)
    line = shade(random_color(rng, sat=(0, 0.2), val=(0.2, 0.6)), 1.0)
    vx = width * rng.uniform(0.2, 0.8)
    for k in range(-12, 13):
        cv2.line(img, (int(vx + k * 25), horizon), (int(vx + k * 120), height), line, 1, cv2.LINE_AA)
    y, step = horizon + 8, 8
    while y < height:
        cv2.line(img, (0, y), (width, y), line, 1, cv2.LINE_AA)
        step = int(step * 1.35) + 2
        y += step
    for _ in range(int(rng.integers(1, 5))):
        x0 = int(rng.integers(0, width))
        w = int(rng.integers(40, 160))
        h = int(rng.uniform(0.4, 0.95) * horizon)
        col = random_color(rng, val=(0.2, 0.8))
        cv2.rectangle(img, (x0, horizon - h), (x0 + w, horizon), col, -1)
        for sy in range(horizon - h + 10, horizon, int(rng.integers(15, 40))):
            cv2.line(img, (x0, sy), (x0 + w, sy), shade(col, 0.6), 2)
    return Background(img, horizon)


def _park(rng: np.random.Generator, width: int, height: int) -> Background:
    horizon = int(rng.uniform(0.2, 0.5) * height)
    img = _sky(rng, width, height)
    grass = random_color(rng, sat=(0.4, 0.8), val=(0.3, 0.7))
    grass = (int(grass[0] * 0.5), int(max(grass[1], 90)), int(grass[2] * 0.6))
    img[horizon:] = textured_fill(rng, width, height - horizon, grass, 0.45)
    for _ in range(int(rng.integers(6, 20))):
        cx = int(rng.integers(0, width))
        r = int(rng.integers(15, 60))
        col = (int(rng.integers(10, 60)), int(rng.integers(60, 130)), int(rng.integers(10, 60)))
        cv2.circle(img, (cx, horizon - r // 2), r, col, -1, cv2.LINE_AA)
    if rng.random() < 0.7:
        path = random_color(rng, sat=(0.1, 0.4), val=(0.4, 0.8))
        x0, x1 = rng.uniform(0.3, 0.6) * width, rng.uniform(0.0, 1.0) * width
        pts = np.array([[x0 - 15, horizon], [x0 + 15, horizon], [x1 + 160, height], [x1 - 160, height]], np.int32)
        cv2.fillPoly(img, [pts], path, cv2.LINE_AA)
    return Background(img, horizon)


def _texture(rng: np.random.Generator, width: int, height: int) -> Background:
    c1, c2 = random_color(rng), random_color(rng)
    n = value_noise(rng, width, height, int(rng.integers(2, 10)))[:, :, None]
    img = np.asarray(c1, np.float32) * n + np.asarray(c2, np.float32) * (1 - n)
    img = img * (1.0 + 0.3 * fractal_noise(rng, width, height, base=16, octaves=3))[:, :, None]
    out = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        step = int(rng.integers(12, 60))
        col = random_color(rng)
        for k in range(0, width + height, step):
            cv2.line(out, (k, 0), (k - height, height), col, int(rng.integers(1, 6)), cv2.LINE_AA)
    return Background(out, None)


_KINDS = {"street": _street, "indoor": _indoor, "park": _park, "texture": _texture}
SCENE_KINDS = tuple(_KINDS)
_WEIGHTS = np.array([0.35, 0.2, 0.25, 0.2])


def make_background(rng: np.random.Generator, width: int, height: int, kind: str | None = None) -> Background:
    """A background of `kind` (street, indoor, park, texture; random if None), `width` x `height` BGR uint8."""
    if kind is not None and kind not in _KINDS:
        raise ValueError(f"scene kind must be one of {SCENE_KINDS}, got {kind!r}")
    pick = int(rng.choice(len(_KINDS), p=_WEIGHTS))
    return _KINDS[kind or SCENE_KINDS[pick]](rng, width, height)
