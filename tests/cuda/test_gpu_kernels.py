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


SPECS: list[dict[str, Any]] = [
    dict(),  # Ultralytics: letterbox centred, pad 114, RGB, 1/255, NCHW float32
    dict(resize="stretch", channel_order="bgr", dtype="float16"),
    dict(align="top-left", pad_value=0, scale=1.0, layout="nhwc", dtype="uint8"),  # raw pixels, YOLOX-style
    dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), pad_value=127),  # ImageNet normalisation
    dict(scale=1.0, mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375), channel_order="bgr",
         layout="nhwc", align="top-left"),  # mmdetection's, in NHWC
]


@pytest.mark.parametrize("fields", SPECS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "ultralytics")
def test_every_spec_option_against_the_cpu_reference(backend: Any, fields: dict[str, Any]) -> None:
    """The kernel, given a model's PreprocessSpec, equals the kernel's numpy reference exactly and the CPU
    reference (preprocess_into, OpenCV's resize) within one level of the pixel (OpenCV's scalar row tails)."""
    from edge_sdk.cuda.kernels import PixelArgs
    from edge_sdk.preprocess.apply import preprocess_into
    from edge_sdk.preprocess.spec import PreprocessSpec

    spec = PreprocessSpec(size=(480, 640), **fields)
    img = image(720, 1280)
    got = run_kernel(backend, img, spec.tensor_shape(), spec.np_dtype, PixelArgs.from_spec(spec), spec.size, spec)
    exact = spec.blank()
    letterbox_reference(img, exact, None, spec)
    np.testing.assert_array_equal(got, exact)
    cpu = spec.blank()
    preprocess_into(img, cpu, spec)
    a, _ = spec.channel_affine()
    level = 1.0 if spec.dtype == "uint8" else float(np.max(np.abs(a)))
    tol = level * (1.001 if spec.dtype != "float16" else 1.01) + (0.0 if spec.dtype != "float16" else 1e-2)
    diff = np.abs(got.astype(np.float64) - cpu.astype(np.float64))
    assert diff.max() <= tol and (diff > 0).mean() < 0.002
