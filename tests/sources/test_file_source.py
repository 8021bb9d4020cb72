"""File and folder sources: every frame then end of stream, looping, real-time pacing, clear open errors."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.errors import SourceError
from edge_sdk.frame import CaptureStatus, Frame
from edge_sdk.sources import Source, open_source
from edge_sdk.sources.base import Reader
from edge_sdk.sources.uri import parse_uri
from tests.sources.conftest import CLIP_FPS, CLIP_FRAMES, CLIP_SIZE


def drain(src: Source, limit: int = 1000) -> tuple[list[Frame], CaptureStatus]:
    frames: list[Frame] = []
    while len(frames) < limit:
        status, frame = src.read(timeout=10.0)
        if frame is None:
            return frames, status
        frames.append(frame)
    return frames, CaptureStatus.OK


def test_video_delivers_every_frame_then_eos(clip: Path) -> None:
    with open_source(f"file://{clip}", "clip") as src:
        frames, status = drain(src)
        health = src.snapshot_health()
    assert status is CaptureStatus.EOS and len(frames) == CLIP_FRAMES
    assert [f.frame_id for f in frames] == list(range(CLIP_FRAMES))
    assert (frames[0].width, frames[0].height) == CLIP_SIZE and frames[0].camera == "clip"
    assert frames[1].source_pts == pytest.approx(1 / CLIP_FPS)
    assert health.state == "eos" and health.frames == CLIP_FRAMES and health.dropped == 0
    assert health.backend == "opencv-file" and not src.is_flowing()


def test_relative_path_resolves_against_base_dir(clip: Path) -> None:
    with open_source(f"file://{clip.name}", base_dir=clip.parent) as src:
        assert src.read(timeout=10.0)[0] is CaptureStatus.OK


def test_loop_restarts_instead_of_ending(clip: Path) -> None:
    with open_source(f"file://{clip}?loop=1") as src:
        frames, status = drain(src, limit=CLIP_FRAMES * 2 + 5)
    assert status is CaptureStatus.OK and len(frames) == CLIP_FRAMES * 2 + 5
    assert frames[CLIP_FRAMES].image.tobytes() == frames[0].image.tobytes()  # the first frame again


def test_realtime_paces_frames_at_the_requested_rate(clip: Path) -> None:
    start = time.monotonic()
    with open_source(f"file://{clip}?realtime=1&fps=20") as src:
        frames, status = drain(src)
    elapsed = time.monotonic() - start
    assert status is CaptureStatus.EOS and len(frames) == CLIP_FRAMES
    # paced: frame k is not captured before k/20 s after the first (a lower bound only: slowness cannot fail it)
    for k in (5, 15, CLIP_FRAMES - 1):
        assert frames[k].t_capture_mono - frames[0].t_capture_mono >= k / 20 - 0.01
    assert elapsed >= (CLIP_FRAMES - 1) / 20 - 0.01


def test_folder_in_name_order_skips_undecodable_images(image_folder: Path) -> None:
    (image_folder / "f002.png").write_bytes(b"\x89PNG broken")
    with open_source(f"file://{image_folder}") as src:
        frames, status = drain(src)
    assert status is CaptureStatus.EOS
    assert [int(f.image[0, 0, 0]) for f in frames] == [10, 20, 40, 50]
    assert src.reader.describe()["backend"] == "opencv-images"


def test_folder_loop(image_folder: Path) -> None:
    with open_source(f"file://{image_folder}?loop=1") as src:
        frames, _ = drain(src, limit=12)
    assert [int(f.image[0, 0, 0]) for f in frames] == [10, 20, 30, 40, 50] * 2 + [10, 20]


def test_newest_only_mode_drops_and_counts(clip: Path) -> None:
    with open_source(f"file://{clip}", deliver_all=False) as src:
        time.sleep(1.0)  # let the reader run ahead of a consumer that does not read
        status, frame = src.read(timeout=5.0)
        deadline = time.monotonic() + 10
        while src.snapshot_health().state != "eos" and time.monotonic() < deadline:
            time.sleep(0.05)
        health = src.snapshot_health()
    assert status is CaptureStatus.OK and frame is not None
    assert health.dropped > 0 and health.frames == CLIP_FRAMES


@pytest.mark.parametrize(("name", "message"), [
    ("missing.mp4", "file not found"),
    ("empty", "folder holds no JPEG/PNG/BMP images"),
    ("junk.mp4", "OpenCV cannot open this video"),
])
def test_unopenable_file_gives_a_clear_error(tmp_path: Path, name: str, message: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.mp4").write_bytes(b"\x00" * 2048)
    target = tmp_path / name
    src = open_source(f"file://{target}")
    with pytest.raises(SourceError) as info:
        src.start()
    assert message in info.value.message and info.value.where == str(target) and info.value.fix
    src.close()


class _CountingReader(Reader):
    """A non-live reader that only counts its grabs (the queue policy under test is the Source's, not a device's)."""

    live = False

    def __init__(self) -> None:
        self.grabs = 0

    def open(self) -> None:
        pass

    def grab(self) -> tuple[CaptureStatus, np.ndarray | None, float | None]:
        self.grabs += 1
        return CaptureStatus.OK, np.zeros((4, 4, 3), np.uint8), None

    def close(self) -> None:
        pass


def _settle(reader: _CountingReader, seconds: float = 0.3) -> int:
    time.sleep(seconds)
    return reader.grabs


def test_delivering_all_refills_the_queue_in_bursts() -> None:
    # one capture wake-up per half queue, not per frame: taking one frame from the full queue (4) must not wake the
    # capture thread; taking the second (down to 2) lets it decode two frames back to back
    reader = _CountingReader()
    with Source(reader, parse_uri("file:///counting.mp4"), "burst", deliver_all=True, queue_size=4) as src:
        full = _settle(reader)
        assert full == 5  # four queued, the fifth grabbed and waiting for room
        first = src.read(timeout=1.0)[1]
        assert first is not None and first.frame_id == 0 and _settle(reader) == full
        second = src.read(timeout=1.0)[1]
        assert second is not None and second.frame_id == 1 and _settle(reader) == full + 2
        ids = [src.read(timeout=1.0)[1] for _ in range(20)]
        assert [f.frame_id for f in ids if f is not None] == list(range(2, 22))  # every frame, in order
