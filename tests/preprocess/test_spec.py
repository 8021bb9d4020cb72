"""Every option of `PreprocessSpec` through the CPU reference, against a plain independent implementation
(OpenCV resize + copyMakeBorder, then numpy arithmetic), and the GPU kernel's numpy stand-in against both."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from edge_sdk.cuda.letterbox_plan import letterbox_reference
from edge_sdk.preprocess import PreprocessSpec, preprocess, preprocess_into

IMAGENET = dict(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def naive(bgr: np.ndarray, spec: PreprocessSpec) -> np.ndarray:
    """The spec's steps written out the obvious way (padded uint8 image, then float64 arithmetic)."""
    h, w = bgr.shape[:2]
    in_h, in_w = spec.size
    if spec.resize == "stretch":
        img = cv2.resize(bgr, (in_w, in_h), interpolation=cv2.INTER_LINEAR)
    else:
        r = min(in_h / h, in_w / w)
        nw, nh = int(round(w * r)), int(round(h * r))
        img = cv2.resize(bgr, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (w, h) else bgr
        if spec.align == "center":
            top, left = int(round((in_h - nh) / 2 - 0.1)), int(round((in_w - nw) / 2 - 0.1))
        else:
            top, left = 0, 0
        img = cv2.copyMakeBorder(img, top, in_h - nh - top, left, in_w - nw - left, cv2.BORDER_CONSTANT,
                                 value=(spec.pad_value,) * 3)
    if spec.channel_order == "rgb":
        img = img[:, :, ::-1]
    if spec.dtype == "uint8":
        x = img.copy()
    else:
        x = ((img.astype(np.float64) * spec.scale - np.array(spec.mean)) / np.array(spec.std)).astype(spec.dtype)
    x = x if spec.layout == "nhwc" else x.transpose(2, 0, 1)
    return x[None]


SPECS = [
    PreprocessSpec((640, 640)),  # the demo's
    PreprocessSpec((320, 416), resize="stretch", **IMAGENET),  # PaddleDetection PicoDet
    PreprocessSpec((416, 416), align="top-left", channel_order="bgr", scale=1.0),  # YOLOX
    PreprocessSpec((256, 320), layout="nhwc", pad_value=0),  # a TensorFlow-style channels-last model
    PreprocessSpec((320, 320), dtype="uint8", scale=1.0, layout="nhwc"),  # raw bytes in
    PreprocessSpec((320, 320), dtype="float16", channel_order="bgr", scale=1.0,
                   mean=(123.675, 116.28, 103.53), std=(58.395, 57.12, 57.375)),  # mmdetection style
]
FRAMES = [(480, 640), (720, 1280), (333, 517), (640, 480)]


@pytest.mark.parametrize(("spec", "hw"), list(itertools.product(SPECS, FRAMES)), ids=str)
def test_every_option_matches_the_plain_implementation(spec: PreprocessSpec, hw: tuple[int, int]) -> None:
    bgr = np.random.default_rng(hw[0] + hw[1]).integers(0, 256, (*hw, 3), dtype=np.uint8)
    got, info = preprocess(bgr, spec)
    assert got.shape == spec.tensor_shape() and got.dtype == spec.np_dtype
    want = naive(bgr, spec)
    tol = {"uint8": 0, "float32": 1e-5, "float16": 2e-3}[spec.dtype] * max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), atol=tol, rtol=0)
    # boxes map back through the geometry actually applied
    full = np.array([[0, 0, hw[1], hw[0]]], np.float32)
    np.testing.assert_allclose(info.to_original(info.to_input(full)), full, atol=1e-3)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_gpu_reference_arithmetic_honours_every_option(spec: PreprocessSpec) -> None:
    """`letterbox_reference` (the CUDA kernel's integer arithmetic in numpy) against the CPU reference: equal
    geometry, values within one pixel level (OpenCV's scalar row tails round differently)."""
    bgr = np.random.default_rng(7).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    want, info = preprocess(bgr, spec)
    got = np.zeros_like(want)
    assert letterbox_reference(bgr, got, spec=spec) == info
    a, _ = spec.channel_affine()
    level = 1.0 if spec.dtype == "uint8" else float(np.max(np.abs(a)))
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    assert diff.max() <= level * 1.01 + (2e-3 * np.abs(want).max() if spec.dtype == "float16" else 1e-6)


def test_the_demo_spec_is_the_ultralytics_letterbox_bit_for_bit() -> None:
    from edge_sdk.preprocess import letterbox

    bgr = np.random.default_rng(1).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    want, want_info = letterbox(bgr, (640, 640))
    got, info = preprocess(bgr, PreprocessSpec((640, 640)))
    assert info == want_info
    np.testing.assert_array_equal(got, want)


def test_a_batch_slot_is_filled_and_the_others_hold_the_padding() -> None:
    spec = PreprocessSpec((64, 64), batch=4)
    out = spec.blank()
    preprocess_into(np.full((64, 64, 3), 200, np.uint8), out, spec, slot=2)
    assert np.all(out[2] == np.float32(200) * np.float32(1 / 255))
    assert np.all(out[[0, 1, 3]] == np.float32(114) * np.float32(1 / 255))


def test_stretch_maps_each_axis_on_its_own() -> None:
    spec = PreprocessSpec((320, 320), resize="stretch")
    info = spec.placement(640, 480)
    assert (info.scale_x, info.sy, info.pad_x, info.pad_y) == (0.5, pytest.approx(2 / 3), 0.0, 0.0)
    np.testing.assert_allclose(info.to_original(np.array([[160, 160, 320, 320]], np.float32)),
                               [[320, 240, 640, 480]], atol=1e-3)


@pytest.mark.parametrize(("changes", "message"), [
    ({"dtype": "uint8"}, "uint8 input takes the pixels"),
    ({"std": (1.0, 0.0, 1.0)}, "zero"),
    ({"pad_value": 300}, "0..255"),
    ({"size": (0, 640)}, "positive"),
])
def test_inconsistent_specs_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PreprocessSpec((640, 640)).with_changes(**changes)


def test_describe_names_every_choice() -> None:
    assert PreprocessSpec((480, 640)).describe() == "640x480 letterbox(center, pad 114) rgb x/255 nchw float32"
    assert "stretch" in PreprocessSpec((320, 320), resize="stretch", **IMAGENET).describe()
