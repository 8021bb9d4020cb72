"""Both ways of getting the kernels onto a real GPU, without nvcc: the prebuilt fatbin (on an H100, sm_90, the
driver compiles its compute_87 PTX; on an Orin its sm_87 SASS runs) and NVRTC (a cubin for this GPU). Each
must give the CPU letterbox's values, and every pixel option (channel order, scale/mean/std, padding, NCHW/NHWC,
float32/float16/uint8) must follow out[c] = float32(level) * mul[c] + add[c]. Marked `gpu`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from edge_sdk.cuda.kernels import KernelMode, PixelArgs
from edge_sdk.cuda.letterbox_plan import letterbox_reference
from edge_sdk.errors import EdgeSdkError
from tests.cuda.test_gpu_preprocess import run_kernel

pytestmark = pytest.mark.gpu
MODES: tuple[KernelMode, ...] = ("prebuilt", "nvrtc")


@pytest.fixture(scope="module", params=MODES)
def backend(request: pytest.FixtureRequest) -> Iterator[Any]:
    pytest.importorskip("pycuda.driver", reason="GPU tests need an NVIDIA GPU with pycuda")
    from edge_sdk.cuda.pycuda_backend import PycudaBackend

    try:
        be = PycudaBackend(0, kernel_mode=request.param)
    except EdgeSdkError as exc:
        pytest.skip(f"no usable CUDA device: {exc.message}")
    try:
        yield be
    finally:
        be.close()


def image(h: int, w: int) -> np.ndarray:
    return np.random.default_rng().integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_each_way_loads_and_says_which(backend: Any) -> None:
    info = backend.kernel_info()
    assert backend.kernels.origin in MODES
    if backend.kernels.origin == "prebuilt" and backend.compute_capability != "8.7":
        assert "compute_87 PTX" in info  # an H100 (sm_90) runs the fatbin's PTX, compiled by the driver
    print(f"kernels: {info}")


@pytest.mark.parametrize(("h", "w"), [(1080, 1920), (480, 640), (777, 1333), (101, 200)])
def test_default_output_is_the_kernel_reference_exactly(backend: Any, h: int, w: int) -> None:
    img = image(h, w)
    got = run_kernel(backend, img, (1, 3, 640, 640), np.float32, None, (640, 640))
    expected = np.empty((1, 3, 640, 640), np.float32)
    letterbox_reference(img, expected)
    np.testing.assert_array_equal(got, expected)


def test_raw_levels_in_bgr_nhwc_uint8(backend: Any) -> None:
    img = image(720, 1280)
    raw = PixelArgs.from_affine((1, 1, 1), (0, 0, 0), 114, swap_rb=False, layout="nhwc", raw=True)
    got = run_kernel(backend, img, (1, 640, 640, 3), np.uint8, raw, (640, 640))
    reference = np.empty((1, 3, 640, 640), np.float32)
    letterbox_reference(img, reference)  # RGB planes of level * float32(1/255): the levels come back exactly
    levels = np.rint(reference[0] * 255).astype(np.uint8).transpose(1, 2, 0)[:, :, ::-1]
    np.testing.assert_array_equal(got[0], levels)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("swap_rb", [True, False])
def test_every_pixel_option_follows_the_affine_rule(backend: Any, dtype: Any, layout: str, swap_rb: bool) -> None:
    img = image(480, 640)
    mean, std, scale = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225]), 1 / 255
    mul, add = (scale / std).astype(np.float32), (-mean / std).astype(np.float32)
    px = PixelArgs.from_affine(tuple(mul), tuple(add), 0, swap_rb=swap_rb, layout=layout)  # type: ignore[arg-type]
    hw = (384, 640)
    shape = (1, 3, *hw) if layout == "nchw" else (1, *hw, 3)
    got = run_kernel(backend, img, shape, dtype, px, hw)
    raw = PixelArgs.from_affine((1, 1, 1), (0, 0, 0), 0, swap_rb=False, layout="nhwc", raw=True)
    levels = run_kernel(backend, img, (1, *hw, 3), np.uint8, raw, hw)[0]  # BGR levels, pad 0 (checked above)
    model = levels[:, :, ::-1] if swap_rb else levels
    expected = (model.astype(np.float32) * mul + add).astype(np.float32).astype(dtype)  # two roundings, as numpy
    if layout == "nchw":
        expected = expected.transpose(2, 0, 1)
    np.testing.assert_array_equal(got[0], expected)
