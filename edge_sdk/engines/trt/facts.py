"""Facts about this device that an engine depends on: board, L4T/JetPack, GPU compute capability, TensorRT.

An engine runs only on the TensorRT version and GPU it was built with; after a JetPack upgrade the cached
engine must be rebuilt. These facts go into each engine's manifest and are compared before reuse.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge_sdk.device.jetson import detect_board
from edge_sdk.engines.trt.version import TrtVersion

if TYPE_CHECKING:
    from edge_sdk.device.profiles import DeviceProfile

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceFacts:
    tensorrt_version: str
    api_path: str
    board: str | None
    l4t_release: str | None  # "R36.4.3"
    jetpack: str | None
    compute_capability: str | None
    compute_capability_source: str  # "cuda" (queried), "profile" (from the device profile) or "unknown"
    profile: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def cuda_compute_capability() -> str | None:
    """The first CUDA device's compute capability through pycuda, or None where pycuda or a GPU is absent."""
    try:
        import pycuda.driver as cuda
    except ImportError:
        return None
    try:
        cuda.init()
        major, minor = cuda.Device(0).compute_capability()
    except Exception as exc:  # pycuda.driver.Error and friends: no driver, no device
        log.debug("cannot query the GPU's compute capability: %s", exc)
        return None
    return f"{int(major)}.{int(minor)}"


def gather(version: TrtVersion, profile: DeviceProfile, root: Path = Path("/"),
           compute_capability: str | None = None) -> DeviceFacts:
    board = detect_board(root)
    cc = compute_capability or cuda_compute_capability()
    source = "cuda" if cc else "unknown"
    if cc is None and profile.compute_capability:
        cc, source = profile.compute_capability, "profile"
    return DeviceFacts(tensorrt_version=version.text, api_path=version.path, board=board.model,
                       l4t_release=board.l4t.text if board.l4t else None, jetpack=board.jetpack,
                       compute_capability=cc, compute_capability_source=source, profile=profile.name)
