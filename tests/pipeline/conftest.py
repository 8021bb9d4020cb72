from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support.onnx_models import constant_output_model


def write_video(path: Path, frames: int, size: tuple[int, int] = (320, 240), fps: float = 30.0) -> Path:
    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for i in range(frames):
        img = np.full((h, w, 3), (i * 5) % 255, np.uint8)
        cv2.putText(img, str(i), (10, h // 2), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (255, 255, 255), 2)
        writer.write(img)
    writer.release()
    return path


@pytest.fixture()
def video(tmp_path: Path) -> Path:
    return write_video(tmp_path / "clip.avi", 40)


@pytest.fixture()
def const_model(tmp_path: Path) -> Path:
    """A 'detector' on 64x64 input that always sees one car centred at (32,32), 16x8 in input pixels."""
    out = np.zeros((1, 4 + 2, 84), np.float32)  # 84 anchors: a 64x64 input at strides 8, 16, 32
    out[0, :4, :] = [[1], [1], [1], [1]]
    out[0, :, 0] = [32, 32, 16, 8, 0.05, 0.9]
    return constant_output_model(tmp_path / "const.onnx", out, names={0: "person", 1: "car"})


def app_yaml(tmp_path: Path, model: Path, uri: str, extra: str = "") -> Path:
    f = tmp_path / "app.yaml"
    f.write_text(f"""device: cpu
device_id: t1
model:
  path: {model}
sources:
  - name: cam0
    uri: {uri}
mqtt:
  enabled: false
{extra}""")
    return f
