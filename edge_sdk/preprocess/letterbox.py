"""Letterbox exactly as Ultralytics does: keep aspect, resize with INTER_LINEAR, pad with 114 centred, RGB, 0..1,
NCHW float32. The demo's preprocessing, and the default `PreprocessSpec`; other models' preprocessing is the
same code with another spec (`edge_sdk.preprocess.apply.preprocess_into`).

The same function prepares training data, calibration frames and run-time frames, so all three
see identical pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge_sdk.preprocess.apply import preprocess_into, resize_for
from edge_sdk.preprocess.geometry import PAD_VALUE, LetterboxInfo, letterbox_params
from edge_sdk.preprocess.spec import PreprocessSpec, ultralytics_spec

__all__ = ["PAD_VALUE", "LetterboxInfo", "letterbox", "letterbox_image", "letterbox_into", "letterbox_params"]


def letterbox_image(bgr: np.ndarray, size: tuple[int, int], spec: PreprocessSpec | None = None
                    ) -> tuple[np.ndarray, LetterboxInfo]:
    """Letterbox a BGR uint8 HxWx3 image to `size` (height, width); returns the padded BGR uint8 image (the
    geometry and pad value of `spec`, Ultralytics' by default)."""
    spec = spec or ultralytics_spec(size)
    resized, info = resize_for(bgr, spec)
    top, left = int(info.pad_y), int(info.pad_x)
    bottom, right = size[0] - info.new_h - top, size[1] - info.new_w - left
    padded = cv2.copyMakeBorder(resized, top, bottom, left, right, cv2.BORDER_CONSTANT,
                                value=(spec.pad_value,) * 3)
    return padded, info


def letterbox_into(bgr: np.ndarray, out: np.ndarray, previous: LetterboxInfo | None = None) -> LetterboxInfo:
    """Letterbox `bgr` into a preallocated float32 [1,3,H,W] (or [3,H,W]) buffer: RGB, 0..1, NCHW.

    The buffer is overwritten; `previous` as in `preprocess_into` (the border is kept when the geometry is)."""
    chw = out[0] if out.ndim == 4 else out
    return preprocess_into(bgr, chw, ultralytics_spec((int(chw.shape[1]), int(chw.shape[2]))), previous)


def letterbox(bgr: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, LetterboxInfo]:
    """Letterbox a BGR uint8 frame to `size` = (height, width): float32 [1,3,H,W] RGB 0..1 and its info."""
    out = np.empty((1, 3, size[0], size[1]), dtype=np.float32)
    info = letterbox_into(bgr, out)
    return out, info
