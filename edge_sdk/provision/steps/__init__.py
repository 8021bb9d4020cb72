"""The provisioning steps, one module each, run in the order of `STEPS`.

Each step is a `Step(name, run, phase)`: `run(ctx)` reads what earlier steps left in the `Context` and adds
its `StepResult`s to `ctx.report`. Phases:

- `prepare`: runs first; a step that sets `ctx.stop` (doctor's required checks failed) ends the run there.
- `install`: config, environment, files and builds; they run even after another install step failed, so
  the report lists every problem at once.
- `activate`: smoke run, ownership, systemctl, tuning; after any failure they are reported as skipped
  (never enable or start a broken install).

To add a step (e.g. a local Mosquitto bridged to a central broker): write `steps/<name>.py` with a
`STEP = Step(...)` and put it into `STEPS` where it belongs; amend `ctx.unit` (After=/Wants=) in an
install step that runs before `files`, which renders the unit.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from edge_sdk.provision.context import Context

Phase = Literal["prepare", "install", "activate"]


@dataclass(frozen=True)
class Step:
    name: str  # the module's name, for humans and for ordering
    run: Callable[[Context], None]
    phase: Phase
    skipped_names: tuple[str, ...] = ()  # result names reported as skipped when an activate step cannot run


def optional(module: str, attr: str) -> Callable[..., Any] | None:
    """`module.attr` if this build has it, else None."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    fn = getattr(mod, attr, None)
    return fn if callable(fn) else None


# The order of a provisioning run; each name is a module of this package with a STEP.
ORDER = ("device", "doctor", "config", "bridge", "broker", "user", "service_env", "files", "build", "smoke",
         "ownership", "bridge_service", "systemd", "tuning")


def steps() -> list[Step]:
    return [importlib.import_module(f"edge_sdk.provision.steps.{name}").STEP for name in ORDER]
