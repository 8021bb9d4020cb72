"""Host side of the GPU letterbox: the geometry and OpenCV's fixed-point bilinear coefficients, per frame size.

`cv2.resize(..., INTER_LINEAR)` on 8-bit images uses the half-pixel convention
(`src = (dst + 0.5) * src_size / dst_size - 0.5`, clamped to the image) with 11-bit fixed-point weights:
a horizontal pass `S[x0]*a0 + S[x1]*a1`, then a vertical pass that its SIMD code computes as
`(((h0 >> 4) * b0 >> 16) + ((h1 >> 4) * b1 >> 16) + 2) >> 2`. The tables here hold exactly OpenCV's
offsets and weights, and the CUDA kernel (`kernels.py`) does exactly that integer arithmetic, so it
reproduces `edge_sdk.preprocess.letterbox` bit for bit on almost every pixel; OpenCV's scalar tail
(the last few pixels of a row that do not fill a SIMD vector) rounds differently by at most one level,
which is 1/255 in the 0..1 tensor.

`letterbox_reference` is the same arithmetic in numpy for any `PreprocessSpec` (stretch or letterbox, either
alignment, pad value, channel order, scale/mean/std, NCHW or NHWC, float32/float16/uint8): the CPU stand-in of
the kernel in tests, and what a kernel honouring every option must match (the CPU reference of the spec itself is
`edge_sdk.preprocess.apply.preprocess_into`; the two differ only where OpenCV's scalar tail rounds differently).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge_sdk.preprocess.geometry import LetterboxInfo
from edge_sdk.preprocess.spec import PreprocessSpec, ultralytics_spec

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


def make_plan(src_h: int, src_w: int, dst_hw: tuple[int, int], spec: PreprocessSpec | None = None) -> LetterboxPlan:
    """The plan for placing a `src_w` x `src_h` frame into `dst_hw` = (height, width) as `spec` says (its
    geometry: letterbox or stretch, alignment; Ultralytics' centred letterbox by default)."""
    if src_h < 1 or src_w < 1:
        raise ValueError(f"frame size {src_w}x{src_h} is empty")
    spec = spec or ultralytics_spec(dst_hw)
    if spec.size != dst_hw:
        raise ValueError(f"the spec's size {spec.size} differs from the input {dst_hw}")
    dst_h, dst_w = dst_hw
    info = spec.placement(src_w, src_h)  # the same geometry as the CPU reference
    left, top = int(info.pad_x), int(info.pad_y)
    return LetterboxPlan(src_h, src_w, dst_h, dst_w, left, top, info,
                         _axis_table(src_w, info.new_w), _axis_table(src_h, info.new_h))


def letterbox_reference(bgr: np.ndarray, out: np.ndarray, plan: LetterboxPlan | None = None,
                        spec: PreprocessSpec | None = None) -> LetterboxInfo:
    """The kernel's arithmetic in numpy: BGR uint8 HxWx3 into slot 0 of `out` as `spec` says (Ultralytics'
    letterbox into float32/float16 NCHW by default)."""
    dst = out[0] if out.ndim == 4 else out
    nhwc = spec is not None and spec.layout == "nhwc"
    dst_h, dst_w = (int(dst.shape[0]), int(dst.shape[1])) if nhwc else (int(dst.shape[1]), int(dst.shape[2]))
    spec = spec or ultralytics_spec((dst_h, dst_w))
    h, w = int(bgr.shape[0]), int(bgr.shape[1])
    plan = plan or make_plan(h, w, (dst_h, dst_w), spec)
    sx, a0, a1 = (plan.xtab[:, i].astype(np.int64) for i in range(3))
    sy, b0, b1 = (plan.ytab[:, i].astype(np.int64) for i in range(3))
    sx1, sy1 = np.minimum(sx + 1, w - 1), np.minimum(sy + 1, h - 1)
    img = bgr.astype(np.int64)
    a0, a1 = a0[None, :, None], a1[None, :, None]
    h0 = img[sy][:, sx] * a0 + img[sy][:, sx1] * a1
    h1 = img[sy1][:, sx] * a0 + img[sy1][:, sx1] * a1
    v = (((h0 >> 4) * b0[:, None, None] >> 16) + ((h1 >> 4) * b1[:, None, None] >> 16) + 2) >> 2
    resized = np.clip(v, 0, 255).astype(np.uint8)
    padded = np.full((dst_h, dst_w, 3), spec.pad_value, np.uint8)
    padded[plan.top:plan.top + plan.new_h, plan.left:plan.left + plan.new_w] = resized
    pixels = padded[:, :, [spec.source_channel(c) for c in range(3)]]  # model channel order, HWC
    if spec.dtype == "uint8":
        values = pixels
    else:
        a, b = spec.channel_affine()
        values = pixels.astype(np.float32) * a + b if np.any(b) else pixels * a
    dst[...] = values if nhwc else values.transpose(2, 0, 1)
    return plan.info


def kernel_supports(spec: PreprocessSpec) -> str:
    """'' when the CUDA kernel (letterbox.cu, through `kernels.PixelArgs.from_spec`) computes `spec` exactly, else
    what it lacks. It does every option of one image: any geometry (it follows the plan), pad value, channel
    order, scale/mean/std (rounded as numpy rounds), NCHW or NHWC, float32/float16/uint8; not batches (one
    image per slot)."""
    return f"batch {spec.batch}" if spec.batch != 1 else ""
