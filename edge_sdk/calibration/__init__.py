"""Calibration frames: capture from a camera, import from a folder, scan, check and split for the INT8 build."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edge_sdk.calibration.dataset import FrameFile, FrameSet, FrameSplit, frames_folder, load_split, scan_folder

if TYPE_CHECKING:
    from edge_sdk.calibration.ensure import EnsureResult
    from edge_sdk.config.app import AppConfig

__all__ = ["FrameFile", "FrameSet", "FrameSplit", "ensure_calibration_set", "frames_folder", "load_split", "scan_folder"]


def ensure_calibration_set(cfg: AppConfig, **kwargs: Any) -> EnsureResult:
    """See edge_sdk.calibration.ensure (imported lazily: capture pulls in the source layer)."""
    from edge_sdk.calibration.ensure import ensure_calibration_set as _ensure

    return _ensure(cfg, **kwargs)
