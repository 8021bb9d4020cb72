"""The manifest of a calibration folder: where each frame came from, when, and its sha256 and size.

`calibration/<profile>/manifest.json` is rewritten atomically after every kept frame, so an interrupted
capture resumes from it. The build does not need it (any folder of images works); it is the record.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_sdk.atomic import write_json_atomic
from edge_sdk.errors import CalibrationError

MANIFEST_NAME = "manifest.json"
VERSION = 1


def utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class FrameEntry:
    file: str
    sha256: str
    size: int
    width: int
    height: int
    source: str  # URI (credentials redacted) or the path an imported image came from
    camera: str | None
    captured_at: str  # UTC ISO 8601
    stream_time_s: float | None = None


@dataclass
class CaptureManifest:
    profile: str
    created: str = field(default_factory=utc_now)
    updated: str = field(default_factory=utc_now)
    frames: list[FrameEntry] = field(default_factory=list)

    @property
    def shas(self) -> set[str]:
        return {f.sha256 for f in self.frames}

    def to_dict(self) -> dict[str, Any]:
        return {"version": VERSION, "profile": self.profile, "created": self.created, "updated": self.updated,
                "frames": [asdict(f) for f in self.frames]}

    def save(self, folder: Path) -> None:
        self.updated = utc_now()
        write_json_atomic(folder / MANIFEST_NAME, self.to_dict())


def load_manifest(folder: Path, profile: str) -> CaptureManifest:
    """The folder's manifest, or a new empty one. Entries whose file is gone are dropped."""
    path = folder / MANIFEST_NAME
    if not path.exists():
        return CaptureManifest(profile)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        frames = [FrameEntry(**f) for f in raw.get("frames", [])]
        manifest = CaptureManifest(str(raw.get("profile", profile)), str(raw.get("created", utc_now())),
                                   str(raw.get("updated", utc_now())), frames)
    except (OSError, ValueError, TypeError) as exc:
        raise CalibrationError(f"cannot read the capture manifest: {exc}", where=str(path),
                               fix="move the broken manifest.json away; the frames themselves are still used") from None
    manifest.frames = [f for f in manifest.frames if (folder / f.file).is_file()]
    return manifest
