"""Drawing of static things: a traffic sign (with or without its pole) and a parcel."""

from __future__ import annotations

import math

from tools.scenes.canvas import Canvas, shade
from tools.scenes.types import ObjectParams

_WHITE = (240, 240, 240)
_BLACK = (20, 20, 20)
_RED = (35, 35, 200)


def _regular(cx: float, cy: float, r: float, n: int, start: float) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(start + 2 * math.pi * k / n), cy + r * math.sin(start + 2 * math.pi * k / n)) for k in range(n)]


def draw_sign(c: Canvas, p: ObjectParams, phase: float) -> None:
    """Plate style 0 stop octagon, 1 round limit, 2 warning triangle, 3 diamond, 4 blue/green panel.

    `extra[0] > 0.3` adds a pole under the plate (the object's box then includes the pole).
    colors: pole, panel colour (style 4).
    """
    del phase
    w, h = c.w, c.h
    pole = bool(p.extra and p.extra[0] > 0.3)
    plate_h = min(h, w * (0.7 if p.style == 4 else 1.0)) if pole else h
    cx, cy, r = 0.5 * w, plate_h / 2, min(w, plate_h) / 2
    if pole:
        c.rect(0.44 * w, cy, 0.56 * w, h, p.colors[0])
    if p.style == 0:
        c.poly(_regular(cx, cy, r, 8, math.pi / 8), _WHITE)
        c.poly(_regular(cx, cy, 0.9 * r, 8, math.pi / 8), _RED)
        c.rect(cx - 0.6 * r, cy - 0.12 * r, cx + 0.6 * r, cy + 0.12 * r, _WHITE)
    elif p.style == 1:
        c.circle(cx, cy, r, _RED)
        c.circle(cx, cy, 0.74 * r, _WHITE)
        c.text(
            "30" if (p.extra and len(p.extra) > 1 and p.extra[1] < 0.5) else "50", cx - 0.55 * r, cy + 0.3 * r, 0.7 * r, _BLACK
        )
    elif p.style == 2:
        tri = [(cx, cy - r), (cx + r, cy + 0.8 * r), (cx - r, cy + 0.8 * r)]
        c.poly(tri, _RED)
        c.poly([(cx, cy - 0.62 * r), (cx + 0.68 * r, cy + 0.6 * r), (cx - 0.68 * r, cy + 0.6 * r)], _WHITE)
        c.rect(cx - 0.06 * r, cy - 0.3 * r, cx + 0.06 * r, cy + 0.2 * r, _BLACK)
        c.circle(cx, cy + 0.38 * r, 0.07 * r, _BLACK)
    elif p.style == 3:
        c.poly(_regular(cx, cy, r, 4, 0.0), _BLACK)
        c.poly(_regular(cx, cy, 0.88 * r, 4, 0.0), (20, 200, 240))
        c.rect(cx - 0.35 * r, cy - 0.08 * r, cx + 0.35 * r, cy + 0.08 * r, _BLACK)
    else:
        panel = p.colors[1] if len(p.colors) > 1 else (150, 80, 20)
        c.rect(0.0, 0.0, w, plate_h, _WHITE)
        c.rect(0.06 * w, 0.06 * plate_h, 0.94 * w, 0.94 * plate_h, panel)
        c.line((0.25 * w, 0.5 * plate_h), (0.7 * w, 0.5 * plate_h), _WHITE, max(1.0, 0.08 * w))
        c.poly([(0.8 * w, 0.5 * plate_h), (0.62 * w, 0.3 * plate_h), (0.62 * w, 0.7 * plate_h)], _WHITE)


def draw_parcel(c: Canvas, p: ObjectParams, phase: float) -> None:
    """A box seen from slightly above and to the side. Style 0 plain, 1 with a barcode label, 2 with
    a red "fragile" print. colors: cardboard, tape. extra: side depth, top depth (fractions).
    """
    del phase
    card, tape = p.colors[:2]
    w, h = c.w, c.h
    d = (0.12 + 0.2 * (p.extra[0] if p.extra else 0.5)) * w
    t = (0.1 + 0.2 * (p.extra[1] if len(p.extra) > 1 else 0.5)) * h
    c.poly([(0.0, t), (d, 0.0), (w, 0.0), (w - d, t)], shade(card, 1.2))
    c.poly([(w - d, t), (w, 0.0), (w, h - t), (w - d, h)], shade(card, 0.72))
    c.rect(0.0, t, w - d, h, card)
    mid = (w - d) / 2
    tw = 0.08 * (w - d)
    c.poly([(mid - tw + d / 2, t / 2 - 0.01 * h), (mid + tw + d / 2, t / 2 - 0.01 * h), (mid + tw, t), (mid - tw, t)], tape)
    c.poly([(mid - tw, t), (mid + tw, t), (mid + tw, t + 0.3 * (h - t)), (mid - tw, t + 0.3 * (h - t))], shade(tape, 0.95))
    if p.style == 1:
        lx0, ly0, lx1, ly1 = 0.1 * (w - d), t + 0.5 * (h - t), 0.45 * (w - d), t + 0.85 * (h - t)
        c.rect(lx0, ly0, lx1, ly1, (235, 235, 235))
        for k in range(7):
            x = lx0 + (lx1 - lx0) * (0.12 + 0.11 * k)
            c.line((x, ly0 + 0.3 * (ly1 - ly0)), (x, ly1 - 0.1 * (ly1 - ly0)), _BLACK, max(1.0, 0.01 * w))
    elif p.style == 2:
        c.text("FRAGILE", 0.55 * (w - d), t + 0.8 * (h - t), 0.09 * h, _RED)
