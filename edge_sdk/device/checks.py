"""What `edge-sdk doctor`'s checks share: the `Check` value, the input, and the CUDA stack facts it reads.

Checks never raise: a check that cannot tell says so. doctor.py runs them; doctor_gpu.py holds the GPU ones.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from edge_sdk.device.jetson import BoardInfo

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig

Status = Literal["OK", "WARN", "FAIL"]
# Checks whose FAIL blocks the device path (provisioning stops on them); the broker has its own check there.
REQUIRED = frozenset({"L4T/JetPack", "device profile", "TensorRT", "CUDA", "pycuda", "disk", "driver stack",
                      "GPU kernels"})


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str | None = None
    data: dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status != "FAIL"

    @property
    def required(self) -> bool:
        return self.name in REQUIRED

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class DoctorInput:
    """What doctor looks at. Tests point `root` at a copy of a Jetson's files."""

    root: Path = Path("/")
    device: str = "auto"  # the config's `device:` (a profile name or auto)
    broker: tuple[str, int] | None = None
    broker_tls: bool = False
    disk_path: Path = Path(".")
    profiles_dir: Path | None = None
    board: BoardInfo | None = None
    tensorrt_version: Callable[[], str | None] | None = None  # default: the installed TensorRT's
    stack: StackFacts | None = None  # default: read from this machine (gather_stack)
    config: AppConfig | None = None  # the app config given with --config (its cameras' decode budget)


def severity(jetson: bool) -> Status:
    """What a missing GPU piece is: a FAIL on a Jetson (the device path cannot run), a WARN elsewhere."""
    return "FAIL" if jetson else "WARN"


@dataclass(frozen=True)
class StackFacts:
    """The CUDA stack as this process sees it. In a container, the driver is the host's (the NVIDIA container
    runtime mounts libcuda in) and the kernel is the host's; the CUDA runtime, TensorRT and /etc/nv_tegra_release
    are the image's."""

    driver_cuda: str | None  # "12.6": the newest CUDA the driver runs (libcuda)
    runtime_cuda: str | None  # "12.6": libcudart's
    toolkit_cuda: str | None  # "12.6.68": /usr/local/cuda/version.json
    in_container: bool
    kernel: str  # uname -r: the host's kernel, also in a container ("5.15.148-tegra")


_CONTAINER_MARKS = ("docker", "containerd", "kubepods", "libpod", "lxc")


def in_container(root: Path = Path("/")) -> bool:
    """Whether this process runs in a container (Docker, Podman, Kubernetes, LXC)."""
    if (root / ".dockerenv").exists() or (root / "run/.containerenv").exists():
        return True
    if root == Path("/") and os.environ.get("container"):  # noqa: SIM112 (systemd-nspawn, podman set lowercase)
        return True
    try:
        cgroup = (root / "proc/1/cgroup").read_text(errors="replace")
    except OSError:
        return False
    return any(mark in cgroup for mark in _CONTAINER_MARKS)


def gather_stack(root: Path = Path("/")) -> StackFacts:
    from edge_sdk.cuda import versions

    return StackFacts(driver_cuda=versions.driver_version(), runtime_cuda=versions.runtime_version(),
                      toolkit_cuda=versions.toolkit_version(root), in_container=in_container(root),
                      kernel=platform.release())
