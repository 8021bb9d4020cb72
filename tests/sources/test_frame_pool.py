"""Captures decode into reused buffers (sources/frame_pool.py): a buffer is written again only once no frame, view
or queue holds it, so every frame a consumer keeps stays exactly what was decoded."""

from __future__ import annotations

import collections
import hashlib
from pathlib import Path

import cv2
import numpy as np

from edge_sdk.frame import CaptureStatus
from edge_sdk.sources import open_source
from edge_sdk.sources.frame_pool import FramePool

SAMPLE = Path(__file__).resolve().parents[2] / "samples/demo.mp4"


def digest(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image).tobytes()).hexdigest()


def reference(path: Path, loops: int = 1) -> list[str]:
    """Each frame's digest, decoded the plain way (a new array per frame)."""
    out = []
    for _ in range(loops):
        cap = cv2.VideoCapture(str(path))
        while True:
            ok, image = cap.read()
            if not ok:
                break
            out.append(digest(image))
        cap.release()
    return out


def test_a_buffer_is_reused_only_once_nothing_holds_it() -> None:
    cap = cv2.VideoCapture(str(SAMPLE))
    pool = FramePool()
    first = pool.read(cap)
    assert first is not None
    second = pool.read(cap)  # `first` is held: another buffer
    assert second is not None and second is not first and pool.allocated == 2
    crop = first[10:20, 10:20]
    del first
    third = pool.read(cap)  # `first` is gone but a crop of it lives: its buffer is not free
    assert third is not None and third is not crop.base and third is not second and pool.allocated == 3
    kept = crop.base
    del crop, third
    fourth = pool.read(cap)
    assert fourth is not None and pool.allocated == 3 and fourth is not second
    assert kept is not fourth  # `kept` holds the first buffer still; the third's came back
    cap.release()


def test_frames_released_at_once_need_two_buffers() -> None:
    cap = cv2.VideoCapture(str(SAMPLE))
    pool = FramePool()
    ref = reference(SAMPLE)
    got = []
    for _ in range(len(ref)):
        image = pool.read(cap)
        assert image is not None
        got.append(digest(image))
    assert got == ref and pool.allocated <= 2 and pool.read(cap) is None
    cap.release()


def test_a_new_frame_size_replaces_the_buffers(tmp_path: Path) -> None:
    pool = FramePool()
    small = cv2.VideoCapture(str(SAMPLE))
    a = pool.read(small)
    assert a is not None and a.shape == (480, 640, 3)
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.full((720, 1280, 3), 7, np.uint8))
    image = pool.read(cv2.VideoCapture(str(big)))
    assert image is not None and image.shape == (720, 1280, 3) and int(image[0, 0, 0]) == 7
    assert a.shape == (480, 640, 3)  # the frame of the old size is untouched


def test_frames_a_consumer_keeps_are_never_written_over() -> None:
    """The file source through its capture thread, looping twice; the consumer keeps the last 40 frames (more than
    the pool's 32 buffers, so OpenCV allocates beyond them) and checks every kept frame at every step."""
    ref = reference(SAMPLE, loops=2)
    kept: collections.deque[tuple[int, np.ndarray]] = collections.deque(maxlen=40)
    with open_source(f"file://{SAMPLE}?loop=1&threads=2", "cam0", deliver_all=True) as src:
        for i in range(len(ref)):
            status, frame = src.read(timeout=10.0)
            assert status is CaptureStatus.OK and frame is not None
            assert digest(frame.image) == ref[i], f"frame {i}"
            kept.append((i, frame.image))
            if i % 7 == 0:
                assert all(digest(img) == ref[k] for k, img in kept)
