"""Smoke step: the installed config runs on a few frames (real engine, real cameras, real broker) before the
service is enabled; cached by the content hash of the config and the installed files.

It never touches the running service's MQTT state: its own client id (`edge-sdk-<device_id>-smoke`; the same
id as the service would make the broker kick one of them off at every connect), its own throw-away spool (its
messages are never replayed by the service), and its own topics under `<prefix>/<device_id>/smoke/` (so its
retained `online`/`offline` status never overwrites the service's, and consumers of
`<prefix>/+/+/detections` do not see its frames; a broker ACL that grants the device `<prefix>/<device_id>/#`
allows them).

What it ran (engine, precision, CPU/GPU/DLA) becomes the report's `installed` line.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from edge_sdk.errors import EdgeSdkError
from edge_sdk.provision.actions import StepResult, install_text, sha256_file
from edge_sdk.provision.context import Context
from edge_sdk.provision.report import Installed
from edge_sdk.provision.steps import Step, optional

NAME = "smoke run"


def smoke_config(staged: Any, spool_dir: Path, password: str | None = None) -> Any:
    """The installed config as the smoke run uses it: own client id, own spool, own topics (AppConfig.side_run),
    and the password the service gets from its credential (there is no $CREDENTIALS_DIRECTORY here); only in
    memory."""
    cfg = staged.side_run("smoke", spool_dir)
    if password is not None:
        cfg.mqtt.password, cfg.mqtt.password_env = password, None
    return cfg


def _shipped_because(ctx: Context, engine: str) -> str:
    """Why this precision ships, from the INT8 build's "what ships, chosen by measurement" record for the
    installed engine (report/manifest `ships`, per target), else the gate's decision; "" without an INT8 build."""
    target = "tensorrt" if engine == "tensorrt" else "onnxruntime-cpu"
    for holder in (getattr(ctx.int8, "report", None), getattr(ctx.int8, "manifest", None)):
        ships = holder.get("ships") if isinstance(holder, dict) else None
        entry = ships.get(target) if isinstance(ships, dict) else None
        if isinstance(entry, dict):
            return f"{str(entry.get('chosen', '?')).upper()} chosen by measurement: {entry.get('reason', '')}".strip()
    report = getattr(ctx.int8, "report", None)
    if isinstance(report, dict) and report.get("decision"):
        return f"INT8 build: {report['decision']}"
    return ""


def run(ctx: Context) -> None:
    composed, staged, layout, opts = ctx.composed, ctx.staged, ctx.layout, ctx.opts
    if composed is None or staged is None:
        return
    key_src = composed.yaml_text() + "".join(sha256_file(p) for _, p in sorted(composed.files.items()))
    key = hashlib.sha256(key_src.encode()).hexdigest()
    state_path = layout.staged(layout.state_file)
    previous = json.loads(state_path.read_text()) if state_path.is_file() else {}
    rebuilt = ctx.changed("int8 build")
    if previous.get("validated") == key and not rebuilt:
        if isinstance(previous.get("installed"), dict):
            ctx.report.installed = Installed(**previous["installed"])
        ctx.report.add(StepResult(NAME, "unchanged", f"these artifacts passed before ({previous.get('summary', '')})"))
        return
    if opts.dry_run:
        ctx.report.add(StepResult(NAME, "would change", f"would run the installed config on {opts.validate_frames} frames"))
        return
    from edge_sdk.daemon import run_service

    note = ""
    if staged.mqtt.enabled and optional("edge_sdk.publish", "open_publisher") is None:
        staged = staged.model_copy(deep=True)
        staged.mqtt.enabled = False
        note = "; MQTT publishing NOT exercised: edge_sdk.publish.open_publisher is not in this build"
    try:
        with tempfile.TemporaryDirectory(prefix="edge-sdk-smoke-") as tmp:
            cfg = smoke_config(staged, Path(tmp), composed.secrets.get("mqtt-password"))
            summary = run_service(cfg, max_frames=opts.validate_frames)
    except (EdgeSdkError, ImportError) as exc:
        ctx.report.add(StepResult(NAME, "failed", f"the installed config does not run: {exc}"))
        return
    if summary.frames < opts.validate_frames:
        ctx.report.add(StepResult(NAME, "failed", f"only {summary.frames}/{opts.validate_frames} frames came through "
                                                  f"({summary.stopped_by})"))
        return
    eng = summary.stats.get("engine", {})
    installed = Installed(engine=str(eng.get("type")), precision=str(eng.get("precision")),
                          device=str(eng.get("device")), model=staged.model_name,
                          model_sha256=str(eng.get("model_sha256", "")),
                          shipped_because=_shipped_because(ctx, str(eng.get("type"))))
    ctx.report.installed = installed
    text = (f"{summary.frames} frames, {summary.detections} detections, {summary.fps:.1f} fps on "
            f"{installed.line()} (model sha256 {installed.model_sha256}){note}")
    install_text("provision state", state_path,
                 json.dumps({"validated": key, "summary": text, "installed": installed.__dict__}) + "\n", 0o640, None,
                 False)
    ctx.report.add(StepResult(NAME, "changed", text))


STEP = Step("smoke", run, "activate", skipped_names=(NAME,))
