"""The INT8 step's calibration cache as the DLA path reads it (format checks with line numbers)."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import pytest

from edge_sdk.engines.trt.calibrator import lib_version_number, read_calibration_cache
from edge_sdk.engines.trt.version import parse_version
from edge_sdk.errors import CalibrationError


def test_reads_scales_from_hex_float_bits(tmp_path: Path) -> None:
    p = tmp_path / "m.cache"
    scale = struct.unpack(">f", bytes.fromhex("3c010a14"))[0]
    half = struct.pack(">f", 0.5).hex()
    p.write_text(f"TRT-100300-EntropyCalibration2\nimages: 3c010a14\n/model.0/conv/Conv_output_0: {half}\n")
    data, scales = read_calibration_cache(p, parse_version("10.3.0.30"))
    assert data == p.read_bytes()
    assert scales == {"images": pytest.approx(scale), "/model.0/conv/Conv_output_0": 0.5}


@pytest.mark.parametrize(("text", "match"), [
    ("", r":1: not a TensorRT calibration cache"),
    ("TRT-100300-MinMaxCalibration\nx: 3c010a14\n", "DLA needs EntropyCalibration2"),
    ("TRT-100300-EntropyCalibration2\nx: 3c010a14\ny 3c010a14\n", r":3: malformed line"),
    ("TRT-100300-EntropyCalibration2\nx: bf800000\n", r":2: tensor 'x' has scale -1.0"),
    ("TRT-100300-EntropyCalibration2\n", "holds no scales"),
])
def test_bad_caches_are_refused_with_the_line(text: str, match: str, tmp_path: Path) -> None:
    p = tmp_path / "bad.cache"
    p.write_text(text)
    with pytest.raises(CalibrationError, match=match):
        read_calibration_cache(p)


def test_missing_cache_says_to_run_the_int8_step(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="edge-sdk build"):
        read_calibration_cache(tmp_path / "nope.cache")


def test_cache_of_another_tensorrt_is_warned_about(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    p = tmp_path / "m.cache"
    p.write_text("TRT-8602-EntropyCalibration2\nimages: 3c010a14\n")
    assert lib_version_number(parse_version("8.6.2")) == 8602
    assert lib_version_number(parse_version("10.3.0.30")) == 100300
    with caplog.at_level(logging.WARNING, logger="edge_sdk"):
        read_calibration_cache(p, parse_version("10.3.0.30"))
    assert "written for TensorRT 8602" in caplog.text
