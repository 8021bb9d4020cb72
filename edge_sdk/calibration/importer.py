"""`edge-sdk calibrate import DIR`: copy JPEG/PNG images already on disk into the profile's folder.

Images are copied byte for byte (no re-encoding), each atomically, and recorded in the manifest with the
path they came from. Unreadable files are skipped and counted; exact copies of a frame already there are
skipped. (A folder can also be used in place: set calibration.dir to it.)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge_sdk.atomic import write_bytes_atomic
from edge_sdk.calibration.dataset import frames_folder, scan_folder
from edge_sdk.calibration.manifest import FrameEntry, load_manifest, utc_now
from edge_sdk.calibration.progress import Progress
from edge_sdk.errors import CalibrationError

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig

log = logging.getLogger(__name__)


@dataclass
class ImportSummary:
    folder: Path
    copied: int
    already_there: int
    skipped: int  # unreadable or not images
    total: int  # frames in the folder afterwards


def import_images(cfg: AppConfig, source_dir: Path, *, progress: bool = True) -> ImportSummary:
    found = scan_folder(source_dir, key="import folder")
    if not found.frames:
        raise CalibrationError(f"no readable JPEG/PNG images in the folder ({len(found.skipped)} files skipped)",
                               where=str(source_dir), fix="point at a folder of .jpg/.png frames")
    folder = frames_folder(cfg)
    if folder.resolve() == source_dir.resolve():
        raise CalibrationError("the import folder is the calibration folder itself", where=str(source_dir),
                               fix="nothing to import: the build reads this folder directly")
    folder.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(folder, cfg.calibration.profile or cfg.device_id)
    known = manifest.shas
    copied = already = 0
    with Progress(len(found.frames), "import", enabled=progress) as bar:
        for f in found.frames:
            if f.sha256 in known:
                already += 1
            else:
                name = f.path.name if not (folder / f.path.name).exists() else f"{f.sha256[:12]}-{f.path.name}"
                write_bytes_atomic(folder / name, f.path.read_bytes())
                manifest.frames.append(FrameEntry(name, f.sha256, f.size, f.width, f.height,
                                                  str(f.path.resolve()), None, utc_now()))
                known.add(f.sha256)
                copied += 1
                manifest.save(folder)
            bar.update(1)
    return ImportSummary(folder, copied, already, len(found.skipped), len(manifest.frames))
