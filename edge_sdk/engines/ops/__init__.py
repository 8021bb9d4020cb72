"""Native ONNX Runtime ops of edge-sdk, built by setup.py from C sources in this folder (optional: an install
without a C compiler goes on without them, and the rewrites that need one say so and are skipped).

byte_lookup.c: edge_sdk.ByteLookup, y = table[x] over UINT8 bytes (used by qdq-silu-lookup for the INT8 SiLU).
"""

from __future__ import annotations

import functools
from pathlib import Path

DOMAIN = "edge_sdk"
_HERE = Path(__file__).resolve().parent


@functools.cache
def byte_lookup_library() -> Path | None:
    """The built shared library of edge_sdk.ByteLookup, or None when this install has none."""
    return next(iter(sorted(_HERE.glob("_byte_lookup*.so"))), None)


def byte_lookup_path() -> str | None:
    """Which code path the built op runs on this CPU ("avx512vbmi" or "scalar"), or None when it is not built."""
    import ctypes

    library = byte_lookup_library()
    if library is None:
        return None
    lib = ctypes.CDLL(str(library))
    lib.edge_sdk_byte_lookup_path.restype = ctypes.c_char_p
    return str(lib.edge_sdk_byte_lookup_path().decode())


def missing_reason() -> str:
    return (f"edge-sdk's native op library is not built in {_HERE} (the install had no C compiler): "
            "install gcc and reinstall edge-sdk (pip install --force-reinstall --no-deps edge-sdk, "
            "or pip install -e . in a checkout)")
