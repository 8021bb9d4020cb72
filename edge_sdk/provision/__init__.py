"""`edge-sdk provision`: turn a freshly flashed device into a supervised detection service, idempotently.

`run_provision(ProvisionOptions(...))` returns a `ProvisionReport` (one `StepResult` per action).
"""

from edge_sdk.provision.plan import ProvisionOptions, ProvisionReport, run_provision

__all__ = ["ProvisionOptions", "ProvisionReport", "run_provision"]
