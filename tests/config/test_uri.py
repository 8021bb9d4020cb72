import pytest

from edge_sdk.errors import ConfigError
from edge_sdk.sources.uri import parse_uri


@pytest.mark.parametrize(("uri", "scheme", "target"), [
    ("file://samples/demo.mp4", "file", "samples/demo.mp4"),
    ("file:///abs/frames", "file", "/abs/frames"),
    ("clip.mp4", "file", "clip.mp4"),
    ("v4l2:///dev/video2", "v4l2", "/dev/video2"),
    ("v4l2://1", "v4l2", "/dev/video1"),
    ("csi://0", "csi", "0"),
    ("rtsp://cam.local:8554/stream", "rtsp", "rtsp://cam.local:8554/stream"),
    ("gst://videotestsrc ! videoconvert ! appsink", "gst", "videotestsrc ! videoconvert ! appsink"),
])
def test_parse(uri: str, scheme: str, target: str) -> None:
    parsed = parse_uri(uri)
    assert (parsed.scheme, parsed.target) == (scheme, target)


def test_query_parameters_and_redaction() -> None:
    assert parse_uri("file://a.mp4?loop=1&realtime=1").params == {"loop": "1", "realtime": "1"}
    assert parse_uri("csi://0?width=1920&height=1080").params["width"] == "1920"
    red = parse_uri("rtsp://admin:hunter2@10.0.0.5:554/live").redacted()
    assert "hunter2" not in red and "admin:***@10.0.0.5:554" in red


@pytest.mark.parametrize(("uri", "message"), [
    ("", "empty source URI"), ("http://x", "unknown source scheme"), ("csi://front", "sensor id"),
    ("gst://", "needs a pipeline"), ("v4l2://", "needs a device"),
])
def test_errors(uri: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_uri(uri)
