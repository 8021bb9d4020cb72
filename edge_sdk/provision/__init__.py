"""`edge-sdk provision`: turn a freshly flashed device into a supervised detection service, idempotently.

`run_provision(ProvisionOptions(...))` returns a `ProvisionReport` (one `StepResult` per action).
Imports are lazy so `edge-sdk --help` stays light.
"""

from __future__ import annotations

from typing import Any

ORIN_PROFILES = ("orin-agx", "orin-nx", "orin-nano")
DEVICES = ORIN_PROFILES + ("orin", "cpu")

__all__ = ["DEVICES", "ORIN_PROFILES", "ProvisionOptions", "ProvisionReport", "run_provision"]


def __getattr__(name: str) -> Any:
    if name in ("ProvisionOptions", "ProvisionReport", "run_provision"):
        from edge_sdk.provision import plan

        return getattr(plan, name)
    raise AttributeError(name)
