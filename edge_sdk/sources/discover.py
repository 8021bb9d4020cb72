"""Cameras this machine has, for `edge-sdk doctor` and for choosing a source URI.

V4L2 devices come from sysfs (/sys/class/video4linux: node, driver-given name); on a Jetson the CSI sensors
also appear there (driver names like `vi-output, imx219 9-0010`) and are read with csi://N, not v4l2://.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SYSFS = Path("/sys/class/video4linux")


def list_cameras(sysfs: Path = SYSFS) -> list[dict[str, Any]]:
    """One dict per video device node: `device`, `name`, `uri` to use, and `kind` ("csi" or "v4l2")."""
    cameras = []
    entries = sorted(sysfs.glob("video*"), key=lambda p: int(p.name[5:]) if p.name[5:].isdigit() else 1 << 30)
    csi_index = 0
    for entry in entries:
        name_file = entry / "name"
        name = name_file.read_text(encoding="utf-8", errors="replace").strip() if name_file.exists() else ""
        device = f"/dev/{entry.name}"
        if name.startswith("vi-output"):
            cameras.append({"device": device, "name": name, "kind": "csi", "uri": f"csi://{csi_index}"})
            csi_index += 1
        else:
            cameras.append({"device": device, "name": name, "kind": "v4l2", "uri": f"v4l2://{device}"})
    return cameras
