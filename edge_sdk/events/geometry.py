"""Zones and lines in a camera's pixels, and which tracked objects they consider.

Coordinates come from the config in pixels or normalised to 0..1 (`units: auto` takes normalised when
every value is within 0..1); they are resolved against the first frame's size. An object is judged by
one point of its box (`anchor`, bottom centre by default: where it stands).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from edge_sdk.config.events import Anchor, LineConfig, ObjectFilter, ZoneConfig

Point = tuple[float, float]
Box = tuple[float, float, float, float]

_DIRECTIONS = {"up": (0.0, -1.0), "down": (0.0, 1.0), "left": (-1.0, 0.0), "right": (1.0, 0.0)}


def anchor_point(box: Box, anchor: Anchor) -> Point:
    x1, y1, x2, y2 = box
    cx = (x1 + x2) / 2
    if anchor == "center":
        return cx, (y1 + y2) / 2
    if anchor == "top_center":
        return cx, y1
    return cx, y2


def _scaled(points: list[tuple[float, float]], units: str, width: int, height: int) -> list[Point]:
    normalized = units == "normalized" or (units == "auto" and all(0 <= v <= 1 for p in points for v in p))
    if not normalized:
        return [(float(x), float(y)) for x, y in points]
    return [(float(x) * width, float(y) * height) for x, y in points]


@dataclass(frozen=True)
class Filter:
    """The object filter of a zone or line, with class names resolved to ids (None: every class)."""

    class_ids: frozenset[int] | None
    min_score: float
    min_area: float
    max_area: float | None
    anchor: Anchor

    @classmethod
    def of(cls, cfg: ObjectFilter, class_ids: frozenset[int] | None) -> Filter:
        return cls(class_ids, cfg.min_score, cfg.min_area, cfg.max_area, cfg.anchor)

    def accepts(self, class_id: int, score: float, box: Box) -> bool:
        if self.class_ids is not None and class_id not in self.class_ids:
            return False
        if score < self.min_score:
            return False
        area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
        return area >= self.min_area and (self.max_area is None or area <= self.max_area)


@dataclass(frozen=True)
class Zone:
    name: str
    polygon: tuple[Point, ...]
    filter: Filter
    inertia: int

    @classmethod
    def of(cls, name: str, cfg: ZoneConfig, width: int, height: int, class_ids: frozenset[int] | None) -> Zone:
        return cls(name, tuple(_scaled(cfg.polygon, cfg.units, width, height)), Filter.of(cfg, class_ids), cfg.inertia)

    def contains(self, p: Point) -> bool:
        """Point in polygon (even-odd rule; a point on an edge may fall either way)."""
        x, y = p
        inside = False
        pts = self.polygon
        j = len(pts) - 1
        for i in range(len(pts)):
            xi, yi = pts[i]
            xj, yj = pts[j]
            if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
                inside = not inside
            j = i
        return inside


@dataclass(frozen=True)
class Line:
    name: str
    a: Point
    b: Point
    normal: Point  # unit vector: movement along it is `in`
    margin_px: float
    filter: Filter

    @classmethod
    def of(cls, name: str, cfg: LineConfig, width: int, height: int, class_ids: frozenset[int] | None) -> Line:
        a, b = _scaled(cfg.points, cfg.units, width, height)
        dx, dy = b[0] - a[0], b[1] - a[1]
        if cfg.in_direction == "auto":
            nx, ny = -dy, dx  # the right-hand side on screen (y grows downward)
        else:
            nx, ny = _DIRECTIONS[cfg.in_direction]
            if abs(nx * dy - ny * dx) < 1e-9:  # the direction runs along the line: no side to cross to
                raise ValueError(f"line {name}: in_direction {cfg.in_direction} is parallel to the line")
        norm = math.hypot(nx, ny)
        margin = cfg.margin * math.hypot(width, height)
        return cls(name, a, b, (nx / norm, ny / norm), margin, Filter.of(cfg, class_ids))

    def side(self, p: Point) -> int:
        """+1 on the `in` side, -1 on the other, 0 within the margin of the line."""
        ax, ay = self.a
        bx, by = self.b
        # signed distance from the infinite line, oriented so that + is the `in` side
        dx, dy = bx - ax, by - ay
        length = math.hypot(dx, dy)
        cross = (dx * (p[1] - ay) - dy * (p[0] - ax)) / length  # + on the right-hand side on screen
        along_normal = -dy * self.normal[0] + dx * self.normal[1]  # > 0 when the normal is the right-hand side
        d = cross if along_normal > 0 else -cross
        if abs(d) <= self.margin_px:
            return 0
        return 1 if d > 0 else -1

    def spans(self, p: Point, q: Point) -> bool:
        """Whether the segment p -> q passes the line between its two ends (not beyond them)."""
        ax, ay = self.a
        bx, by = self.b
        dx, dy = bx - ax, by - ay
        ex, ey = q[0] - p[0], q[1] - p[1]
        denom = dx * ey - dy * ex
        if abs(denom) < 1e-12:
            return False
        t = ((p[0] - ax) * ey - (p[1] - ay) * ex) / denom  # position along the line, 0..1 between its ends
        return -1e-9 <= t <= 1 + 1e-9
