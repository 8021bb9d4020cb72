"""`ensure_calibration_set(cfg)`: make sure the profile's folder holds enough frames (provisioning step).

Counts the usable frames; when fewer than calibration.min_frames, captures from the configured camera
towards calibration.capture.frames (at least min_frames). Returns what happened (`changed`, `summary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge_sdk.calibration.capture import capture
from edge_sdk.calibration.dataset import frames_folder, scan_folder
from edge_sdk.errors import CalibrationError

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig


@dataclass(frozen=True)
class EnsureResult:
    changed: bool
    summary: str


def ensure_calibration_set(cfg: AppConfig, *, progress: bool = False) -> EnsureResult:
    folder = frames_folder(cfg)
    have = len(scan_folder(folder, key="calibration").frames) if folder.is_dir() else 0
    need = cfg.calibration.min_frames
    if have >= need:
        return EnsureResult(False, f"{folder} holds {have} frames (at least {need} needed)")
    target = max(cfg.calibration.capture.frames, need)
    result = capture(cfg, frames=target, progress=progress)
    have = len(scan_folder(folder, key="calibration").frames)
    if have < need:
        raise CalibrationError(f"capture ended ({result.stopped_by}) with {have} frames; at least {need} are needed",
                               where=str(folder), fix="capture from a longer or livelier source, lower "
                                                     "calibration.capture.min_difference/interval_s, or copy frames in")
    return EnsureResult(True, f"captured {result.kept} frames into {folder} ({have} in total)")
