"""Where a frame lands in the model input (`LetterboxInfo`), and how boxes map back to the frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PAD_VALUE = 114  # Ultralytics' grey


@dataclass(frozen=True)
class LetterboxInfo:
    """How an original frame was placed into the model input: `input_x = original_x * scale + pad_x` and
    `input_y = original_y * scale_y + pad_y`. A letterbox keeps the aspect ratio (`scale_y` is None: the same
    as `scale`); a stretch resize scales each axis on its own."""

    scale: float
    pad_x: float
    pad_y: float
    orig_w: int
    orig_h: int
    new_w: int
    new_h: int
    scale_y: float | None = None

    @property
    def scale_x(self) -> float:
        return self.scale

    @property
    def sy(self) -> float:
        return self.scale if self.scale_y is None else self.scale_y

    def to_original(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Map boxes [N,4] (x1,y1,x2,y2 in input pixels) to original-frame pixels, clipped to it."""
        out = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4).copy()
        xs, ys = out[:, 0::2], out[:, 1::2]  # views: in place, no fancy-index copies (once per frame, per result)
        xs -= self.pad_x
        xs /= self.scale
        ys -= self.pad_y
        ys /= self.sy
        np.clip(xs, 0, self.orig_w, out=xs)
        np.clip(ys, 0, self.orig_h, out=ys)
        return out

    def to_input(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Map boxes from original-frame pixels to input pixels (the inverse of `to_original`)."""
        out = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4).copy()
        out[:, [0, 2]] = out[:, [0, 2]] * self.scale + self.pad_x
        out[:, [1, 3]] = out[:, [1, 3]] * self.sy + self.pad_y
        return out

    def points_to_original(self, xy: np.ndarray) -> np.ndarray:
        """Map points [..., 2] (x, y in input pixels, e.g. landmarks) to original-frame pixels (not clipped)."""
        out = np.asarray(xy, dtype=np.float32).copy()
        out[..., 0] = (out[..., 0] - self.pad_x) / self.scale
        out[..., 1] = (out[..., 1] - self.pad_y) / self.sy
        return out


def letterbox_params(orig_w: int, orig_h: int, size: tuple[int, int]) -> LetterboxInfo:
    """Geometry of the letterbox of an `orig_w` x `orig_h` frame into `size` = (height, width), with the
    margins as fractions (the centred offsets before rounding to whole pixels)."""
    in_h, in_w = size
    scale = min(in_h / orig_h, in_w / orig_w)
    new_w, new_h = int(round(orig_w * scale)), int(round(orig_h * scale))
    pad_x, pad_y = (in_w - new_w) / 2, (in_h - new_h) / 2
    return LetterboxInfo(scale, pad_x, pad_y, orig_w, orig_h, new_w, new_h)
