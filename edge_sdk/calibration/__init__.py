"""Calibration frames: capture from a camera, import from a folder, scan, check and split for the INT8 build."""

from edge_sdk.calibration.dataset import FrameFile, FrameSet, FrameSplit, frames_folder, load_split, scan_folder

__all__ = ["FrameFile", "FrameSet", "FrameSplit", "frames_folder", "load_split", "scan_folder"]
