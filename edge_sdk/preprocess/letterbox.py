"""Letterbox exactly as Ultralytics does: keep aspect, resize with INTER_LINEAR, pad with 114 centred.

The same function prepares training data, calibration frames and run-time frames, so all three
see identical pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114


@dataclass(frozen=True)
class LetterboxInfo:
    """How an original frame was placed into the model input: `input = original * scale + pad`."""

    scale: float
    pad_x: float
    pad_y: float
    orig_w: int
    orig_h: int
    new_w: int
    new_h: int

    def to_original(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Map boxes [N,4] (x1,y1,x2,y2 in input pixels) to original-frame pixels, clipped to it."""
        out = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        out[:, [0, 2]] = np.clip(out[:, [0, 2]], 0, self.orig_w)
        out[:, [1, 3]] = np.clip(out[:, [1, 3]], 0, self.orig_h)
        return out

    def to_input(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Map boxes from original-frame pixels to input pixels (the inverse of `to_original`)."""
        out = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4).copy()
        out[:, [0, 2]] = out[:, [0, 2]] * self.scale + self.pad_x
        out[:, [1, 3]] = out[:, [1, 3]] * self.scale + self.pad_y
        return out


def letterbox_params(orig_w: int, orig_h: int, size: tuple[int, int]) -> LetterboxInfo:
    """Geometry of the letterbox of an `orig_w` x `orig_h` frame into `size` = (height, width)."""
    in_h, in_w = size
    scale = min(in_h / orig_h, in_w / orig_w)
    new_w, new_h = int(round(orig_w * scale)), int(round(orig_h * scale))
    pad_x, pad_y = (in_w - new_w) / 2, (in_h - new_h) / 2
    return LetterboxInfo(scale, pad_x, pad_y, orig_w, orig_h, new_w, new_h)


def letterbox_image(bgr: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, LetterboxInfo]:
    """Letterbox a BGR uint8 HxWx3 image to `size` (height, width); returns the padded BGR image."""
    if bgr.ndim != 3 or bgr.shape[2] != 3:
        raise ValueError(f"expected a HxWx3 BGR image, got shape {bgr.shape}")
    h, w = bgr.shape[:2]
    info = letterbox_params(w, h, size)
    if (info.new_w, info.new_h) != (w, h):
        bgr = cv2.resize(bgr, (info.new_w, info.new_h), interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(info.pad_y - 0.1)), int(round(info.pad_y + 0.1))
    left, right = int(round(info.pad_x - 0.1)), int(round(info.pad_x + 0.1))
    padded = cv2.copyMakeBorder(bgr, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    # `pad_x`/`pad_y` as used for box mapping are the top-left offsets actually applied.
    info = LetterboxInfo(info.scale, float(left), float(top), w, h, info.new_w, info.new_h)
    return padded, info


def letterbox_into(bgr: np.ndarray, out: np.ndarray) -> LetterboxInfo:
    """Letterbox `bgr` into a preallocated float32 [1,3,H,W] (or [3,H,W]) buffer: RGB, 0..1, NCHW.

    The buffer is overwritten; use this to fill pinned or reused input buffers without allocating.
    """
    chw = out[0] if out.ndim == 4 else out
    size = (chw.shape[1], chw.shape[2])
    padded, info = letterbox_image(bgr, size)
    # BGR->RGB and HWC->CHW in one strided copy, scaling to 0..1.
    np.multiply(padded[:, :, ::-1].transpose(2, 0, 1), np.float32(1.0 / 255.0), out=chw, casting="unsafe")
    return info


def letterbox(bgr: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, LetterboxInfo]:
    """Letterbox a BGR uint8 frame to `size` = (height, width): float32 [1,3,H,W] RGB 0..1 and its info."""
    out = np.empty((1, 3, size[0], size[1]), dtype=np.float32)
    info = letterbox_into(bgr, out)
    return out, info
