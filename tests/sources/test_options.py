"""URI options: typed values, defaults, clear errors with did-you-mean, rtsp pass-through, config validation."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edge_sdk.config.source import SourceConfig
from edge_sdk.errors import ConfigError
from edge_sdk.sources.options import camera_url, parse_options
from edge_sdk.sources.uri import parse_uri


def test_typed_values_and_defaults() -> None:
    opts = parse_options(parse_uri("csi://1?width=1280&height=720&fps=60&flip=2"))
    assert (opts["width"], opts["height"], opts["fps"], opts["flip"]) == (1280, 720, 60, 2)
    assert opts["sensor_mode"] is None and opts["backend"] == "auto"
    assert parse_options(parse_uri("file://a.mp4?loop=yes&realtime=0"))["loop"] is True
    assert parse_options(parse_uri("v4l2://0?fourcc=mjpg"))["fourcc"] == "MJPG"


def test_profile_defaults_sit_under_the_uri() -> None:
    opts = parse_options(parse_uri("csi://0?fps=15"), {"width": "1280", "fps": "60", "not_a_csi_key": "x"})
    assert (opts["width"], opts["fps"]) == (1280, 15)


@pytest.mark.parametrize(("uri", "message", "fix"), [
    ("file://a.mp4?relatime=1", "unknown option 'relatime'", "did you mean 'realtime'"),
    ("csi://0?flip=9", "flip=9 is outside 0..7", "flip-method"),
    ("csi://0?width=wide", "width='wide' is not an integer", "capture width"),
    ("rtsp://cam/live?transport=http", "transport='http' is not one of tcp, udp", "TCP"),
    ("v4l2://0?fourcc=MJPEG", "fourcc='MJPEG' is not four characters", "pixel format"),
    ("rtsp://cam/live?transprot=udp", "unknown option 'transprot'", "did you mean 'transport'"),
    ("file://a.mp4?loop=maybe", "loop='maybe' is not a boolean", "restart"),
])
def test_bad_options_say_what_where_and_how(uri: str, message: str, fix: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_options(parse_uri(uri))
    assert message in info.value.message
    assert info.value.where == uri and fix in (info.value.fix or "")


def test_rtsp_keeps_the_cameras_own_query_and_hides_the_password() -> None:
    uri = parse_uri("rtsp://admin:secret@10.0.0.5:554/cam/realmonitor?channel=1&subtype=0&transport=udp&latency=50")
    opts = parse_options(uri)
    assert (opts["transport"], opts["latency"]) == ("udp", 50)
    assert camera_url(uri) == "rtsp://admin:secret@10.0.0.5:554/cam/realmonitor?channel=1&subtype=0"
    with pytest.raises(ConfigError) as info:
        parse_options(parse_uri("rtsp://admin:secret@cam/live?latency=-1"))
    assert "secret" not in str(info.value) and "admin:***@cam" in str(info.value)


def test_config_rejects_bad_options_and_backoff_order() -> None:
    with pytest.raises(ValidationError, match="did you mean 'realtime'"):
        SourceConfig(uri="file://a.mp4?relatime=1")
    with pytest.raises(ValidationError, match="reconnect_initial_s must not exceed reconnect_max_s"):
        SourceConfig(uri="rtsp://cam/live", reconnect_initial_s=10, reconnect_max_s=5)
    assert SourceConfig(uri="rtsp://cam/live?transport=udp").uri.endswith("udp")
