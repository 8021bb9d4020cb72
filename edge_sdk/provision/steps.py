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
from pathlib import Path
from typing import Any

from edge_sdk.config.app import AppConfig
from edge_sdk.errors import DeviceError, EdgeSdkError
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


def resolve_device(device: str, root: Path = Path("/")) -> tuple[str, StepResult]:
    """`orin` -> the Orin profile matching the board detected under `root`; others are taken as given."""
    if device != "orin":
        return device, StepResult("device", "ok", f"profile {device} (as given)")
    from edge_sdk.device.jetson import detect_board
    from edge_sdk.device.profiles import match_profile

    board = detect_board(root)
    profile = match_profile(board.model)
    if profile is None or profile.name not in ORIN_PROFILES:
        raise DeviceError(f"--device orin: this board is not a Jetson Orin edge-sdk knows ({board.describe()})",
                          fix="name the profile (--device orin-agx, orin-nx, orin-nano, or cpu)")
    return profile.name, StepResult("device", "ok", f"detected {board.describe()}: profile {profile.name}")


def default_precision(profile: str) -> str:
    from edge_sdk.device.profiles import load_profile

    return load_profile(profile).default_precision


def doctor(profile: str, root: Path, disk_path: Path) -> tuple[StepResult, list[str]]:
    """Run the doctor's checks for `profile`; returns the result and the fixes of failed required checks."""
    try:
        from edge_sdk.device.doctor import DoctorInput, run_doctor
    except ImportError:
        return StepResult("doctor", "skipped", "edge_sdk.device.doctor is not in this build: no machine checks ran"), []
    while not disk_path.exists():
        disk_path = disk_path.parent
    checks = run_doctor(DoctorInput(root=root, device=profile, broker=None, disk_path=disk_path))
    failed = [c for c in checks if c.required and not c.ok]
    warned = [c.name for c in checks if c.status == "WARN"]
    if failed:
        fixes = [f"{c.name}: {c.detail}" + (f" (fix: {c.fix})" if c.fix else "") for c in failed]
        return StepResult("doctor", "failed", f"required check(s) failed: {', '.join(c.name for c in failed)}"), fixes
    note = f"; warnings: {', '.join(warned)}" if warned else ""
    return StepResult("doctor", "ok", f"{len(checks)} checks, none of the required failed{note}"), []


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
    outcome: Any = None
    if precision != "int8":
        why = f"precision {precision} (the {profile} profile's default or as asked); --precision int8 builds INT8"
        results += [StepResult("calibration", "skipped", why), StepResult("int8 build", "skipped", why)]
    else:
        results.append(calibration_step(cfg, dry_run))
        if results[-1].status == "failed":
            results.append(StepResult("int8 build", "failed", "needs the calibration frames (see above)"))
        else:
            result, outcome = int8_step(cfg, dry_run)
            results.append(result)
    if profile == "cpu":
        results.append(StepResult("engine build", "skipped", "not applicable: the cpu profile runs ONNX Runtime"))
    elif cfg.engine.type != "tensorrt":
        results.append(StepResult("engine build", "skipped", f"engine.type is {cfg.engine.type} in the config "
                                  f"(the {profile} profile's engine is tensorrt): nothing to build"))
    elif precision == "int8" and outcome is None:
        status: Status = "would change" if dry_run and results[-1].status != "failed" else "failed"
        results.append(StepResult("engine build", status, "needs the INT8 model (see above); no FP32 fallback"))
    else:
        results.append(engine_step(cfg, outcome, dry_run))
    return results


def int8_step(cfg: AppConfig, dry_run: bool) -> tuple[StepResult, Any]:
    build = optional("edge_sdk.quant", "build_int8")
    if build is None:
        return StepResult("int8 build", "failed", "edge_sdk.quant.build_int8 is not in this build"), None
    if dry_run:
        return StepResult("int8 build", "would change", "would run the INT8 build (reused when its inputs are unchanged)"), None
    try:
        outcome = build(cfg, progress=False)
    except EdgeSdkError as exc:
        return StepResult("int8 build", "failed", str(exc)), None
    return StepResult("int8 build", "changed" if outcome.changed else "unchanged", outcome.summary), outcome


def engine_step(cfg: AppConfig, outcome: Any, dry_run: bool) -> StepResult:
    """The TensorRT engine of the INT8 step's TensorRT-form Q/DQ model (or of the float model), for this device."""
    if dry_run:
        return StepResult("engine build", "would change", "would build the TensorRT engine (reused when unchanged)")
    try:
        from edge_sdk.config.engine import TensorRtEngineConfig
        from edge_sdk.device.profiles import resolve_profile
        from edge_sdk.engines.trt.builder import build_engine
        from edge_sdk.engines.trt.version import require_tensorrt
        from edge_sdk.quant.trt_cache import ensure_cache
    except ImportError as exc:
        return StepResult("engine build", "failed", f"the TensorRT engine builder is not in this build ({exc})")
    if not isinstance(cfg.engine, TensorRtEngineConfig):
        return StepResult("engine build", "failed", "engine.type is not tensorrt")
    try:
        version = require_tensorrt()
        if outcome is not None:
            model, cache = outcome.model("trt"), ensure_cache(outcome.folder, version.text)
            cal_sha = str(outcome.manifest["calibration"]["sha256"])
        else:
            model, cache, cal_sha = cfg.resolve(cfg.model.path), None, None
        artifact = build_engine(model, cache, resolve_profile(cfg.device), cfg.engine, cfg.resolve(cfg.engine.engine_dir),
                                calibration_set_sha256=cal_sha)
    except EdgeSdkError as exc:
        return StepResult("engine build", "failed", str(exc))
    return StepResult("engine build", "unchanged" if artifact.reused else "changed", artifact.describe())


def calibration_step(cfg: AppConfig, dry_run: bool) -> StepResult:
    """Capture calibration frames from the configured camera when the set is below calibration.min_frames."""
    ensure = optional("edge_sdk.calibration", "ensure_calibration_set")
    if ensure is None:
        return StepResult("calibration", "failed", "edge_sdk.calibration.ensure_calibration_set is not in this build")
    from edge_sdk.calibration import frames_folder

    folder = frames_folder(cfg)
    if dry_run:
        return StepResult("calibration", "would change",
                          f"would capture frames into {folder} if it holds fewer than {cfg.calibration.min_frames}")
    # A looping file would never end when its unique frames are fewer than the target: capture it once.
    once = cfg.model_copy(deep=True)
    for src in once.sources:
        src.uri = src.uri.replace("loop=1", "loop=0")
    try:
        out = ensure(once, progress=False)
    except EdgeSdkError as exc:
        return StepResult("calibration", "failed", str(exc))
    return StepResult("calibration", "changed" if out.changed else "unchanged", out.summary)


def tuning(profile: str, enabled: bool, dry_run: bool) -> list[StepResult]:
    if profile == "cpu":
        return [StepResult("tuning", "skipped", "not applicable on the cpu profile")]
    if not enabled:
        return [StepResult("tuning", "skipped", "off by default (nvpmodel mode and jetson_clocks); --tune applies them")]
    from edge_sdk.device.profiles import load_profile
    from edge_sdk.provision.actions import run_command

    power = load_profile(profile).power
    results = []
    if power.nvpmodel_mode is not None:
        results.append(run_command("tuning: nvpmodel", ["nvpmodel", "-m", str(power.nvpmodel_mode)], dry_run))
    if power.jetson_clocks:
        results.append(run_command("tuning: jetson_clocks", ["jetson_clocks"], dry_run))
    return results or [StepResult("tuning", "skipped", f"the {profile} profile has no power settings")]
