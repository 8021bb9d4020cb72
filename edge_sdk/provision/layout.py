"""Where provisioning puts things: runtime paths on the device, and where they are written (under --prefix).

Paths written into the config and the unit are always the runtime paths (/etc/edge-sdk/..., /var/lib/edge-sdk/...),
so a tree built with `--prefix` can be copied onto a device image as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

ETC = PurePosixPath("/etc/edge-sdk")
STATE = PurePosixPath("/var/lib/edge-sdk")
UNIT = PurePosixPath("/etc/systemd/system/edge-sdk.service")
OPT = PurePosixPath("/opt/edge-sdk")  # the service's own Python environment (never a checkout's .venv)
VENV = OPT / "venv"
SERVICE_EXEC = VENV / "bin" / "edge-sdk"




@dataclass(frozen=True)
class Layout:
    prefix: Path | None = None

    def staged(self, runtime: PurePosixPath | str) -> Path:
        """Where the runtime path `runtime` is written on this machine."""
        p = PurePosixPath(runtime)
        return Path(self.prefix / p.relative_to("/")) if self.prefix is not None else Path(p)

    @property
    def config(self) -> PurePosixPath:
        return ETC / "app.yaml"

    @property
    def credentials_dir(self) -> PurePosixPath:
        return ETC / "credentials"

    @property
    def tls_dir(self) -> PurePosixPath:
        return ETC / "tls"

    @property
    def models_dir(self) -> PurePosixPath:
        return STATE / "models"

    @property
    def media_dir(self) -> PurePosixPath:
        return STATE / "media"

    @property
    def state_file(self) -> PurePosixPath:
        return STATE / "provision-state.json"
