"""Files step: directories, the model and media files, credentials, the config and the unit, each compared
with what is there (content, mode, owner) and written atomically only when different.

The unit is rendered here from `ctx.unit` (steps before this one may amend it) and refused when its
program lies where the service cannot see it (a home directory or /tmp).
"""

from __future__ import annotations

from pathlib import Path

from edge_sdk.provision.actions import Owner, ensure_dir, install_copy, install_text
from edge_sdk.provision.context import SERVICE_GROUPS, SERVICE_USER, Context
from edge_sdk.provision.layout import ETC, STATE, UNIT
from edge_sdk.provision.steps import Step
from edge_sdk.provision.steps.service_env import _interpreter_of
from edge_sdk.provision.steps.user import group_exists
from edge_sdk.provision.unit import check_exec, render_unit


def run(ctx: Context) -> None:
    composed, staged, layout, dry_run = ctx.composed, ctx.staged, ctx.layout, ctx.opts.dry_run
    if composed is None or staged is None:
        return
    config_file = layout.staged(layout.config)
    ctx.previous_config = config_file.read_text() if config_file.is_file() else None
    u = ctx.unit
    u.exec_path, u.config_path, u.user = ctx.exec_path, str(layout.config), SERVICE_USER
    u.drain_timeout_s = staged.daemon.drain_timeout_s
    u.credentials = {**{n: str(layout.credentials_dir / n) for n in composed.secrets},
                     **{n: str(layout.credentials_dir / n) for n in composed.secret_files}}
    u.gpu = ctx.profile != "cpu"
    u.memory_deny_write_execute = ctx.profile == "cpu"
    if layout.prefix is None:  # on the device: only the groups it has (an image keeps both)
        u.groups = [g for g in SERVICE_GROUPS if group_exists(g)]
    check_exec(u.exec_path, _interpreter_of(Path(u.exec_path)))
    under_prefix = layout.prefix is not None
    root = None if under_prefix else Owner("root", "root")
    config_owner = None if under_prefix else Owner("root", SERVICE_USER)
    service = None if under_prefix else Owner(SERVICE_USER, SERVICE_USER)
    out = [ensure_dir("dir etc", layout.staged(ETC), 0o750, config_owner, dry_run),
           ensure_dir("dir credentials", layout.staged(layout.credentials_dir), 0o700, root, dry_run),
           ensure_dir("dir state", layout.staged(STATE), 0o750, service, dry_run)]
    for runtime_dir in sorted({p.parent for p in composed.files if p.parent != STATE}):
        if str(runtime_dir).startswith(str(STATE)):
            out.append(ensure_dir(f"dir {runtime_dir.name}", layout.staged(runtime_dir), 0o750, service, dry_run))
    for runtime, src in sorted(composed.files.items()):
        name = "model" if runtime.parent == layout.models_dir else f"file {runtime.name}"
        out.append(install_copy(name, layout.staged(runtime), src, 0o640, config_owner, dry_run))
    for cred, value in sorted(composed.secrets.items()):
        out.append(install_text(f"secret {cred}", layout.staged(layout.credentials_dir / cred), value + "\n", 0o600,
                                root, dry_run))
    for cred, src in sorted(composed.secret_files.items()):
        out.append(install_copy(f"secret {cred}", layout.staged(layout.credentials_dir / cred), src, 0o600, root,
                                dry_run))
    out.append(install_text("config", config_file, composed.yaml_text(), 0o640, config_owner, dry_run))
    out.append(install_text("unit", layout.staged(UNIT), render_unit(u), 0o644, root, dry_run))
    ctx.report.add(*out)


STEP = Step("files", run, "install")
