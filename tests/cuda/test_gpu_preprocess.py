"""The letterbox kernel on a real GPU against the CPU preprocess (edge_sdk.preprocess.letterbox)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edge_sdk.cuda.kernels import PixelArgs
from edge_sdk.cuda.letterbox_plan import make_plan
from edge_sdk.preprocess import letterbox
from edge_sdk.preprocess.spec import PreprocessSpec

pytestmark = pytest.mark.gpu

SIZES = [(1080, 1920), (720, 1280), (480, 640), (640, 640), (777, 1333), (300, 400), (101, 200), (2000, 500)]


def run_kernel(backend: Any, img: np.ndarray, shape: tuple[int, ...], dtype: Any, pixels: PixelArgs | None = None,
               dst_hw: tuple[int, int] = (640, 640), spec: PreprocessSpec | None = None) -> np.ndarray:
    """One letterbox of `img` into a fresh input tensor of `shape` on the GPU, poisoned first (NaN, or 77 for
    uint8) so that an element the kernel leaves unwritten shows."""
    h, w = img.shape[:2]
    with backend.activate():
        stream = backend.stream()
        raw = backend.device_alloc(img.nbytes)
        out = backend.device_alloc(int(np.prod(shape)) * np.dtype(dtype).itemsize)
        host_raw = backend.pinned((img.nbytes,), np.dtype(np.uint8), mapped=False)
        host_out = backend.pinned(shape, np.dtype(dtype), mapped=False)
        try:
            host_raw[:] = img.reshape(-1)
            host_out.fill(77 if np.dtype(dtype) == np.uint8 else np.nan)
            backend.htod(out.ptr, host_out, stream)
            backend.htod(raw.ptr, host_raw, stream)
            backend.letterbox(stream, make_plan(h, w, dst_hw, spec), raw.ptr, w * 3, out.ptr, np.dtype(dtype), pixels)
            backend.dtoh(host_out, out.ptr, stream)
            backend.synchronize_stream(stream)
            return np.array(host_out, copy=True)
        finally:
            for mem in (raw, out):
                backend.free_device(mem)
            for host in (host_raw, host_out):
                backend.free_pinned(host)


@pytest.mark.parametrize(("h", "w"), SIZES)
def test_kernel_equals_the_cpu_letterbox_within_one_level(cuda_backend: Any, h: int, w: int) -> None:
    img = np.random.default_rng().integers(0, 256, (h, w, 3), dtype=np.uint8)  # fresh data every run
    expected, _ = letterbox(img, (640, 640))
    got = run_kernel(cuda_backend, img, (1, 3, 640, 640), np.float32)
    assert not np.isnan(got).any(), "the kernel left elements unwritten"
    diff = np.abs(got - expected)
    assert diff.max() <= 1 / 255 + 1e-6
    assert (diff > 0).mean() < 0.002


def test_kernel_writes_float16_inputs(cuda_backend: Any) -> None:
    img = np.random.default_rng().integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    expected, _ = letterbox(img, (640, 640))
    got = run_kernel(cuda_backend, img, (1, 3, 640, 640), np.float16)
    assert got.dtype == np.float16 and not np.isnan(got).any()
    np.testing.assert_array_equal(got, expected.astype(np.float16))  # 1080p -> 640x360 is bit-exact on the CPU too


def test_non_square_input(cuda_backend: Any) -> None:
    img = np.random.default_rng().integers(0, 256, (480, 640, 3), dtype=np.uint8)
    expected, _ = letterbox(img, (384, 640))
    got = run_kernel(cuda_backend, img, (1, 3, 384, 640), np.float32, None, (384, 640))
    assert np.abs(got - expected).max() <= 1 / 255 + 1e-6
