"""Compositing sprites into a frame and reading exact ground truth back from an owner map.

Every pixel of the frame has an owner: -1 for background, the object's index for an object whose
sprite covers it with alpha >= 128 and nothing opaque in front, -2 for a foreground occluder. A box
is the tight box of the pixels an object owns, so occlusion and truncation are exact.
"""

from __future__ import annotations

import numpy as np

from tools.scenes.types import MIN_VISIBLE_FRACTION, MIN_VISIBLE_SIDE, Annotation, PlacedObject, Sprite

BACKGROUND = -1
OCCLUDER = -2
ALPHA_OPAQUE = 128


def new_owner_map(width: int, height: int) -> np.ndarray:
    return np.full((height, width), BACKGROUND, np.int32)


def _clip(frame: np.ndarray, sprite: Sprite, x0: int, y0: int) -> tuple[slice, slice, slice, slice] | None:
    fh, fw = frame.shape[:2]
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(fw, x0 + sprite.width), min(fh, y0 + sprite.height)
    if fx0 >= fx1 or fy0 >= fy1:
        return None
    return slice(fy0, fy1), slice(fx0, fx1), slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0)


def composite(frame: np.ndarray, owner: np.ndarray, sprite: Sprite, x0: int, y0: int, owner_id: int) -> None:
    """Blend `sprite` (premultiplied BGRA) into BGR uint8 `frame` at top-left (x0, y0), in place."""
    clipped = _clip(frame, sprite, x0, y0)
    if clipped is None:
        return
    fy, fx, sy, sx = clipped
    src = sprite.bgra[sy, sx]
    alpha = src[:, :, 3:4].astype(np.float32) * np.float32(1.0 / 255.0)
    region = frame[fy, fx].astype(np.float32)
    region *= 1.0 - alpha
    region += src[:, :, :3]
    np.clip(region, 0, 255, out=region)
    frame[fy, fx] = region.astype(np.uint8)
    owner[fy, fx][src[:, :, 3] >= ALPHA_OPAQUE] = owner_id


def opaque_pixels(sprite: Sprite) -> int:
    """Pixels of the sprite that count as the object (alpha >= 128), in or out of the frame."""
    return int(np.count_nonzero(sprite.bgra[:, :, 3] >= ALPHA_OPAQUE))


def annotate(owner: np.ndarray, placed: list[PlacedObject]) -> list[Annotation]:
    """Annotations of all placed objects (index in `placed` = owner id), invisible ones left out."""
    fh, fw = owner.shape
    anns: list[Annotation] = []
    for idx, obj in enumerate(placed):
        x0, y0 = max(0, obj.x0), max(0, obj.y0)
        x1, y1 = min(fw, obj.x0 + obj.sprite.width), min(fh, obj.y0 + obj.sprite.height)
        if x0 >= x1 or y0 >= y1:
            continue
        mine = owner[y0:y1, x0:x1] == idx
        rows = np.flatnonzero(mine.any(axis=1))
        if rows.size == 0:
            continue
        cols = np.flatnonzero(mine.any(axis=0))
        bx0, by0 = x0 + int(cols[0]), y0 + int(rows[0])
        bw, bh = int(cols[-1]) - int(cols[0]) + 1, int(rows[-1]) - int(rows[0]) + 1
        visible = float(np.count_nonzero(mine)) / max(1, obj.full_pixels)
        truncated = obj.x0 < 0 or obj.y0 < 0 or obj.x0 + obj.sprite.width > fw or obj.y0 + obj.sprite.height > fh
        if truncated:
            truncated = _sprite_cut_by_frame(obj, fw, fh)
        ignore = visible < MIN_VISIBLE_FRACTION or min(bw, bh) < MIN_VISIBLE_SIDE
        anns.append(
            Annotation(
                class_id=obj.params.class_id,
                bbox=(float(bx0), float(by0), float(bw), float(bh)),
                visible_fraction=round(visible, 4),
                truncated=truncated,
                ignore=ignore,
                area=float(bw * bh),
                track_id=obj.track_id,
                object_index=idx,
            )
        )
    return anns


def _sprite_cut_by_frame(obj: PlacedObject, fw: int, fh: int) -> bool:
    """True when some opaque pixel of the sprite lies outside the frame."""
    alpha = obj.sprite.bgra[:, :, 3] >= ALPHA_OPAQUE
    inside = alpha[max(0, -obj.y0) : fh - obj.y0, max(0, -obj.x0) : fw - obj.x0]
    return int(np.count_nonzero(inside)) < obj.full_pixels


def draw_scene(
    frame: np.ndarray,
    objects: list[PlacedObject],
    occluders: list[tuple[Sprite, int, int]],
) -> np.ndarray:
    """Draw objects and occluders into `frame` back to front (by the bottom edge of their sprites).

    Returns the owner map; object i of `objects` owns the pixels marked i.
    """
    owner = new_owner_map(frame.shape[1], frame.shape[0])
    layers: list[tuple[int, int, Sprite, int, int]] = []
    for i, obj in enumerate(objects):
        layers.append((obj.y0 + obj.sprite.height, i, obj.sprite, obj.x0, obj.y0))
    for sprite, x0, y0 in occluders:
        layers.append((y0 + sprite.height, OCCLUDER, sprite, x0, y0))
    layers.sort(key=lambda item: (item[0], item[1]))
    for _, owner_id, sprite, x0, y0 in layers:
        composite(frame, owner, sprite, x0, y0, owner_id)
    return owner
