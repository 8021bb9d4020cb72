"""Drawing of living things: a person-like figure and a dog, animated by a walking `phase` (0..1)."""

from __future__ import annotations

import math

from tools.scenes.canvas import Canvas, shade
from tools.scenes.types import ObjectParams


def draw_person(c: Canvas, p: ObjectParams, phase: float) -> None:
    """Style 0 walks in side view, 1 stands facing the camera, 2 walks with a backpack.

    colors: skin, shirt, trousers, shoes, hair.
    """
    skin, shirt, pants, shoes, hair = p.colors[:5]
    w, h = c.w, c.h
    walking = p.style != 1
    swing = math.sin(2 * math.pi * phase) if walking else 0.0
    r = 0.068 * h
    hx, hy = 0.5 * w, r + 0.005 * h
    top, hip = 2 * r + 0.015 * h, 0.52 * h
    leg_t, arm_t = max(1.0, 0.15 * w), max(1.0, 0.1 * w)
    spread = 0.0 if walking else 0.1 * w
    # Legs (the far leg a little darker), then shoes.
    for side, sign in ((-1, 1.0), (1, -1.0)):
        hip_x = 0.5 * w + side * (0.06 * w + spread * 0.3)
        foot_x = hip_x + sign * swing * 0.28 * w + side * spread
        knee = (0.5 * (hip_x + foot_x) + abs(swing) * 0.05 * w, 0.75 * h)
        col = shade(pants, 0.8) if sign > 0 else pants
        c.line((hip_x, hip), knee, col, leg_t)
        c.line(knee, (foot_x, 0.965 * h), col, leg_t)
        c.ellipse(foot_x + (0.05 * w if walking else 0.0), 0.975 * h, 0.1 * w, 0.025 * h, 0, shoes)
    if p.style == 2:
        c.rect(0.08 * w, top + 0.03 * h, 0.34 * w, hip - 0.05 * h, shade(p.colors[5] if len(p.colors) > 5 else shirt, 0.7))
    # Far arm behind the torso.
    sh_y = top + 0.035 * h
    if walking:
        c.line((0.5 * w, sh_y), (0.5 * w + swing * 0.3 * w, hip + 0.02 * h), shade(shirt, 0.75), arm_t)
    c.poly(
        [(0.24 * w, top + 0.02 * h), (0.76 * w, top + 0.02 * h), (0.72 * w, hip + 0.01 * h), (0.28 * w, hip + 0.01 * h)],
        shirt,
    )
    c.circle(0.3 * w, top + 0.035 * h, 0.035 * h, shirt)
    c.circle(0.7 * w, top + 0.035 * h, 0.035 * h, shirt)
    if walking:
        hand = (0.5 * w - swing * 0.3 * w, hip + 0.02 * h)
        c.line((0.5 * w, sh_y), hand, shirt, arm_t)
        c.circle(hand[0], hand[1] + 0.01 * h, arm_t * 0.55, skin)
    else:
        for x_sh, x_hand in ((0.24 * w, 0.1 * w), (0.76 * w, 0.9 * w)):
            c.line((x_sh, sh_y), (x_hand, hip), shirt, arm_t)
            c.circle(x_hand, hip + 0.015 * h, arm_t * 0.55, skin)
    c.rect(0.44 * w, top - 0.02 * h, 0.56 * w, top + 0.02 * h, skin)  # neck
    c.circle(hx, hy - 0.12 * r, r * 1.02, hair)
    face_dx = 0.12 * r if walking else 0.0
    c.circle(hx + face_dx, hy + 0.1 * r, r * 0.9, skin)


def draw_dog(c: Canvas, p: ObjectParams, phase: float) -> None:
    """Side view, head to the right. Style 0 plain, 1 spotted, 2 with a collar.

    colors: fur, dark fur, nose/eye, collar.
    """
    fur, dark, nose = p.colors[:3]
    w, h = c.w, c.h
    swing = math.sin(2 * math.pi * phase)
    leg_t = max(1.0, 0.075 * w)
    ear_droop = p.extra[0] if p.extra else 0.5
    # Far legs, darker, then the body, near legs, tail and head.
    for x, s in ((0.33 * w, 1.0), (0.68 * w, -1.0)):
        c.line((x, 0.5 * h), (x + s * swing * 0.06 * w + 0.02 * w, 0.97 * h), shade(fur, 0.7), leg_t)
    wag = math.sin(4 * math.pi * phase) * 0.05 * h
    c.line((0.2 * w, 0.38 * h), (0.05 * w, 0.14 * h + wag), fur, max(1.0, 0.045 * w))
    c.ellipse(0.47 * w, 0.45 * h, 0.3 * w, 0.17 * h, 0, fur)
    if p.style == 1:
        c.ellipse(0.4 * w, 0.4 * h, 0.09 * w, 0.07 * h, 20, dark)
        c.ellipse(0.58 * w, 0.5 * h, 0.06 * w, 0.05 * h, -10, dark)
    for x, s in ((0.28 * w, -1.0), (0.63 * w, 1.0)):
        c.line((x, 0.52 * h), (x + s * swing * 0.06 * w, 0.97 * h), fur, leg_t)
        c.ellipse(x + s * swing * 0.06 * w + 0.02 * w, 0.975 * h, 0.04 * w, 0.02 * h, 0, shade(fur, 0.8))
    c.poly([(0.66 * w, 0.32 * h), (0.8 * w, 0.15 * h), (0.88 * w, 0.3 * h), (0.76 * w, 0.5 * h)], fur)
    c.circle(0.84 * w, 0.22 * h, 0.15 * h, fur)
    c.ellipse(0.93 * w, 0.28 * h, 0.075 * w, 0.065 * h, 10, shade(fur, 1.1))
    c.circle(0.99 * w, 0.25 * h, 0.03 * h, nose)
    c.circle(0.87 * w, 0.18 * h, max(0.5, 0.025 * h), nose)
    c.ellipse(0.78 * w, 0.2 * h + ear_droop * 0.06 * h, 0.04 * w, 0.1 * h, 15 + 20 * ear_droop, dark)
    if p.style == 2 and len(p.colors) > 3:
        c.line((0.76 * w, 0.3 * h), (0.84 * w, 0.4 * h), p.colors[3], max(1.0, 0.04 * w))
