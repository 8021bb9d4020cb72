"""A reader that picks its real reader (a backend) when first opened and forwards to it."""

from __future__ import annotations

import numpy as np

from edge_sdk.frame import CaptureStatus
from edge_sdk.sources.base import Reader


class DelegatingReader(Reader):
    """Subclasses build the backend in `_make_inner`; opening, grabbing (with `error`) and closing forward to it."""

    _inner: Reader | None = None

    def _make_inner(self) -> Reader:
        raise NotImplementedError

    def open(self) -> None:
        if self._inner is None:
            self._inner = self._make_inner()
        self._inner.open()

    def grab(self) -> tuple[CaptureStatus, np.ndarray | None, float | None]:
        if self._inner is None:
            self.error = "not open"
            return CaptureStatus.ERROR, None, None
        result = self._inner.grab()
        self.error = self._inner.error
        return result

    def close(self) -> None:
        if self._inner is not None:
            self._inner.close()
