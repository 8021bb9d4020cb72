"""Which CUDA this process would use, without pycuda and without starting CUDA: the driver's CUDA version
(libcuda) and the CUDA runtime's (libcudart), read through ctypes. Each returns None where the library is absent.

    driver_version()    "13.0"  the newest CUDA the installed driver runs (cuDriverGetVersion; no cuInit needed)
    runtime_version()   "12.6"  the CUDA runtime a TensorRT or ONNX Runtime here loads (cudaRuntimeGetVersion)
    toolkit_version()   "12.6.68" /usr/local/cuda/version.json, where a toolkit is installed

A runtime newer than the driver cannot start ("CUDA driver version is insufficient for CUDA runtime version"):
that is what a container with another JetPack's CUDA or TensorRT than the host's driver runs into (doctor checks it).
On Jetson the driver comes from the host's L4T (the NVIDIA container runtime mounts it into containers).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import glob
import json
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger(__name__)

# Where a CUDA runtime lives when it is not on the loader path: the toolkit (x86 and Jetson), pip's nvidia packages.
_RUNTIME_GLOBS = ("/usr/local/cuda/lib64/libcudart.so*", "/usr/local/cuda/targets/*/lib/libcudart.so*",
                  "/usr/local/cuda-*/targets/*/lib/libcudart.so*")


def _encoded(version: int) -> str:
    """CUDA's integer encoding (12060) as "12.6"."""
    return f"{version // 1000}.{version % 1000 // 10}"


def _call_version(library: str, function: str) -> int | None:
    try:
        lib = ctypes.CDLL(library)
        fn = getattr(lib, function)
    except (OSError, AttributeError) as exc:
        log.debug("%s: %s unavailable: %s", library, function, exc)
        return None
    value = ctypes.c_int(0)
    if fn(ctypes.byref(value)) != 0 or value.value <= 0:
        return None
    return int(value.value)


def driver_version() -> str | None:
    """The CUDA version the installed NVIDIA driver supports, e.g. "13.0"; None without a driver."""
    name = ctypes.util.find_library("cuda") or "libcuda.so.1"
    version = _call_version(name, "cuDriverGetVersion")
    return _encoded(version) if version else None


def runtime_libraries() -> list[str]:
    """Candidate libcudart files: the loader's, the toolkit's, pip's nvidia-cuda-runtime packages'."""
    found = [name for name in (ctypes.util.find_library("cudart"),) if name]
    for pattern in _RUNTIME_GLOBS:
        found += sorted(glob.glob(pattern))
    for site in sys.path:
        found += sorted(glob.glob(os.path.join(site, "nvidia", "cuda_runtime", "lib", "libcudart.so*")))
        found += sorted(glob.glob(os.path.join(site, "nvidia", "cu*", "lib", "libcudart.so*")))
    return list(dict.fromkeys(found))


def runtime_version() -> str | None:
    """The CUDA runtime's version, e.g. "12.6" (the first loadable libcudart); None where there is none."""
    for library in runtime_libraries():
        version = _call_version(library, "cudaRuntimeGetVersion")
        if version:
            return _encoded(version)
    return None


def toolkit_version(root: Path = Path("/")) -> str | None:
    """The CUDA toolkit's version from /usr/local/cuda/version.json (JetPack, CUDA >= 11), e.g. "12.6.68"."""
    try:
        data = json.loads((root / "usr/local/cuda/version.json").read_text())
        return str(data["cuda"]["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
