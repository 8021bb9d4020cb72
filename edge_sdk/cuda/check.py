"""pycuda, imported lazily, and every CUDA failure turned into one `EngineError` that says what failed where.

pycuda checks the result of every driver call it makes and raises `pycuda.driver.Error` (LogicError,
LaunchError, MemoryError, ...) when one fails; asynchronous failures of kernels and copies surface at the
next synchronization. `cuda_call(what, where)` wraps each call site so that the message names the call
and the slot, and the fix says what to check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from edge_sdk.errors import EngineError
from edge_sdk.lazy import lazy_import


def import_pycuda(needed_for: str = "the CUDA-stream runner and TensorRT engines") -> Any:
    """`pycuda.driver`, or `DependencyMissing` with how to install it."""
    return lazy_import("pycuda.driver", needed_for=needed_for)


@contextlib.contextmanager
def cuda_call(what: str, where: str = "cuda") -> Iterator[None]:
    """Translate a pycuda error raised inside the block into `EngineError` (chained to the original)."""
    try:
        yield
    except EngineError:
        raise
    except Exception as exc:
        if type(exc).__module__.split(".")[0] != "pycuda":
            raise
        raise EngineError(f"CUDA {what} failed: {type(exc).__name__}: {str(exc).strip()[:300]}", where=where,
                          fix="check the GPU with nvidia-smi (or tegrastats on a Jetson) and the kernel log (dmesg); "
                              "an out-of-memory error needs fewer slots or a smaller model") from exc
