"""The report of one provisioning run: one `StepResult` per action, the fixes of failed checks, and what
was installed (engine, precision, and where it runs: CPU, GPU or a DLA core), as text or JSON."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from edge_sdk.provision.actions import StepResult

log = logging.getLogger(__name__)


def runs_on(device: str | None) -> str:
    """The engine's device as people say it: "cpu" -> CPU, "cuda:0" -> GPU, "dla:1" -> DLA core 1."""
    if not device:
        return "unknown"
    if device.startswith("dla"):
        return f"DLA core {device.partition(':')[2] or '0'}"
    if device.startswith(("cuda", "gpu")):
        return "GPU"
    return device.upper()


@dataclass
class Installed:
    """What the service runs, as the smoke run loaded it (or as it was recorded when it passed before)."""

    engine: str
    precision: str
    device: str  # the engine's device string ("cpu", "cuda:0", "dla:0")
    model: str = ""
    model_sha256: str = ""
    shipped_because: str = ""  # the INT8 build's decision when it chose what ships

    def line(self) -> str:
        why = f" ({self.shipped_because})" if self.shipped_because else ""
        return f"{self.engine} {self.precision} on {runs_on(self.device)}{why}"

    def as_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "precision": self.precision, "device": self.device,
                "runs_on": runs_on(self.device), "model": self.model, "model_sha256": self.model_sha256,
                "shipped_because": self.shipped_because}


@dataclass
class ProvisionReport:
    device: str
    prefix: str | None
    dry_run: bool
    steps: list[StepResult] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    installed: Installed | None = None
    wanted: str = ""  # what was asked for, e.g. "tensorrt int8" (said when nothing was installed)

    def add(self, *results: StepResult) -> None:
        for r in results:
            self.steps.append(r)
            (log.warning if r.status in ("failed", "warning") else log.debug)("%s: %s %s", r.name, r.status, r.detail)

    def step(self, name: str) -> StepResult | None:
        return next((s for s in self.steps if s.name == name), None)

    @property
    def failed(self) -> bool:
        return any(s.status == "failed" for s in self.steps)

    @property
    def changed(self) -> list[str]:
        return [s.name for s in self.steps if s.status in ("changed", "would change")]

    def verdict(self) -> str:
        what = (f"; installed: {self.installed.line()} ({self.device} profile)" if self.installed is not None
                else f"; asked for: {self.wanted} ({self.device} profile)" if self.wanted else "")
        if self.failed:
            return "FAILED: " + ", ".join(s.name for s in self.steps if s.status == "failed") + what
        if not self.changed:
            return "nothing changed: the device is already provisioned as asked" + what
        verb = "would change" if self.dry_run else "changed"
        return f"{verb}: {', '.join(self.changed)}{what}"

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "prefix": self.prefix, "dry_run": self.dry_run, "ok": not self.failed,
                "changed": self.changed, "verdict": self.verdict(), "fixes": self.fixes,
                "installed": self.installed.as_dict() if self.installed else None, "asked_for": self.wanted,
                "seconds": round(self.seconds, 3), "steps": [s.as_dict() for s in self.steps]}

    def text(self) -> str:
        width = max((len(s.name) for s in self.steps), default=10)
        lines = [f"edge-sdk provision --device {self.device}" + (f" --prefix {self.prefix}" if self.prefix else "")
                 + (" (dry run)" if self.dry_run else "")]
        lines += [f"  {s.name:<{width}}  {s.status:<12}  {s.detail}" for s in self.steps]
        if self.fixes:
            lines.append("fixes:")
            lines += [f"  - {f}" for f in self.fixes]
        lines.append(self.verdict())
        return "\n".join(lines)
