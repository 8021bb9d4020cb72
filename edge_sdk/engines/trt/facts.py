"""Facts about this device that an engine depends on: board, L4T/JetPack, CUDA, GPU compute capability, TensorRT.

An engine runs only on the TensorRT version and GPU it was built with, on the CUDA it was built against; after
a JetPack upgrade the cached engine must be rebuilt. `target()` is the part that goes into each engine's cache
key (key.py); the rest (where each value came from, the driver's CUDA) goes into the manifest for people.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge_sdk.cuda import versions
from edge_sdk.cuda.check import query_gpu
from edge_sdk.device.jetson import detect_board
from edge_sdk.engines.trt.key import EngineTarget, cuda_major_minor
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
    cuda_version: str | None = None  # "12.6": the CUDA runtime's (else the toolkit's) major.minor
    cuda_version_source: str = "unknown"  # "runtime" (libcudart), "toolkit" (/usr/local/cuda) or "unknown"
    cuda_driver: str | None = None  # "13.0": the newest CUDA the driver runs
    gpu: str | None = None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def target(self) -> EngineTarget:
        """What an engine built here is bound to (the target part of the cache key)."""
        return EngineTarget(tensorrt_version=self.tensorrt_version, cuda_version=self.cuda_version,
                            compute_capability=self.compute_capability, jetpack=self.jetpack,
                            l4t_release=self.l4t_release, board=self.board)


def cuda_version(root: Path = Path("/")) -> tuple[str | None, str]:
    """The CUDA major.minor TensorRT runs on, and where it came from: the runtime library, else the toolkit."""
    runtime = versions.runtime_version()
    if runtime:
        return runtime, "runtime"
    toolkit = cuda_major_minor(versions.toolkit_version(root))
    return (toolkit, "toolkit") if toolkit else (None, "unknown")


def current_target(version: TrtVersion, root: Path = Path("/"), compute_capability: str | None = None) -> EngineTarget:
    """This device's `EngineTarget` now (at load time: `compute_capability` from the open CUDA context)."""
    board = detect_board(root)
    cc = compute_capability or query_gpu(0).compute_capability
    return EngineTarget(tensorrt_version=version.text, cuda_version=cuda_version(root)[0], compute_capability=cc,
                        jetpack=board.jetpack, l4t_release=board.l4t.text if board.l4t else None, board=board.model)


def gather(version: TrtVersion, profile: DeviceProfile, root: Path = Path("/"),
           compute_capability: str | None = None) -> DeviceFacts:
    board = detect_board(root)
    gpu = query_gpu(0)
    cc = compute_capability or gpu.compute_capability
    source = "cuda" if cc else "unknown"
    if cc is None and profile.compute_capability:
        cc, source = profile.compute_capability, "profile"
    cuda, cuda_source = cuda_version(root)
    return DeviceFacts(tensorrt_version=version.text, api_path=version.path, board=board.model,
                       l4t_release=board.l4t.text if board.l4t else None, jetpack=board.jetpack,
                       compute_capability=cc, compute_capability_source=source, profile=profile.name,
                       cuda_version=cuda, cuda_version_source=cuda_source,
                       cuda_driver=gpu.driver_cuda or versions.driver_version(), gpu=gpu.name)
