"""`run_provision(opts)`: the whole provisioning run, in order, each step idempotent.

    device profile -> doctor (stop with fixes if a required check fails) -> compose the config
    -> broker check -> service user -> directories and files -> calibration capture / INT8 / engine build
    (a failure stops here: nothing is enabled) -> smoke run on the installed artifacts (cached by content
    hash) -> systemd daemon-reload/enable/start -> Orin tuning (off by default)

Under `--prefix` everything is written below that directory (paths inside the files stay the runtime
ones), and the service user and systemctl steps are skipped and reported so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge_sdk.errors import EdgeSdkError
from edge_sdk.provision import steps
from edge_sdk.provision.actions import (
    Owner,
    StepResult,
    ensure_dir,
    install_copy,
    install_text,
    own_tree,
    run_command,
    sha256_file,
)
from edge_sdk.provision.compose import Composed, compose, staged_config
from edge_sdk.provision.layout import ETC, STATE, UNIT, Layout
from edge_sdk.provision.unit import UnitSettings, render_unit

log = logging.getLogger(__name__)

SERVICE_USER = "edge-sdk"
SERVICE_GROUPS = ("video", "render")


@dataclass
class ProvisionOptions:
    device: str
    config: Path | None = None
    model: Path | None = None
    source: str | None = None
    broker: str | None = None
    prefix: Path | None = None
    dry_run: bool = False
    no_enable: bool = False
    tune: bool = False
    precision: str | None = None  # default: int8 on Orin profiles, fp32 on cpu
    validate_frames: int = 30
    exec_path: str | None = None  # the edge-sdk executable the unit runs; default the one running now
    board_root: Path = Path("/")  # where board detection looks (tests point it at a stand-in tree)


@dataclass
class ProvisionReport:
    device: str
    prefix: str | None
    dry_run: bool
    steps: list[StepResult] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, *results: StepResult) -> None:
        for r in results:
            self.steps.append(r)
            (log.warning if r.status in ("failed", "warning") else log.debug)("%s: %s %s", r.name, r.status, r.detail)

    @property
    def failed(self) -> bool:
        return any(s.status == "failed" for s in self.steps)

    @property
    def changed(self) -> list[str]:
        return [s.name for s in self.steps if s.status in ("changed", "would change")]

    def verdict(self) -> str:
        if self.failed:
            return "FAILED: " + ", ".join(s.name for s in self.steps if s.status == "failed")
        if not self.changed:
            return "nothing changed: the device is already provisioned as asked"
        verb = "would change" if self.dry_run else "changed"
        return f"{verb}: {', '.join(self.changed)}"

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "prefix": self.prefix, "dry_run": self.dry_run, "ok": not self.failed,
                "changed": self.changed, "verdict": self.verdict(), "fixes": self.fixes,
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


def _exec_path(opts: ProvisionOptions) -> str:
    if opts.exec_path:
        return opts.exec_path
    beside = Path(sys.executable).parent / "edge-sdk"
    return str(beside) if beside.exists() else (shutil.which("edge-sdk") or "/usr/local/bin/edge-sdk")


def run_provision(opts: ProvisionOptions) -> ProvisionReport:
    t0 = time.monotonic()
    if opts.device not in steps.DEVICES:
        raise EdgeSdkError(f"unknown device {opts.device!r}", fix=f"use one of: {', '.join(steps.DEVICES)}")
    profile, device_step = steps.resolve_device(opts.device, opts.board_root)
    report = ProvisionReport(profile, str(opts.prefix) if opts.prefix else None, opts.dry_run)
    report.add(device_step)
    if opts.prefix is None and os.geteuid() != 0 and not opts.dry_run:
        raise EdgeSdkError("installing into / needs root", fix="run with sudo, or use --prefix DIR / --dry-run")
    doctor_result, fixes = steps.doctor(profile, opts.board_root, Layout(opts.prefix).staged(STATE))
    report.add(doctor_result)
    if fixes:
        report.fixes = fixes
        report.seconds = time.monotonic() - t0
        return report
    layout = Layout(opts.prefix)
    composed = compose(layout, device=profile, config=opts.config, model=opts.model, source=opts.source,
                       broker=opts.broker)
    precision = opts.precision or steps.default_precision(profile)
    if precision == "int8":
        composed.data.setdefault("model", {})["precision"] = "int8"  # the service runs what provision built
    staged = staged_config(composed, layout)
    report.add(steps.check_broker(staged, composed.secrets.get("mqtt-password")))
    report.add(_service_user(opts))
    unit_text = render_unit(UnitSettings(
        exec_path=_exec_path(opts), config_path=str(layout.config), user=SERVICE_USER,
        drain_timeout_s=staged.daemon.drain_timeout_s,
        credentials={**{n: str(layout.credentials_dir / n) for n in composed.secrets},
                     **{n: str(layout.credentials_dir / n) for n in composed.secret_files}},
        gpu=profile != "cpu", memory_deny_write_execute=profile == "cpu"))
    files = _install_files(layout, composed, unit_text, opts.dry_run)
    report.add(*files)
    report.add(*steps.build_steps(staged, profile, precision, opts.dry_run))
    if report.failed:
        report.add(StepResult("smoke run", "skipped", "an earlier step failed"),
                   *[StepResult(n, "skipped", "an earlier step failed: not enabling a broken install")
                     for n in ("systemctl daemon-reload", "systemctl enable", "systemctl start")])
        report.seconds = time.monotonic() - t0
        return report
    rebuilt = any(r.name in ("int8 build", "engine build") and r.status == "changed" for r in report.steps)
    report.add(_smoke_run(layout, composed, staged, opts, force=rebuilt))
    if opts.prefix is None:
        service = Owner(SERVICE_USER, SERVICE_USER)
        for sub in ("build", "calibration"):
            report.add(own_tree(f"owner {sub}", layout.staged(STATE / sub), service, opts.dry_run))
    report.add(*_systemd(opts, unit_changed=any(r.name == "unit" and r.status == "changed" for r in files),
                         restart=any(r.status == "changed" for r in files)))
    report.add(*steps.tuning(profile, opts.tune, opts.dry_run))
    report.seconds = time.monotonic() - t0
    return report


def _service_user(opts: ProvisionOptions) -> StepResult:
    if opts.prefix is not None:
        return StepResult("service user", "skipped", f"--prefix: create `{SERVICE_USER}` on the device (useradd --system)")
    if Owner(SERVICE_USER, SERVICE_USER).ids() is not None:
        return StepResult("service user", "unchanged", f"{SERVICE_USER} exists")
    groups = ",".join(g for g in SERVICE_GROUPS if _group_exists(g))
    argv = ["useradd", "--system", "--user-group", "--home-dir", str(STATE), "--no-create-home",
            "--shell", "/usr/sbin/nologin"] + (["--groups", groups] if groups else []) + [SERVICE_USER]
    return run_command("service user", argv, opts.dry_run)


def _group_exists(name: str) -> bool:
    import grp

    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def _install_files(layout: Layout, composed: Composed, unit_text: str, dry_run: bool) -> list[StepResult]:
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
        out.append(install_text(f"secret {cred}", layout.staged(layout.credentials_dir / cred), value + "\n", 0o600, root,
                                dry_run))
    for cred, src in sorted(composed.secret_files.items()):
        out.append(install_copy(f"secret {cred}", layout.staged(layout.credentials_dir / cred), src, 0o600, root, dry_run))
    out.append(install_text("config", layout.staged(layout.config), composed.yaml_text(), 0o640, config_owner, dry_run))
    out.append(install_text("unit", layout.staged(UNIT), unit_text, 0o644, root, dry_run))
    return out


def _smoke_run(layout: Layout, composed: Composed, staged: Any, opts: ProvisionOptions, *, force: bool) -> StepResult:
    """Run the installed config on a few frames (real engine, real source, real broker); cached by hash."""
    name = "smoke run"
    key_src = composed.yaml_text() + "".join(sha256_file(p) for _, p in sorted(composed.files.items()))
    key = hashlib.sha256(key_src.encode()).hexdigest()
    state_path = layout.staged(layout.state_file)
    previous = json.loads(state_path.read_text()) if state_path.is_file() else {}
    if previous.get("validated") == key and not force:
        return StepResult(name, "unchanged", f"these artifacts passed before ({previous.get('summary', '')})")
    if opts.dry_run:
        return StepResult(name, "would change", f"would run the installed config on {opts.validate_frames} frames")
    from edge_sdk.daemon import run_service

    note = ""
    if staged.mqtt.enabled and steps.optional("edge_sdk.publish", "open_publisher") is None:
        staged = staged.model_copy(deep=True)
        staged.mqtt.enabled = False
        note = "; MQTT publishing NOT exercised: edge_sdk.publish.open_publisher is not in this build"
    import tempfile

    try:
        # A throw-away spool: the smoke run's messages must never be replayed by the real service.
        with tempfile.TemporaryDirectory(prefix="edge-sdk-smoke-") as tmp:
            staged = staged.model_copy(deep=True)
            staged.mqtt.spool.path = str(Path(tmp) / "smoke-spool.sqlite")
            summary = run_service(staged, max_frames=opts.validate_frames)
    except (EdgeSdkError, ImportError) as exc:
        return StepResult(name, "failed", f"the installed config does not run: {exc}")
    if summary.frames < opts.validate_frames:
        return StepResult(name, "failed", f"only {summary.frames}/{opts.validate_frames} frames came through "
                                          f"({summary.stopped_by})")
    eng = summary.stats.get("engine", {})
    text = (f"{summary.frames} frames, {summary.detections} detections, {summary.fps:.1f} fps on "
            f"{eng.get('type')}/{eng.get('device')} {eng.get('precision')} (model sha256 {eng.get('model_sha256')}){note}")
    install_text("provision state", state_path, json.dumps({"validated": key, "summary": text}) + "\n", 0o640, None,
                 False)
    return StepResult(name, "changed", text)


def _systemd(opts: ProvisionOptions, *, unit_changed: bool, restart: bool) -> list[StepResult]:
    names = ("systemctl daemon-reload", "systemctl enable", "systemctl start")
    if opts.prefix is not None or opts.no_enable:
        why = "--prefix" if opts.prefix is not None else "--no-enable"
        return [StepResult(n, "skipped", why) for n in names]
    out = []
    if unit_changed:
        out.append(run_command(names[0], ["systemctl", "daemon-reload"], opts.dry_run))
    else:
        out.append(StepResult(names[0], "unchanged", "the unit did not change"))
    if _systemctl_ok("is-enabled"):
        out.append(StepResult(names[1], "unchanged", "already enabled"))
    else:
        out.append(run_command(names[1], ["systemctl", "enable", "edge-sdk.service"], opts.dry_run))
    if _systemctl_ok("is-active") and not restart:
        out.append(StepResult(names[2], "unchanged", "already running"))
    else:
        verb = "restart" if _systemctl_ok("is-active") else "start"
        out.append(run_command(names[2], ["systemctl", verb, "edge-sdk.service"], opts.dry_run))
    return out


def _systemctl_ok(verb: str) -> bool:
    if shutil.which("systemctl") is None:
        return False
    return subprocess.run(["systemctl", verb, "--quiet", "edge-sdk.service"], check=False).returncode == 0
