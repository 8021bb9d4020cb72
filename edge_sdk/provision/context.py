"""What the provisioning steps share: the options of the run, the layout, the report, and what earlier steps
found or decided (the device profile, the composed config, the unit's settings, the INT8 build).

A step reads what it needs from `Context` and records its results with `ctx.report.add(...)`; it never
calls another step. New steps (e.g. a local broker bridged to a central one) add themselves to
`edge_sdk.provision.steps.STEPS` and may amend `ctx.unit` (After=/Wants= another service) before the unit
is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_sdk.provision.layout import SERVICE_EXEC, Layout
from edge_sdk.provision.unit import UnitSettings

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.provision.compose import Composed
    from edge_sdk.provision.report import ProvisionReport

SERVICE_USER = "edge-sdk"
SERVICE_GROUPS = ("video", "render")


@dataclass
class ProvisionOptions:
    device: str
    config: Path | None = None
    model: Path | None = None
    source: str | None = None
    broker: str | None = None
    engine: str | None = None  # default: the device profile's; another than the config's needs saying so
    prefix: Path | None = None
    dry_run: bool = False
    no_enable: bool = False
    tune: bool = False
    precision: str | None = None  # default: the device profile's (int8 on Orin, fp32 on cpu)
    validate_frames: int = 30
    package: Path | None = None  # the edge-sdk (wheel or source folder) for the service's venv; default: ours
    exec_path: str | None = None  # run this edge-sdk instead of making /opt/edge-sdk/venv (tests, own images)
    board_root: Path = Path("/")  # where board detection looks (tests point it at a stand-in tree)
    bridge: str | None = None  # mqtts://[user[:password]@]central[:port]: a local Mosquitto bridged to it
    site: str | None = None  # the fleet site: central topics are <site>/<device>/...
    bridge_ca: Path | None = None
    bridge_cert: Path | None = None
    bridge_key: Path | None = None  # installed as the credential bridge-tls-key
    bridge_local_port: int = 1883
    trust_keys: list[Path] = field(default_factory=list)  # Ed25519 public keys model bundles must be signed with


@dataclass
class Context:
    opts: ProvisionOptions
    report: ProvisionReport
    layout: Layout
    profile: str = ""
    precision: str = "fp32"
    composed: Composed | None = None
    staged: AppConfig | None = None  # the installed config, with paths where they are written here
    previous_config: str | None = None  # the installed config before this run (for reload vs restart)
    unit: UnitSettings = field(default_factory=UnitSettings)
    int8: Any = None  # edge_sdk.quant BuildOutcome when the INT8 step ran
    stop: bool = False  # a step found a reason to go no further (doctor's required checks)

    @property
    def exec_path(self) -> str:
        return self.opts.exec_path or str(SERVICE_EXEC)

    def changed(self, *names: str) -> bool:
        """True if any step of these names (or, without names, any step at all) changed something."""
        return any(s.status == "changed" and (not names or s.name in names) for s in self.report.steps)
