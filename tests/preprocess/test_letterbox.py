import numpy as np
import pytest

from edge_sdk.preprocess import letterbox, letterbox_params
from edge_sdk.preprocess.letterbox import letterbox_into


def test_landscape_frame_is_scaled_and_padded_top_and_bottom() -> None:
    img = np.full((480, 640, 3), (10, 20, 30), np.uint8)  # BGR
    tensor, info = letterbox(img, (640, 640))
    assert tensor.shape == (1, 3, 640, 640) and tensor.dtype == np.float32
    assert info.scale == 1.0 and info.pad_y == 80 and info.pad_x == 0
    # RGB order, 0..1 scale
    assert tensor[0, :, 320, 320] == pytest.approx(np.array([30, 20, 10]) / 255.0)
    # padding is 114 grey, image rows start at pad_y
    assert tensor[0, 0, 79, 0] == pytest.approx(114 / 255.0)
    assert tensor[0, 0, 80, 0] == pytest.approx(30 / 255.0)
    assert tensor[0, 0, 560, 0] == pytest.approx(114 / 255.0)


def test_downscale_1080p_keeps_aspect() -> None:
    info = letterbox_params(1920, 1080, (640, 640))
    assert info.scale == pytest.approx(1 / 3)
    assert (info.new_w, info.new_h) == (640, 360)
    assert info.pad_y == pytest.approx(140)


def test_box_mapping_round_trips_and_clips() -> None:
    img = np.zeros((1080, 1920, 3), np.uint8)
    _, info = letterbox(img, (640, 640))
    orig = np.array([[100, 200, 400, 600], [1800, 1000, 1920, 1080]], np.float32)
    back = info.to_original(info.to_input(orig))
    np.testing.assert_allclose(back, orig, atol=1e-3)
    # a box reaching into the padding is clipped to the frame
    clipped = info.to_original(np.array([[-10, 0, 700, 639]], np.float32))
    assert clipped[0, 0] == 0 and clipped[0, 1] == 0 and clipped[0, 2] == 1920 and clipped[0, 3] == 1080


def test_odd_padding_is_split_and_mapping_uses_applied_offset() -> None:
    img = np.zeros((101, 200, 3), np.uint8)
    _, info = letterbox(img, (64, 64))
    # 200x101 -> 64x32 (rounded), 32 rows of padding split 16/16
    assert (info.new_w, info.new_h) == (64, 32)
    assert info.pad_y == 16
    box = info.to_original(np.array([[0, 16, 64, 48]], np.float32))
    np.testing.assert_allclose(box[0], [0, 0, 200, 100], atol=2.0)


def test_rejects_non_bgr_input() -> None:
    with pytest.raises(ValueError, match="HxWx3"):
        letterbox(np.zeros((10, 10), np.uint8), (64, 64))


@pytest.mark.parametrize("hw", [(480, 640), (640, 480), (101, 200), (640, 640), (1080, 1920), (333, 517)])
def test_letterbox_into_equals_padded_image_converted(hw: tuple[int, int]) -> None:
    """The fast path (border fill + per-plane conversion) gives exactly the pixels of the padded image."""
    from edge_sdk.preprocess.letterbox import letterbox_image

    rng = np.random.default_rng(hw[0] * 7 + hw[1])
    img = rng.integers(0, 256, (*hw, 3), dtype=np.uint8)
    padded, ref_info = letterbox_image(img, (640, 640))
    expected = padded[:, :, ::-1].transpose(2, 0, 1).astype(np.float32) * np.float32(1 / 255)
    out = np.full((1, 3, 640, 640), np.nan, np.float32)  # every element must be written
    info = letterbox_into(img, out)
    assert info == ref_info
    np.testing.assert_array_equal(out[0], expected)


def test_letterbox_into_reuses_the_border_only_for_the_same_geometry() -> None:
    out = np.zeros((1, 3, 64, 64), np.float32)
    first = letterbox_into(np.full((32, 64, 3), 7, np.uint8), out)
    pad = np.float32(114) * np.float32(1 / 255)
    assert out[0, 0, 0, 0] == pad
    out[0, :, :16, :] = -1.0  # a border that was not rewritten would show this
    letterbox_into(np.full((32, 64, 3), 9, np.uint8), out, previous=first)
    assert out[0, 0, 0, 0] == -1.0 and out[0, 0, 16, 0] == np.float32(9) * np.float32(1 / 255)
    letterbox_into(np.full((64, 32, 3), 9, np.uint8), out, previous=first)  # new geometry: border rewritten
    assert out[0, 0, 0, 0] == pad and out[0, 0, 0, 63] == pad
