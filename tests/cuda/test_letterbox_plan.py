"""The GPU letterbox's arithmetic (OpenCV's tables and fixed-point steps, run here in numpy by
`letterbox_reference`) against the CPU preprocess. The kernel does the same integer operations; on a GPU,
tests/cuda/test_gpu_preprocess.py compares the kernel itself."""

from __future__ import annotations

import numpy as np
import pytest

from edge_sdk.cuda.letterbox_plan import letterbox_reference, make_plan
from edge_sdk.preprocess import letterbox

SIZES = [(1080, 1920), (720, 1280), (480, 640), (640, 640), (777, 1333), (300, 400), (101, 200), (2000, 500), (1, 1)]


@pytest.mark.parametrize(("h", "w"), SIZES)
def test_reference_matches_the_cpu_letterbox_within_one_level(h: int, w: int) -> None:
    img = np.random.default_rng(h * 7919 + w).integers(0, 256, (h, w, 3), dtype=np.uint8)
    expected, info = letterbox(img, (640, 640))
    out = np.full_like(expected, np.nan)
    got_info = letterbox_reference(img, out)
    assert got_info == info
    diff = np.abs(out - expected)
    assert not np.isnan(out).any()
    assert diff.max() <= 1 / 255 + 1e-7
    assert (diff > 0).mean() < 0.002  # OpenCV's scalar row tails round differently; everything else is exact


def test_downscale_and_identity_are_bit_exact() -> None:
    rng = np.random.default_rng(3)
    for h, w in [(1080, 1920), (480, 640)]:
        img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        expected, _ = letterbox(img, (640, 640))
        out = np.empty_like(expected)
        letterbox_reference(img, out)
        np.testing.assert_array_equal(out, expected)


def test_tables_clamp_at_the_borders() -> None:
    plan = make_plan(10, 20, (64, 64))  # upscale: the first and last outputs sample outside the image
    assert plan.xtab[0].tolist() == [0, 2048, 0] and plan.xtab[-1].tolist() == [19, 2048, 0]
    assert (plan.xtab[:, 1] + plan.xtab[:, 2] == 2048).all()
    assert plan.new_w == 64 and plan.new_h == 32 and plan.top == 16 and plan.left == 0


def test_empty_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        make_plan(0, 10, (64, 64))
