"""The few device operations the runner uses, behind one small interface.

`PycudaBackend` (pycuda_backend.py) is the real one, and edge-sdk's one CUDA layer (TensorRT uses it too).
Tests on machines without a GPU drive the same runner through a CPU stand-in that implements this interface
with threads (tests/cuda/standin.py); it checks the runner's bookkeeping (ordering, slot reuse, shutdown),
never CUDA itself.

Objects a backend returns (streams, events, device memory) are opaque to the runner; it hands them
back to the backend that made them. All calls come from threads where `activate()` is in effect.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    from edge_sdk.cuda.kernels import PixelArgs
    from edge_sdk.cuda.letterbox_plan import LetterboxPlan


class DeviceMemory(Protocol):
    """A device allocation: `ptr` is its address."""

    @property
    def ptr(self) -> int: ...

    @property
    def nbytes(self) -> int: ...


class Backend(Protocol):
    name: str

    def activate(self) -> contextlib.AbstractContextManager[None]:
        """Make the backend's context current in this thread for the duration of the block."""

    def is_integrated(self) -> bool:
        """True when the GPU shares physical memory with the CPU (Jetson)."""

    # memory
    def pinned(self, shape: tuple[int, ...], dtype: np.dtype[Any], *, mapped: bool) -> np.ndarray: ...

    def mapped_ptr(self, host: np.ndarray) -> int:
        """The device address of a `pinned(..., mapped=True)` array."""

    def free_pinned(self, host: np.ndarray) -> None: ...

    def device_alloc(self, nbytes: int) -> DeviceMemory: ...

    def free_device(self, mem: DeviceMemory) -> None: ...

    # streams and events
    def stream(self) -> Any: ...

    def stream_handle(self, stream: Any) -> int: ...

    def event(self, timing: bool = False) -> Any:
        """An event; `timing` ones can be measured with `elapsed_ms` (others are cheaper to record)."""

    def elapsed_ms(self, start: Any, stop: Any) -> float:
        """Milliseconds between two completed timing events."""

    def record(self, event: Any, stream: Any) -> None: ...

    def wait(self, stream: Any, event: Any) -> None:
        """Make later work on `stream` wait for `event` (on the device; the host does not block)."""

    def query(self, event: Any) -> bool: ...

    def synchronize_event(self, event: Any) -> None: ...

    def synchronize_stream(self, stream: Any) -> None: ...

    def synchronize(self) -> None:
        """Wait for all work of the context."""

    def release_stream(self, stream: Any) -> None: ...

    def release_event(self, event: Any) -> None: ...

    # work
    def htod(self, dst_ptr: int, src: np.ndarray, stream: Any) -> None: ...

    def dtoh(self, dst: np.ndarray, src_ptr: int, stream: Any) -> None: ...

    def letterbox(self, stream: Any, plan: LetterboxPlan, src_ptr: int, src_pitch: int, dst_ptr: int,
                  dst_dtype: np.dtype[Any], pixels: PixelArgs | None = None) -> None:
        """Enqueue the letterbox kernel: raw BGR uint8 at `src_ptr` -> input tensor at `dst_ptr` (Ultralytics'
        RGB 0..1 NCHW unless `pixels` says otherwise)."""

    def kernel_info(self) -> str:
        """Load the preprocess kernels now (errors raise here, not at the first frame) and say where they came from."""

    def close(self) -> None: ...
