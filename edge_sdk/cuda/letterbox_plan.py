"""Host side of the GPU letterbox: the geometry and OpenCV's fixed-point bilinear coefficients, per frame size.

`cv2.resize(..., INTER_LINEAR)` on 8-bit images uses the half-pixel convention
(`src = (dst + 0.5) * src_size / dst_size - 0.5`, clamped to the image) with 11-bit fixed-point weights:
a horizontal pass `S[x0]*a0 + S[x1]*a1`, then a vertical pass that its SIMD code computes as
`(((h0 >> 4) * b0 >> 16) + ((h1 >> 4) * b1 >> 16) + 2) >> 2`. The tables here hold exactly OpenCV's
offsets and weights, and the CUDA kernel (`kernels.py`) does exactly that integer arithmetic, so it
reproduces `edge_sdk.preprocess.letterbox` bit for bit on almost every pixel; OpenCV's scalar tail
(the last few pixels of a row that do not fill a SIMD vector) rounds differently by at most one level,
which is 1/255 in the 0..1 tensor.

`letterbox_reference` is the same arithmetic in numpy: the CPU stand-in of the kernel in tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_sdk.preprocess.letterbox import PAD_VALUE, LetterboxInfo, letterbox_params

COEF_BITS = 11
COEF_SCALE = 1 << COEF_BITS


@dataclass(frozen=True)
class LetterboxPlan:
    """Where a `src_w` x `src_h` frame lands in the `dst_w` x `dst_h` input, and the resize tables.

    `xtab` [new_w, 3] and `ytab` [new_h, 3] hold (source index, weight of it, weight of the next) as int32.
    """

    src_h: int
    src_w: int
    dst_h: int
    dst_w: int
    left: int
    top: int
    info: LetterboxInfo
    xtab: np.ndarray
    ytab: np.ndarray

    @property
    def new_w(self) -> int:
        return self.info.new_w

    @property
    def new_h(self) -> int:
        return self.info.new_h


def _axis_table(src: int, dst: int) -> np.ndarray:
    """OpenCV's per-destination source index and fixed-point weights along one axis."""
    scale = src / dst  # double, as in cv::resize
    pos = ((np.arange(dst, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    idx = np.floor(pos).astype(np.int64)
    frac = (pos - idx.astype(np.float32)).astype(np.float32)
    low = idx < 0
    frac[low], idx[low] = 0.0, 0
    high = idx >= src - 1
    frac[high], idx[high] = 0.0, src - 1
    w1 = np.rint(frac * np.float32(COEF_SCALE)).astype(np.int64)
    w0 = np.rint((np.float32(1.0) - frac) * np.float32(COEF_SCALE)).astype(np.int64)
    return np.stack([idx, w0, w1], axis=1).astype(np.int32)


def make_plan(src_h: int, src_w: int, dst_hw: tuple[int, int]) -> LetterboxPlan:
    """The plan for letterboxing a `src_w` x `src_h` frame into `dst_hw` = (height, width)."""
    if src_h < 1 or src_w < 1:
        raise ValueError(f"frame size {src_w}x{src_h} is empty")
    dst_h, dst_w = dst_hw
    geo = letterbox_params(src_w, src_h, dst_hw)
    # The same split of the padding as edge_sdk.preprocess.letterbox_image.
    top, left = int(round(geo.pad_y - 0.1)), int(round(geo.pad_x - 0.1))
    info = LetterboxInfo(geo.scale, float(left), float(top), src_w, src_h, geo.new_w, geo.new_h)
    return LetterboxPlan(src_h, src_w, dst_h, dst_w, left, top, info,
                         _axis_table(src_w, geo.new_w), _axis_table(src_h, geo.new_h))


def letterbox_reference(bgr: np.ndarray, out: np.ndarray, plan: LetterboxPlan | None = None) -> LetterboxInfo:
    """The kernel's arithmetic in numpy: letterbox BGR uint8 HxWx3 into `out` [1,3,H,W] (float32/float16)."""
    chw = out[0] if out.ndim == 4 else out
    dst_h, dst_w = int(chw.shape[1]), int(chw.shape[2])
    h, w = int(bgr.shape[0]), int(bgr.shape[1])
    plan = plan or make_plan(h, w, (dst_h, dst_w))
    sx, a0, a1 = (plan.xtab[:, i].astype(np.int64) for i in range(3))
    sy, b0, b1 = (plan.ytab[:, i].astype(np.int64) for i in range(3))
    sx1, sy1 = np.minimum(sx + 1, w - 1), np.minimum(sy + 1, h - 1)
    img = bgr.astype(np.int64)
    a0, a1 = a0[None, :, None], a1[None, :, None]
    h0 = img[sy][:, sx] * a0 + img[sy][:, sx1] * a1
    h1 = img[sy1][:, sx] * a0 + img[sy1][:, sx1] * a1
    v = (((h0 >> 4) * b0[:, None, None] >> 16) + ((h1 >> 4) * b1[:, None, None] >> 16) + 2) >> 2
    resized = np.clip(v, 0, 255).astype(np.uint8)
    padded = np.full((dst_h, dst_w, 3), PAD_VALUE, np.uint8)
    padded[plan.top:plan.top + plan.new_h, plan.left:plan.left + plan.new_w] = resized
    np.multiply(padded[:, :, ::-1].transpose(2, 0, 1), np.float32(1.0 / 255.0), out=chw, casting="unsafe")
    return plan.info
