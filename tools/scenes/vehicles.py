"""Drawing of vehicles: a car (side or front view) and a bicycle; wheels turn with `phase`."""

from __future__ import annotations

import math

from tools.scenes.canvas import Canvas, shade
from tools.scenes.types import ObjectParams

_TYRE = (25, 25, 28)
_GLASS = (70, 55, 45)


def _wheel(c: Canvas, x: float, y: float, r: float, rim: tuple[int, int, int], phase: float) -> None:
    c.circle(x, y, r, _TYRE)
    c.circle(x, y, 0.55 * r, rim)
    for k in range(4):
        a = 2 * math.pi * (phase + k / 4)
        c.line((x, y), (x + 0.5 * r * math.cos(a), y + 0.5 * r * math.sin(a)), shade(rim, 0.6), max(1.0, 0.08 * r))
    c.circle(x, y, 0.15 * r, shade(rim, 0.5))


def draw_car(c: Canvas, p: ObjectParams, phase: float) -> None:
    """Style 0 sedan side view, 1 van side view, 2 front view. colors: body, rim, light."""
    body, rim, light = p.colors[:3]
    if p.style == 2:
        _car_front(c, body, light)
        return
    w, h = c.w, c.h
    van = p.style == 1
    r = (0.19 if van else 0.21) * h
    wy = h - r
    dark = shade(body, 0.6)
    c.circle(0.2 * w, wy, r * 1.18, dark)
    c.circle(0.8 * w, wy, r * 1.18, dark)
    if van:
        cabin = [(0.03 * w, 0.42 * h), (0.05 * w, 0.02 * h), (0.7 * w, 0.0), (0.86 * w, 0.42 * h)]
        windows = [
            [(0.09 * w, 0.36 * h), (0.1 * w, 0.08 * h), (0.4 * w, 0.07 * h), (0.4 * w, 0.36 * h)],
            [(0.44 * w, 0.36 * h), (0.44 * w, 0.07 * h), (0.68 * w, 0.06 * h), (0.8 * w, 0.36 * h)],
        ]
    else:
        cabin = [(0.2 * w, 0.42 * h), (0.32 * w, 0.04 * h), (0.64 * w, 0.02 * h), (0.8 * w, 0.42 * h)]
        windows = [
            [(0.26 * w, 0.38 * h), (0.35 * w, 0.09 * h), (0.48 * w, 0.08 * h), (0.48 * w, 0.38 * h)],
            [(0.52 * w, 0.38 * h), (0.52 * w, 0.08 * h), (0.62 * w, 0.07 * h), (0.74 * w, 0.38 * h)],
        ]
    c.poly(cabin, shade(body, 0.95))
    for win in windows:
        c.poly(win, _GLASS)
    c.poly(
        [
            (0.01 * w, 0.46 * h),
            (0.06 * w, 0.39 * h),
            (0.93 * w, 0.41 * h),
            (0.99 * w, 0.5 * h),
            (1.0 * w, 0.72 * h),
            (0.97 * w, 0.86 * h),
            (0.03 * w, 0.86 * h),
            (0.0, 0.7 * h),
        ],
        body,
    )
    c.line((0.5 * w, 0.44 * h), (0.5 * w, 0.8 * h), dark, max(1.0, 0.006 * w))
    c.line((0.05 * w, 0.62 * h), (0.95 * w, 0.62 * h), shade(body, 1.25), max(1.0, 0.008 * w))
    c.rect(0.955 * w, 0.5 * h, 0.995 * w, 0.58 * h, light)
    c.rect(0.005 * w, 0.48 * h, 0.035 * w, 0.57 * h, (30, 30, 190))
    _wheel(c, 0.2 * w, wy, r, rim, phase)
    _wheel(c, 0.8 * w, wy, r, rim, phase)


def _car_front(c: Canvas, body: tuple[int, int, int], light: tuple[int, int, int]) -> None:
    w, h = c.w, c.h
    c.rect(0.05 * w, 0.78 * h, 0.22 * w, 1.0 * h, _TYRE)
    c.rect(0.78 * w, 0.78 * h, 0.95 * w, 1.0 * h, _TYRE)
    c.poly([(0.13 * w, 0.44 * h), (0.22 * w, 0.04 * h), (0.78 * w, 0.04 * h), (0.87 * w, 0.44 * h)], shade(body, 0.95))
    c.poly([(0.18 * w, 0.4 * h), (0.26 * w, 0.1 * h), (0.74 * w, 0.1 * h), (0.82 * w, 0.4 * h)], _GLASS)
    c.poly([(0.02 * w, 0.44 * h), (0.98 * w, 0.44 * h), (1.0 * w, 0.86 * h), (0.0, 0.86 * h)], body)
    c.ellipse(0.14 * w, 0.56 * h, 0.09 * w, 0.05 * h, 0, light)
    c.ellipse(0.86 * w, 0.56 * h, 0.09 * w, 0.05 * h, 0, light)
    c.rect(0.3 * w, 0.52 * h, 0.7 * w, 0.64 * h, shade(body, 0.35))
    c.rect(0.4 * w, 0.7 * h, 0.6 * w, 0.78 * h, (235, 235, 235))
    c.rect(-0.03 * w, 0.36 * h, 0.04 * w, 0.42 * h, shade(body, 0.8))
    c.rect(0.96 * w, 0.36 * h, 1.03 * w, 0.42 * h, shade(body, 0.8))


def draw_bicycle(c: Canvas, p: ObjectParams, phase: float) -> None:
    """Side view. Style 0 plain, 1 with a front basket. colors: frame, tyre, saddle."""
    frame, tyre, saddle = p.colors[:3]
    w, h = c.w, c.h
    r = 0.3 * h
    hub_y = h - r
    rear, front = (0.19 * w, hub_y), (0.81 * w, hub_y)
    t_tyre = max(1.5, 0.055 * h)
    for hx, hy in (rear, front):
        c.circle(hx, hy, r - t_tyre / 2, tyre, t_tyre)
        c.circle(hx, hy, r * 0.82, (150, 150, 150), max(1.0, 0.012 * h))
        for k in range(6):
            ang = 2 * math.pi * (phase + k / 6)
            c.line((hx, hy), (hx + 0.8 * r * math.cos(ang), hy + 0.8 * r * math.sin(ang)), (170, 170, 170), max(1.0, 0.008 * h))
    bb = (0.45 * w, hub_y + 0.03 * h)
    seat_top, head_top, head_low = (0.39 * w, 0.3 * h), (0.71 * w, 0.27 * h), (0.73 * w, 0.38 * h)
    t = max(1.0, 0.035 * h)
    for a, b in ((rear, bb), (rear, seat_top), (bb, seat_top), (bb, head_low), (seat_top, head_top), (head_top, front)):
        c.line(a, b, frame, t)
    c.line(seat_top, (0.38 * w, 0.22 * h), (60, 60, 60), t)
    c.ellipse(0.37 * w, 0.21 * h, 0.065 * w, 0.028 * h, 0, saddle)
    c.line(head_top, (0.69 * w, 0.12 * h), (60, 60, 60), t)
    c.line((0.65 * w, 0.11 * h), (0.76 * w, 0.13 * h), (30, 30, 30), max(1.0, 0.045 * h))
    crank = 2 * math.pi * phase
    pedal = (bb[0] + 0.07 * w * math.cos(crank), bb[1] + 0.07 * w * math.sin(crank))
    c.line(bb, pedal, (90, 90, 90), t)
    c.rect(pedal[0] - 0.03 * w, pedal[1] - 0.012 * h, pedal[0] + 0.03 * w, pedal[1] + 0.012 * h, (40, 40, 40))
    if p.style == 1:
        c.rect(0.76 * w, 0.14 * h, 0.93 * w, 0.3 * h, shade(saddle, 1.4))
