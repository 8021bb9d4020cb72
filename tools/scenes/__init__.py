"""Seeded, procedurally generated camera scenes with exact COCO ground truth.

Stills (`generate_still`, `write_still_set`) and videos (`write_video`) are drawn with numpy and
OpenCV only, from a seed: the same seed always gives the same pixels and annotations.
"""

from tools.scenes.still import generate_still, generate_stills, write_still_set
from tools.scenes.types import CLASS_NAMES, Annotation
from tools.scenes.video import generate_video_frames, video_coco_path, write_video

__all__ = [
    "CLASS_NAMES",
    "Annotation",
    "generate_still",
    "generate_stills",
    "generate_video_frames",
    "video_coco_path",
    "write_still_set",
    "write_video",
]
