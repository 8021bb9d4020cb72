"""Copies of real Jetson files (first lines of /etc/nv_tegra_release as JetPack writes them, device-tree model
strings as the boards report them) and a helper that lays them out under a fake root for detection tests."""

from __future__ import annotations

from pathlib import Path

TAIL = "# KERNEL_VARIANT: oot\nTARGET_USERSPACE_LIB_DIR=nvidia\nTARGET_USERSPACE_LIB_DIR_PATH=usr/lib/aarch64-linux-gnu/nvidia\n"
NV_TEGRA_RELEASE = {
    "R36.4.3": ("# R36 (release), REVISION: 4.3, GCID: 38968081, "
               "BOARD: generic, EABI: aarch64, DATE: Wed Jan  8 01:49:37 UTC 2025\n" + TAIL),
    "R36.4.0": ("# R36 (release), REVISION: 4.0, GCID: 37537400, "
               "BOARD: generic, EABI: aarch64, DATE: Fri Sep 13 04:36:44 UTC 2024\n" + TAIL),
    "R36.3.0": ("# R36 (release), REVISION: 3.0, GCID: 36191598, "
               "BOARD: generic, EABI: aarch64, DATE: Mon May  6 17:34:21 UTC 2024\n" + TAIL),
    "R35.4.1": ("# R35 (release), REVISION: 4.1, GCID: 33958178, "
               "BOARD: t186ref, EABI: aarch64, DATE: Tue Aug  1 19:57:35 UTC 2023\n" + TAIL),
    "R38.2.1": ("# R38 (release), REVISION: 2.1, GCID: 42061081, "
               "BOARD: generic, EABI: aarch64, DATE: Wed Sep 10 20:22:09 UTC 2025\n" + TAIL),
}
MODELS = {
    "orin-agx": "NVIDIA Jetson AGX Orin Developer Kit",
    "orin-nx": "NVIDIA Jetson Orin NX Engine Board 16GB",
    "orin-nano": "NVIDIA Jetson Orin Nano Developer Kit",
    "orin-nano-super": "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super",
}


def make_root(root: Path, release: str | None = "R36.4.3", model: str | None = MODELS["orin-agx"],
              videos: int = 0) -> Path:
    """A fake `/` with the given nv_tegra_release and device-tree model (NUL-terminated, as the kernel writes it)."""
    if release is not None:
        (root / "etc").mkdir(parents=True, exist_ok=True)
        (root / "etc/nv_tegra_release").write_text(NV_TEGRA_RELEASE.get(release, release))
    if model is not None:
        (root / "proc/device-tree").mkdir(parents=True, exist_ok=True)
        (root / "proc/device-tree/model").write_bytes(model.encode() + b"\x00")
    (root / "proc").mkdir(parents=True, exist_ok=True)
    (root / "proc/meminfo").write_text("MemTotal:       64335836 kB\nMemFree:        60000000 kB\n")
    for i in range(videos):
        (root / "dev").mkdir(exist_ok=True)
        (root / f"dev/video{i}").write_text("")
        sysfs = root / f"sys/class/video4linux/video{i}"
        sysfs.mkdir(parents=True)
        (sysfs / "name").write_text("vi-output, imx219 9-0010\n" if i == 0 else "USB Camera\n")
    return root
