"""Provisioning steps that call other parts of edge-sdk: the doctor, the broker check, calibration capture,
the INT8 build, the TensorRT engine build, the smoke run, and Orin tuning.

Parts that are not in this build (an optional package not installed, or a module not written yet) make
their step `skipped` with the reason, never a silent no-op; a step the chosen precision or device needs
and cannot have makes it `failed` (never a silent downgrade).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from edge_sdk.config.app import AppConfig
from edge_sdk.errors import EdgeSdkError
from edge_sdk.provision import DEVICES, ORIN_PROFILES
from edge_sdk.provision.actions import Status, StepResult

log = logging.getLogger(__name__)

__all__ = ["DEVICES", "ORIN_PROFILES"]


def optional(module: str, attr: str) -> Callable[..., Any] | None:
    """`module.attr` if this build has it, else None."""
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    fn = getattr(mod, attr, None)
    return fn if callable(fn) else None


def resolve_device(device: str) -> tuple[str, StepResult]:
    """`orin` -> the Orin profile matching the detected board; others are taken as given."""
    if device != "orin":
        return device, StepResult("device", "ok", f"profile {device} (as given)")
    detect = optional("edge_sdk.device", "detect_board")
    if detect is None:
        raise EdgeSdkError("--device orin needs board detection, which this build lacks (edge_sdk.device)",
                           fix="name the board: --device orin-agx, orin-nx or orin-nano")
    board = detect()
    profile = getattr(board, "profile", None) or str(board)
    if profile not in ORIN_PROFILES:
        raise EdgeSdkError(f"this board ({board}) is not an Orin", fix="use --device cpu, or run on a Jetson Orin")
    return profile, StepResult("device", "ok", f"detected {board}: profile {profile}")


def doctor(profile: str) -> tuple[StepResult, list[str]]:
    """Run the doctor's checks for `profile`; returns the result and the fixes of failed required checks."""
    run_checks = optional("edge_sdk.device.doctor", "run_checks")
    if run_checks is None:
        return StepResult("doctor", "skipped", "edge_sdk.device.doctor is not in this build: no machine checks ran"), []
    checks = run_checks(profile)
    failed = [c for c in checks if getattr(c, "required", False) and not getattr(c, "ok", True)]
    fixes = [f"{getattr(c, 'name', c)}: {getattr(c, 'fix', '') or getattr(c, 'detail', '')}" for c in failed]
    if failed:
        return StepResult("doctor", "failed", f"{len(failed)} required check(s) failed"), fixes
    return StepResult("doctor", "ok", f"{len(checks)} checks passed"), []


def check_broker(cfg: AppConfig, password: str | None, timeout_s: float = 5.0) -> StepResult:
    """A real MQTT CONNECT to the configured broker (CONNACK success within `timeout_s`). An unreachable
    broker is a warning (the service spools and reconnects); a refused login is a failure."""
    if not cfg.mqtt.enabled:
        return StepResult("broker", "skipped", "mqtt.enabled is false")
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    m = cfg.mqtt
    where = f"{m.host}:{m.port}"
    done = threading.Event()
    outcome: list[str] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edge-sdk-provision-{cfg.device_id}",
                         protocol=mqtt.MQTTv5 if m.protocol == "5" else mqtt.MQTTv311)
    if m.username:
        client.username_pw_set(m.username, password)
    if m.tls is not None:
        client.tls_set(ca_certs=None if m.tls.ca_file is None else str(cfg.resolve(m.tls.ca_file)))

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any = None) -> None:
        outcome.append(str(reason))
        done.set()

    client.on_connect = on_connect
    try:
        client.connect(m.host, m.port, keepalive=10)
    except OSError as exc:
        return StepResult("broker", "warning", f"cannot reach {where}: {exc} (the service spools until it can)")
    client.loop_start()
    try:
        if not done.wait(timeout_s):
            return StepResult("broker", "warning", f"no CONNACK from {where} within {timeout_s:.0f} s")
    finally:
        client.disconnect()
        client.loop_stop()
    if outcome and outcome[0] != "Success":
        return StepResult("broker", "failed", f"{where} refused the connection: {outcome[0]}")
    return StepResult("broker", "ok", f"MQTT CONNECT to {where} accepted")


def build_steps(cfg: AppConfig, profile: str, precision: str, dry_run: bool) -> list[StepResult]:
    """Calibration capture, INT8 build (with its accuracy gate) and the TensorRT engine for this device."""
    results = []
    if precision == "fp32":
        why = f"precision fp32 ({'the cpu profile default' if profile == 'cpu' else 'as asked'}); --precision int8 builds INT8"
        results += [StepResult("calibration", "skipped", why), StepResult("int8 build", "skipped", why)]
    else:
        capture = optional("edge_sdk.calibration", "ensure_calibration_set")
        build = optional("edge_sdk.quant", "build_int8")
        results.append(_call("calibration", capture, dry_run, cfg, "edge_sdk.calibration.ensure_calibration_set"))
        results.append(_call("int8 build", build, dry_run, cfg, "edge_sdk.quant.build_int8", required=True))
    if profile == "cpu":
        results.append(StepResult("engine build", "skipped", "not applicable: the cpu profile runs ONNX Runtime"))
    else:
        engine = optional("edge_sdk.engines.trt.build", "build_engine")
        results.append(_call("engine build", engine, dry_run, cfg, "edge_sdk.engines.trt.build.build_engine",
                             required=True))
    return results


def _call(name: str, fn: Callable[..., Any] | None, dry_run: bool, cfg: AppConfig, qualname: str,
          required: bool = False) -> StepResult:
    if fn is None:
        status: Status = "failed" if required else "skipped"
        return StepResult(name, status, f"{qualname} is not in this build")
    if dry_run:
        return StepResult(name, "would change", f"would run {qualname} (it skips work whose output is cached)")
    try:
        out = fn(cfg)
    except EdgeSdkError as exc:
        return StepResult(name, "failed", str(exc))
    changed = bool(getattr(out, "changed", True))
    return StepResult(name, "changed" if changed else "unchanged", str(getattr(out, "summary", out)))


def tuning(profile: str, enabled: bool, dry_run: bool) -> list[StepResult]:
    if profile == "cpu":
        return [StepResult("tuning", "skipped", "not applicable on the cpu profile")]
    if not enabled:
        return [StepResult("tuning", "skipped", "off by default (nvpmodel mode and jetson_clocks); --tune applies them")]
    load = optional("edge_sdk.device.profiles", "load_profile")
    if load is None:
        return [StepResult("tuning", "failed", "--tune needs the device profiles (edge_sdk.device.profiles), absent here")]
    from edge_sdk.provision.actions import run_command

    prof = load(profile)
    mode = getattr(prof, "nvpmodel_mode", None)
    results = []
    if mode is not None:
        results.append(run_command("tuning: nvpmodel", ["nvpmodel", "-m", str(mode)], dry_run))
    results.append(run_command("tuning: jetson_clocks", ["jetson_clocks"], dry_run))
    return results
