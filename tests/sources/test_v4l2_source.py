"""V4L2 open errors with real device nodes (no camera is attached here: streaming, MJPG negotiation and
unplug are not exercised; see the module docstring of edge_sdk.sources.v4l2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.errors import SourceError
from edge_sdk.sources import open_source


@pytest.mark.parametrize(("device", "message"), [
    ("/dev/video97", "no such video device"),
    ("/dev/null", "cannot open this device"),  # a character device, but not a V4L2 capture device
])
def test_device_that_cannot_open_says_why(device: str, message: str) -> None:
    src = open_source(f"v4l2://{device}?width=1280&height=720&fourcc=MJPG")
    with pytest.raises(SourceError) as info:
        src.start()
    assert message in info.value.message and info.value.where == device and info.value.fix
    src.close()


def test_a_regular_file_is_not_a_device(tmp_path: Path) -> None:
    fake = tmp_path / "video0"
    fake.write_bytes(b"")
    with pytest.raises(SourceError, match="not a video device node"):
        open_source(f"v4l2://{fake}").start()


def test_index_form_maps_to_the_device_node() -> None:
    src = open_source("v4l2://7")
    assert src.reader.describe()["device"] == "/dev/video7"
