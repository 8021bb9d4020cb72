"""Types shared by the scene generator: classes, object parameters, sprites and annotations."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The object classes, in model class-index order. COCO category ids are index + 1.
CLASS_NAMES: tuple[str, ...] = ("person", "car", "bicycle", "sign", "parcel", "dog")

#: Generator version; bump when the same seed would draw different pixels.
GENERATOR_VERSION = "1.0"

#: An object less visible than this (fraction of its own pixels) is annotated as "ignore"
#: (COCO `iscrowd=1`): it is drawn, but neither a miss nor a hit on it counts.
MIN_VISIBLE_FRACTION = 0.25
#: Likewise for an object whose visible box is narrower or shorter than this (pixels).
MIN_VISIBLE_SIDE = 4

Color = tuple[int, int, int]


@dataclass(frozen=True)
class ObjectParams:
    """Everything needed to draw one object; `phase` (animation, 0..1) is given per frame."""

    class_id: int
    width: float  # nominal box before rotation, pixels of the frame
    height: float
    angle: float  # degrees, counter-clockwise
    flip: bool  # mirrored left-right
    style: int  # class-specific variant
    colors: tuple[Color, ...]  # class-specific palette
    extra: tuple[float, ...] = ()  # class-specific shape parameters in 0..1


@dataclass
class Sprite:
    """A drawn object: premultiplied BGR plus alpha (uint8 HxWx4), centred on its anchor."""

    bgra: np.ndarray

    @property
    def height(self) -> int:
        return int(self.bgra.shape[0])

    @property
    def width(self) -> int:
        return int(self.bgra.shape[1])


@dataclass(frozen=True)
class Annotation:
    """Ground truth of one object in one frame; `bbox` is COCO x, y, w, h in frame pixels.

    The box is the tight box of the object's visible pixels (alpha >= 128, not hidden by anything
    drawn in front of it, inside the frame), so truncated objects are clipped to the frame.
    """

    class_id: int
    bbox: tuple[float, float, float, float]
    visible_fraction: float
    truncated: bool
    ignore: bool
    area: float
    track_id: int = -1  # video: the object's id across frames
    object_index: int = -1  # index of the object among those placed in this frame (owner-map id)

    @property
    def category_id(self) -> int:
        return self.class_id + 1

    @property
    def xyxy(self) -> tuple[float, float, float, float]:
        x, y, w, h = self.bbox
        return (x, y, x + w, y + h)


@dataclass
class PlacedObject:
    """An object drawn at integer top-left `(x0, y0)` of its sprite, with its full alpha pixel count."""

    params: ObjectParams
    sprite: Sprite
    x0: int
    y0: int
    full_pixels: int
    track_id: int = -1
