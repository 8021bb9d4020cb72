"""`edge-sdk doctor`: what this machine can do, each check OK / WARN / FAIL with the fix.

On a Jetson a missing TensorRT, CUDA or pycuda is a FAIL (the device path cannot run); on any other machine
it is a WARN (the CPU path still works). Checks never raise: a check that cannot tell says so.
"""

from __future__ import annotations

import glob
from pathlib import Path

from edge_sdk.device import probes
from edge_sdk.device.checks import REQUIRED, Check, DoctorInput, Status, gather_stack
from edge_sdk.device.doctor_gpu import (
    check_cuda,
    check_dla,
    check_driver_stack,
    check_engine_target,
    check_kernels,
    check_pycuda,
    check_tensorrt,
    tensorrt_seen,
)
from edge_sdk.device.jetson import BoardInfo, detect_board
from edge_sdk.device.profiles import DeviceProfile, resolve_profile
from edge_sdk.errors import EdgeSdkError

__all__ = ["REQUIRED", "Check", "DoctorInput", "Status", "run_checks", "run_doctor"]

def check_board(board: BoardInfo) -> Check:
    if board.l4t_error:
        return Check("board", "WARN", f"{board.model or 'unknown board'}: {board.l4t_error}",
                     "reflash or repair /etc/nv_tegra_release (JetPack writes it)")
    if not board.is_jetson:
        return Check("board", "OK", f"{board.model or 'no device-tree model'} ({board.arch}): not a Jetson; "
                     "the CPU path (ONNX Runtime) applies",
                     data={"model": board.model, "arch": board.arch})
    return Check("board", "OK", board.model or "Jetson (no device-tree model)", data={"model": board.model})


def check_l4t(board: BoardInfo, profile: DeviceProfile | None = None) -> Check:
    if not board.is_jetson:
        return Check("L4T/JetPack", "OK", "n/a (not a Jetson)")
    if board.l4t is None:
        return Check("L4T/JetPack", "WARN", "no readable /etc/nv_tegra_release", "install JetPack (SDK Manager or apt)")
    data: dict[str, object] = {"l4t": board.l4t.text, "jetpack": board.jetpack, "raw": board.l4t.raw}
    if board.jetpack is None:
        return Check("L4T/JetPack", "WARN", f"L4T {board.l4t.text}: unknown JetPack", "edge-sdk supports JetPack 6 and 7",
                     data)
    if board.l4t.major < 36:
        return Check("L4T/JetPack", "FAIL", f"L4T {board.l4t.text} = JetPack {board.jetpack}: too old",
                     "upgrade to JetPack 6 (TensorRT 8.6/10.3) or later", data)
    if profile is not None and profile.jetpacks and board.jetpack not in profile.jetpacks and board.l4t.jetpack_exact:
        return Check("L4T/JetPack", "WARN", f"L4T {board.l4t.text} = JetPack {board.jetpack}, which profile "
                     f"{profile.name} does not list ({', '.join(profile.jetpacks)})",
                     "use a JetPack the board's profile lists (JetPack 6.2 or 7.2 are edge-sdk's primary targets)", data)
    status: Status = "OK" if board.l4t.jetpack_exact else "WARN"
    fix = None if board.l4t.jetpack_exact else "newer than edge-sdk's table; report the JetPack version if things fail"
    return Check("L4T/JetPack", status, f"L4T {board.l4t.text} = JetPack {board.jetpack}", fix, data)


def check_profile(inp: DoctorInput, board: BoardInfo) -> tuple[Check, DeviceProfile | None]:
    try:
        detected = resolve_profile("auto", root=inp.root, directory=inp.profiles_dir, board=board)
        chosen = detected if inp.device == "auto" else resolve_profile(inp.device, directory=inp.profiles_dir)
    except EdgeSdkError as exc:
        return Check("device profile", "FAIL", exc.message, exc.fix), None
    data: dict[str, object] = {"profile": chosen.name, "detected": detected.name, "dla_cores": chosen.dla_cores,
                               "memory_budget_mb": chosen.memory_budget_mb, "default_engine": chosen.default_engine}
    detail = (f"{chosen.name}: {chosen.description} (DLA cores {chosen.dla_cores}, memory budget "
              f"{chosen.memory_budget_mb} MiB, default {chosen.default_engine}/{chosen.default_precision})")
    if chosen.name != detected.name:
        return Check("device profile", "WARN", f"config says {chosen.name} but this board is {detected.name}",
                     f"set device: {detected.name} (or auto) in the config", data), chosen
    return Check("device profile", "OK", detail, data=data), chosen


def check_video(board: BoardInfo) -> Check:
    try:
        from edge_sdk.sources.gst_support import probe
    except ImportError as exc:
        return Check("OpenCV/GStreamer", "WARN", f"cannot probe: {exc}")
    info = probe(jetson=board.is_jetson)
    cv = info.get("opencv", {})
    detail = (f"OpenCV {cv.get('version', 'missing')} (GStreamer {'yes' if cv.get('gstreamer') else 'no'}); "
              f"GStreamer path: {info.get('backend') or 'none'}")
    warnings = [str(w) for w in info.get("warnings", [])]
    if warnings:
        return Check("OpenCV/GStreamer", "WARN", detail + "; " + warnings[0], "; ".join(warnings),
                     {"probe": {k: info[k] for k in ("backend", "rtsp_backend")}})
    return Check("OpenCV/GStreamer", "OK", detail, data={"backend": info.get("backend")})


def check_cameras(root: Path) -> Check:
    from edge_sdk.sources.discover import list_cameras

    cams = list_cameras(root / "sys/class/video4linux")
    nodes = sorted(glob.glob(str(root / "dev/video*")))
    if not cams and not nodes:
        return Check("cameras", "WARN", "no /dev/video* devices",
                     "connect a USB or CSI camera (or use file:// and rtsp:// sources)")
    names = [f"{c['device']} {c['name']} -> {c['uri']}" for c in cams] or [n.removeprefix(str(root).rstrip("/")) for n in nodes]
    return Check("cameras", "OK", f"{len(names)} found: " + "; ".join(names), data={"cameras": cams, "nodes": nodes})


def check_broker(inp: DoctorInput) -> Check:
    if inp.broker is None:
        return Check("MQTT broker", "WARN", "not checked", "pass --config FILE or --broker HOST:PORT")
    host, port = inp.broker
    p = probes.probe_broker(host, port, tls=inp.broker_tls)
    data: dict[str, object] = {"host": host, "port": port}
    if not p.reachable:
        return Check("MQTT broker", "FAIL", p.detail, "start the broker (sudo systemctl start mosquitto) or correct "
                     "mqtt.host/mqtt.port; check firewalls", data)
    if inp.broker_tls or p.accepted:
        return Check("MQTT broker", "OK", f"{host}:{port}: {p.detail}", data=data)
    return Check("MQTT broker", "WARN", f"{host}:{port}: {p.detail}", "set mqtt.username and a password credential "
                 "if the broker needs them (doctor connects anonymously)", data)


def check_disk(path: Path) -> Check:
    where, free = probes.disk_free_mb(path)
    data: dict[str, object] = {"path": str(where), "free_mb": free}
    if free < 1024:
        return Check("disk", "FAIL", f"{free} MiB free at {where}", "free space: engines, spool and logs need >= 1 GiB", data)
    if free < 5 * 1024:
        return Check("disk", "WARN", f"{free} MiB free at {where}", "keep >= 5 GiB free for engine builds and the spool",
                     data)
    return Check("disk", "OK", f"{free / 1024:.1f} GiB free at {where}", data=data)


def check_power(board: BoardInfo, profile: DeviceProfile | None) -> Check:
    if not board.is_jetson or profile is None or profile.power.nvpmodel_mode is None:
        return Check("power mode", "OK", "n/a (not a Jetson)" if not board.is_jetson else "no hint in the profile")
    number, name = probes.nvpmodel_mode()
    hint = profile.power
    fix = hint.note or f"sudo nvpmodel -m {hint.nvpmodel_mode}" + (" && sudo jetson_clocks" if hint.jetson_clocks else "")
    if number is None:
        return Check("power mode", "WARN", "nvpmodel not found: cannot read the power mode", fix)
    if number != hint.nvpmodel_mode:
        return Check("power mode", "WARN", f"mode {number} ({name}); full speed is mode {hint.nvpmodel_mode} "
                     f"({hint.nvpmodel_name})", fix, {"mode": number, "name": name})
    return Check("power mode", "OK", f"mode {number} ({name})", data={"mode": number, "name": name})


def check_memory(root: Path, profile: DeviceProfile | None) -> Check:
    total = probes.mem_total_mb(root)
    if total is None:
        return Check("memory", "WARN", "cannot read /proc/meminfo")
    budget = profile.memory_budget_mb if profile else 0
    if budget and budget > total // 2:
        return Check("memory", "WARN", f"{total} MiB total; the profile's budget of {budget} MiB is over half of it",
                     "use the profile that matches the module (device: auto)", {"total_mb": total})
    return Check("memory", "OK", f"{total} MiB total" + (f"; profile budget {budget} MiB" if budget else ""),
                 data={"total_mb": total, "budget_mb": budget})


def check_native_ops() -> Check:
    """edge-sdk's native ONNX Runtime op (the INT8 CPU form's SiLU as one byte lookup), built at install."""
    from edge_sdk.engines import ops

    path = ops.byte_lookup_path()
    if path is None:
        return Check("native ops", "WARN", "the INT8 SiLU lookup op is not built: INT8 models on the CPU run their "
                     "SiLU in two passes (slower)", ops.missing_reason())
    return Check("native ops", "OK", f"INT8 SiLU lookup op built ({path} code path)", data={"byte_lookup": path})


def check_decode(inp: DoctorInput, profile: DeviceProfile | None) -> Check:
    """The config's cameras against the board's hardware video decoder (decode_budget.py)."""
    if inp.config is None or profile is None:
        return Check("decode budget", "OK", "n/a (pass --config to budget the cameras' hardware video decoding)")
    from edge_sdk.device.decode_budget import check_decode_budget

    return check_decode_budget(inp.config, profile)


def run_doctor(inp: DoctorInput) -> list[Check]:
    from edge_sdk.device.system_packages import check_numpy

    board = inp.board or detect_board(inp.root)
    profile_check, profile = check_profile(inp, board)
    seen = tensorrt_seen(inp)
    stack = inp.stack or gather_stack(inp.root)
    return [check_board(board), check_l4t(board, profile), profile_check, check_tensorrt(seen, board, profile),
            check_cuda(stack, board), check_driver_stack(stack, seen, board), check_pycuda(board),
            check_kernels(board, profile, stack), check_dla(profile, seen), check_engine_target(inp, seen, profile),
            check_video(board), check_cameras(inp.root), check_decode(inp, profile), check_broker(inp),
            check_disk(inp.disk_path),
            check_power(board, profile), check_memory(inp.root, profile), check_native_ops(), check_numpy()]


def run_checks(profile: str = "auto") -> list[Check]:
    """The doctor's checks of this machine against device profile `profile` (for provisioning)."""
    return run_doctor(DoctorInput(device=profile))
