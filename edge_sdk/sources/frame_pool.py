"""Frame buffers a capture reuses: OpenCV decodes into a buffer nothing else holds any more, not a new array.

    pool = FramePool()
    image = pool.read(cap)          # cap.read(a free buffer of the stream's size); None when no frame came

A new array per frame costs the capture thread more than the copy into it: the kernel hands fresh pages to the
first touch (measured on this repository's 640x480 sample, AMD EPYC: colour conversion + copy into a new array
124-244 us, into a reused one 87-129 us; 1920x1080: 1.2-1.8 ms against 0.8-1.1 ms). A buffer is free again when
nothing but the pool refers to it: every `Frame`, queue, batch, snapshot or view (a crop's `base` is the buffer)
holding it counts in CPython's reference count, so a frame still in use is never written over; the pool then
takes another (up to `limit`, beyond which OpenCV allocates as before). Buffers own their memory (a view's `base`
would be another array, invisible to the count). Used from the capture thread only.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def _refs_when_free() -> int:
    """What `sys.getrefcount` reads for a buffer only the pool's list holds, looked at as `_free` looks at it (a
    loop over the list): 3 on CPython 3.10-3.13 (the list, the loop variable, the argument); measured rather than
    assumed, since other interpreter versions count borrowed references differently, and a baseline above the real
    one would write over a frame still in use."""
    held, count = [np.empty(1)], 0
    for buf in held:
        count = sys.getrefcount(buf)
    return count


#: References to a free buffer while `_free` looks at it.
_FREE_REFS = _refs_when_free()


class FramePool:
    def __init__(self, limit: int = 32) -> None:
        self.limit = limit
        self._buffers: list[np.ndarray] = []
        self.allocated = 0  # buffers made by the pool or adopted from OpenCV (for tests and stats)

    def read(self, cap: Any) -> np.ndarray | None:
        """`cap.read()` into a free buffer of the last frame's shape; the frame, or None when the read failed."""
        buf = self._free()
        ok, got = cap.read(buf) if buf is not None else cap.read()
        if not ok or got is None:
            return None
        image: np.ndarray = got
        if image is not buf:  # the first frame, a new size, or every buffer in use: OpenCV allocated it
            self._adopt(image)
        return image

    def _free(self) -> np.ndarray | None:
        for buf in self._buffers:
            if sys.getrefcount(buf) <= _FREE_REFS:
                return buf
        if self._buffers and len(self._buffers) < self.limit:
            buf = np.empty_like(self._buffers[0])
            self._buffers.append(buf)
            self.allocated += 1
            return buf
        return None

    def _adopt(self, image: np.ndarray) -> None:
        if image.base is not None or not image.flags.c_contiguous:
            return  # not an array that owns its memory: leave it to the caller
        if self._buffers and self._buffers[0].shape != image.shape:
            self._buffers.clear()  # the stream changed size: the old buffers go when their frames do
        if len(self._buffers) < self.limit:
            self._buffers.append(image)
            self.allocated += 1
