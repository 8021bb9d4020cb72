"""Drawing boxes, ids, zones and lines on a frame (OpenCV), for snapshots and the preview.

Always on a copy or a resized image the caller owns: captured frames are shared with the pipeline and are
never written.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge_sdk.events.geometry import Line, Zone

_PALETTE = ((56, 56, 255), (151, 157, 255), (31, 112, 255), (29, 178, 255), (49, 210, 207), (10, 249, 72),
            (23, 204, 146), (134, 219, 61), (52, 147, 26), (187, 212, 0), (168, 153, 44), (255, 194, 0))


@dataclass(frozen=True)
class Drawable:
    box: tuple[float, float, float, float]
    text: str
    key: int  # picks the colour (track id, or class id)


def color(key: int) -> tuple[int, int, int]:
    return _PALETTE[key % len(_PALETTE)]


def scaled(image: np.ndarray, max_width: int) -> tuple[np.ndarray, float]:
    """A copy no wider than `max_width` (0: full size), and the scale applied."""
    import cv2

    h, w = image.shape[:2]
    if max_width <= 0 or w <= max_width:
        return image.copy(), 1.0
    s = max_width / w
    return cv2.resize(image, (max_width, max(1, round(h * s))), interpolation=cv2.INTER_AREA), s


def draw(image: np.ndarray, items: Sequence[Drawable], scale: float = 1.0, zones: Sequence[Zone] = (),
         lines: Sequence[Line] = (), caption: str = "") -> np.ndarray:
    """Draw on `image` in place (coordinates in original pixels times `scale`); returns it."""
    import cv2

    thick = max(1, round(min(image.shape[:2]) / 320))
    for z in zones:
        pts = np.array([[x * scale, y * scale] for x, y in z.polygon], np.int32)
        cv2.polylines(image, [pts], True, (0, 200, 255), thick, cv2.LINE_AA)
        cv2.putText(image, z.name, tuple(int(v) for v in pts[0]), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * thick,
                    (0, 200, 255), thick, cv2.LINE_AA)
    for ln in lines:
        a = (round(ln.a[0] * scale), round(ln.a[1] * scale))
        b = (round(ln.b[0] * scale), round(ln.b[1] * scale))
        cv2.line(image, a, b, (255, 0, 255), thick + 1, cv2.LINE_AA)
        mid = ((a[0] + b[0]) // 2, (a[1] + b[1]) // 2)
        tip = (round(mid[0] + 25 * ln.normal[0]), round(mid[1] + 25 * ln.normal[1]))
        cv2.arrowedLine(image, mid, tip, (255, 0, 255), thick, cv2.LINE_AA, tipLength=0.4)
        cv2.putText(image, ln.name, (a[0] + 3, a[1] + 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45 * thick, (255, 0, 255), thick,
                    cv2.LINE_AA)
    for it in items:
        x1, y1, x2, y2 = (round(v * scale) for v in it.box)
        c = color(it.key)
        cv2.rectangle(image, (x1, y1), (x2, y2), c, thick, cv2.LINE_AA)
        if it.text:
            (tw, th), base = cv2.getTextSize(it.text, cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, thick)
            ty = max(th + base, y1)
            tx = max(0, min(x1, image.shape[1] - tw - 2))
            cv2.rectangle(image, (tx, ty - th - base), (tx + tw + 2, ty), c, -1)
            cv2.putText(image, it.text, (tx + 1, ty - base), cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thick, (255, 255, 255),
                        thick, cv2.LINE_AA)
    if caption:
        cv2.putText(image, caption, (6, 18 * thick), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * thick, (0, 0, 0), thick + 2,
                    cv2.LINE_AA)
        cv2.putText(image, caption, (6, 18 * thick), cv2.FONT_HERSHEY_SIMPLEX, 0.5 * thick, (255, 255, 255), thick,
                    cv2.LINE_AA)
    return image


def jpeg(image: np.ndarray, quality: int) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return bytes(buf)
