"""GPU fixtures. Tests that use them are marked `gpu` and skip, saying why, where there is no pycuda, no
CUDA device or no onnxruntime-gpu (as in CI)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from edge_sdk.errors import EdgeSdkError


@pytest.fixture(scope="session")
def cuda_backend() -> Iterator[Any]:
    try:
        import pycuda.driver  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"pycuda is not installed ({exc}): GPU tests need an NVIDIA GPU with pycuda")
    from edge_sdk.cuda.pycuda_backend import PycudaBackend

    try:
        backend = PycudaBackend(0)
    except EdgeSdkError as exc:
        pytest.skip(f"no usable CUDA device: {exc.message}")
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def ort_cuda(cuda_backend: Any) -> Any:
    ort = pytest.importorskip("onnxruntime")
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip(f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (install onnxruntime-gpu)")
    return ort
