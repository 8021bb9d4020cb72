"""pycuda, imported lazily, and every CUDA failure turned into one `EngineError` that says what failed where.

pycuda checks the result of every driver call it makes and raises `pycuda.driver.Error` (LogicError,
LaunchError, MemoryError, ...) when one fails; asynchronous failures of kernels and copies surface at the
next synchronization. `cuda_call(what, where)` wraps each call site so that the message names the call
and the slot, and the fix says what to check.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from edge_sdk.errors import EngineError
from edge_sdk.lazy import lazy_import

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class GpuQuery:
    """What pycuda says about a GPU, without retaining a context. `available` False: `detail` says why."""

    available: bool
    detail: str
    name: str | None = None
    compute_capability: str | None = None  # "8.7"
    integrated: bool | None = None  # shares memory with the CPU (Jetson)
    driver_cuda: str | None = None  # "12.6": the CUDA version the driver supports


def query_gpu(device_id: int = 0) -> GpuQuery:
    """Name, compute capability and kind of one GPU through pycuda; never raises (doctor, facts, selftest)."""
    try:
        import pycuda.driver as cuda
    except ImportError as exc:
        return GpuQuery(False, f"pycuda is not importable: {exc}")
    try:
        cuda.init()
        dev = cuda.Device(device_id)
        major, minor = dev.compute_capability()
        integrated = bool(dev.get_attribute(cuda.device_attribute.INTEGRATED))
        version = int(cuda.get_driver_version())
        name = str(dev.name())
    except Exception as exc:  # pycuda.driver.Error: no driver, no device, no permission
        log.debug("cannot query CUDA device %d: %s", device_id, exc)
        return GpuQuery(False, f"pycuda imports, but CUDA does not start: {exc}")
    cc = f"{int(major)}.{int(minor)}"
    return GpuQuery(True, f"{name} (compute capability {cc}{', integrated' if integrated else ''})", name, cc,
                    integrated, f"{version // 1000}.{version % 1000 // 10}")
