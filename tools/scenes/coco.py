"""COCO JSON (images, annotations, categories) for generated stills and video frames.

Category ids are class index + 1. Objects too hidden or too cut to be fair targets are written with
`iscrowd: 1` and `ignore: 1`: COCO evaluation neither rewards nor penalises detections on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edge_sdk.atomic import write_json_atomic
from tools.scenes.types import CLASS_NAMES, GENERATOR_VERSION, Annotation


def categories() -> list[dict[str, Any]]:
    return [{"id": i + 1, "name": name, "supercategory": "object"} for i, name in enumerate(CLASS_NAMES)]


class CocoBuilder:
    """Collects images and their annotations into one COCO dict."""

    def __init__(self, description: str, extra_info: dict[str, Any] | None = None) -> None:
        self.info: dict[str, Any] = {"description": description, "generator_version": GENERATOR_VERSION}
        self.info.update(extra_info or {})
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []

    def add_image(self, image_id: int, file_name: str, width: int, height: int, anns: list[Annotation], **extra: Any) -> None:
        self.images.append({"id": image_id, "file_name": file_name, "width": width, "height": height, **extra})
        for ann in anns:
            entry: dict[str, Any] = {
                "id": len(self.annotations) + 1,
                "image_id": image_id,
                "category_id": ann.category_id,
                "bbox": [round(v, 2) for v in ann.bbox],
                "area": ann.area,
                "iscrowd": int(ann.ignore),
                "ignore": int(ann.ignore),
                "visibility": ann.visible_fraction,
                "truncated": int(ann.truncated),
            }
            if ann.track_id >= 0:
                entry["track_id"] = ann.track_id
            self.annotations.append(entry)

    def to_dict(self) -> dict[str, Any]:
        return {"info": self.info, "images": self.images, "annotations": self.annotations, "categories": categories()}

    def write(self, path: str | Path) -> Path:
        """Write atomically (temp file, fsync, rename) and return the path."""
        return write_json_atomic(path, self.to_dict(), indent=None)
