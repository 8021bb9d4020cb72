"""The builder's timing cache, one file per TensorRT version and device, reused across builds.

Kernel timings are what makes a build slow; a timing cache from an earlier build of any model on the same
TensorRT and device lets TensorRT skip re-timing the same layers. A cache from another version or device
would be rejected by TensorRT (or worse, mislead it), so the file name carries both:
`<dir>/trt-10.3.0_orin-agx-sm87.cache`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from edge_sdk.atomic import write_bytes_atomic
from edge_sdk.engines.trt.version import TrtVersion

if TYPE_CHECKING:
    import tensorrt as trt

log = logging.getLogger(__name__)


@dataclass
class TimingCacheUse:
    path: Path
    loaded_bytes: int = 0  # 0: started empty
    saved_bytes: int = 0
    rejected: bool = False  # an existing file TensorRT refused (started empty instead, and overwritten)


def timing_cache_path(directory: Path, version: TrtVersion, device_slug: str) -> Path:
    return directory / f"trt-{version.short}_{device_slug}.cache"


def attach(config: trt.IBuilderConfig, path: Path) -> TimingCacheUse:
    """Load `path` (or start empty) and set it as the config's timing cache."""
    use = TimingCacheUse(path=path)
    data = b""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("cannot read timing cache %s (%s); starting an empty one", path, exc.strerror)
    cache = config.create_timing_cache(data)
    if not config.set_timing_cache(cache, False):
        log.warning("TensorRT rejected timing cache %s (made by another version or device?); starting empty", path)
        use.rejected = True
        data = b""
        config.set_timing_cache(config.create_timing_cache(data), False)
    use.loaded_bytes = len(data)
    if data:
        log.info("reusing timing cache %s (%d bytes)", path, len(data))
    return use


def save(config: trt.IBuilderConfig, use: TimingCacheUse) -> None:
    """Write the config's timing cache back atomically (temp file, fsync, rename)."""
    data = bytes(config.get_timing_cache().serialize())
    write_bytes_atomic(use.path, data)
    use.saved_bytes = len(data)
