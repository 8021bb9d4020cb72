"""Shared helpers of the INT8 tests: generated frame folders, black frames and app configs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from edge_sdk.config import AppConfig, load_config
from tools.scenes import write_still_set


def scene_frames(folder: Path, first_seed: int, count: int, size: tuple[int, int] = (640, 480)) -> Path:
    """`count` generated scene stills (PNG) in `folder`, without the COCO file (frames only)."""
    write_still_set(folder, range(first_seed, first_seed + count), *size)
    (folder / "annotations.coco.json").unlink()
    return folder


def black_frames(folder: Path, count: int, size: tuple[int, int] = (640, 480)) -> Path:
    """`count` distinct, practically black frames (one pixel differs, so no two files are identical)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        img = np.zeros((size[1], size[0], 3), np.uint8)
        img[0, i % size[0]] = 1
        cv2.imwrite(str(folder / f"black_{i:03d}.png"), img)
    return folder


def write_config(folder: Path, model: Path, frames: Path, *, calibration: dict[str, Any] | None = None,
                 build: dict[str, Any] | None = None, source: str | None = None, name: str = "app.yaml",
                 precision: str = "fp32", **top: Any) -> tuple[Path, AppConfig]:
    """An app config in `folder` for `model`, calibrating from `frames`; returns its path and the loaded config."""
    data: dict[str, Any] = {
        "version": 1, "device_id": "test", "state_dir": str(folder / "state"),
        "model": {"path": str(model), "precision": precision},
        "sources": [{"name": "cam0", "uri": source or f"file://{frames}"}],
        "mqtt": {"enabled": False},
        "calibration": {"dir": str(frames), "min_frames": 12, "min_holdout_frames": 4, **(calibration or {})},
        "build": {"method": "minmax", "speed_runs": 3, "sensitivity_frames": 2, "gate_bootstrap": 20,
                  "cpu_min_speedup": 0, **(build or {})},
        **top,
    }
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path, load_config(path)
