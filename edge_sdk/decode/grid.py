"""Anchor grids of dense detection heads: how many anchors each stride gives at an input size, and their
centre points. Feature maps round up (`ceil(H / stride)`), as strided convolutions with padding do."""

from __future__ import annotations

import functools
import math

import numpy as np

#: Stride sets detection heads use, most common first: P3-P5, P3-P6 (YOLO "-p6", PicoDet), P2-P5 (YOLO "-p2"),
#: and single-level heads.
STRIDE_SETS: tuple[tuple[int, ...], ...] = ((8, 16, 32), (8, 16, 32, 64), (4, 8, 16, 32), (16, 32, 64), (8, 16),
                                            (4,), (8,), (16,), (32,))
ALL_STRIDES = (4, 8, 16, 32, 64, 128)


def cells(size: tuple[int, int], stride: int) -> int:
    h, w = size
    return math.ceil(h / stride) * math.ceil(w / stride)


def anchor_free_counts(size: tuple[int, int], strides: tuple[int, ...] = ()) -> dict[int, tuple[int, ...]]:
    """Anchor count N -> the stride set giving it, for one anchor per cell."""
    sets = (strides,) if strides else STRIDE_SETS
    return {sum(cells(size, s) for s in group): group for group in sets}


def level_strides(size: tuple[int, int]) -> dict[int, int]:
    """Anchor count of one level -> its stride."""
    return {cells(size, s): s for s in ALL_STRIDES}


@functools.lru_cache(maxsize=32)
def grid_points(size: tuple[int, int], strides: tuple[int, ...], offset: float) -> tuple[np.ndarray, np.ndarray]:
    """(xy [N, 2] in grid units + offset, stride per point [N]) over the levels in order, row-major."""
    xy, per = [], []
    for s in strides:
        hs, ws = math.ceil(size[0] / s), math.ceil(size[1] / s)
        xv, yv = np.meshgrid(np.arange(ws, dtype=np.float32), np.arange(hs, dtype=np.float32))
        xy.append(np.stack([xv.ravel(), yv.ravel()], axis=1) + np.float32(offset))
        per.append(np.full(hs * ws, s, np.float32))
    return np.concatenate(xy), np.concatenate(per)
