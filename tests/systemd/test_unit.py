"""The rendered unit, checked by systemd's own tools: `systemd-analyze verify` and
`systemd-analyze security --offline=yes` (exposure must be at most 2.0)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from edge_sdk.provision.unit import UnitSettings, render_unit

ROOT = Path(__file__).resolve().parents[2]
MAX_EXPOSURE = 2.0

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is absent (Debian package systemd, see scripts/apt-packages.txt)")


def _edge_sdk_exe(tmp_path: Path) -> str:
    """The installed console script (verify checks that ExecStart= exists), or, where the package is not
    pip-installed, an equivalent launcher script."""
    beside = Path(sys.executable).parent / "edge-sdk"
    found = str(beside) if beside.exists() else shutil.which("edge-sdk")
    if found is not None:
        return found
    launcher = tmp_path / "edge-sdk"
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} -m edge_sdk.cli.main "$@"\n')
    launcher.chmod(0o755)
    return str(launcher)


def _render(tmp_path: Path, **kw: object) -> Path:
    unit_dir = tmp_path / "system"
    unit_dir.mkdir(exist_ok=True)
    path = unit_dir / "edge-sdk.service"
    path.write_text(render_unit(UnitSettings(exec_path=_edge_sdk_exe(tmp_path), **kw)))  # type: ignore[arg-type]
    return path


PROFILES = {"gpu": {"gpu": True, "memory_deny_write_execute": False},
            "cpu": {"gpu": False, "memory_deny_write_execute": True},
            "gpu+credentials": {"gpu": True, "credentials": {"mqtt-password": "/etc/edge-sdk/credentials/mqtt-password"}},
            "gpu+csi": {"gpu": True, "csi": True}}


@pytest.mark.parametrize("profile", list(PROFILES))
def test_verify_is_clean(tmp_path: Path, profile: str) -> None:
    unit = _render(tmp_path, **PROFILES[profile])
    proc = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    print(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stderr
    assert "edge-sdk.service" not in proc.stderr, f"verify warns about the unit: {proc.stderr}"


@pytest.mark.parametrize("profile", list(PROFILES))
def test_security_exposure_at_most_2_0(tmp_path: Path, profile: str) -> None:
    unit = _render(tmp_path, **PROFILES[profile])
    proc = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
                          capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for edge-sdk\.service:\s*([0-9.]+)", proc.stdout + proc.stderr)
    assert m, proc.stdout + proc.stderr
    exposure = float(m.group(1))
    print(f"systemd-analyze security --offline=yes ({profile}): exposure {exposure}")
    assert exposure <= MAX_EXPOSURE, proc.stdout


def test_unit_supervision_settings() -> None:
    text = render_unit(UnitSettings(drain_timeout_s=12.5, credentials={"mqtt-password": "/etc/x/pw"}))
    lines = set(text.splitlines())
    for expected in ("Type=notify", "Restart=on-failure", "WatchdogSec=30", "TimeoutStopSec=23", "NotifyAccess=main",
                     "RestartPreventExitStatus=2 3 4 5 6", "ExecReload=/bin/kill -HUP $MAINPID", "After=network-online.target",
                     "Wants=network-online.target", "LoadCredential=mqtt-password:/etc/x/pw", "User=edge-sdk",
                     "CapabilityBoundingSet=", "DevicePolicy=closed", "DeviceAllow=char-video4linux rw",
                     "DeviceAllow=/dev/nvmap rw", "SyslogLevelPrefix=yes", "ProtectSystem=strict",
                     "ReadWritePaths=/var/lib/edge-sdk"):
        assert expected in lines, expected
    assert not any(line.startswith("ExecStartPre=") for line in lines), \
        "no ExecStartPre: systemd restarts a failed one whatever its exit status (RestartPreventExitStatus= is ignored)"
    cpu = render_unit(UnitSettings(gpu=False, memory_deny_write_execute=True))
    assert "DeviceAllow=/dev/nvmap rw" not in cpu and "MemoryDenyWriteExecute=yes" in cpu


def test_csi_cameras_get_the_argus_socket_and_start_after_its_daemon() -> None:
    """PrivateTmp=yes hides the host's /tmp/argus_socket, which nvarguscamerasrc needs (docs/systemd.md)."""
    lines = render_unit(UnitSettings(csi=True, after=["mosquitto.service"])).splitlines()
    assert "BindPaths=-/tmp/argus_socket" in lines and "PrivateTmp=yes" in lines
    assert "After=network-online.target nvargus-daemon.service mosquitto.service" in lines
    assert "Wants=network-online.target nvargus-daemon.service mosquitto.service" in lines
    assert not any(line.startswith("BindPaths=") for line in render_unit(UnitSettings()).splitlines())


def test_only_groups_the_device_has_are_named() -> None:
    """A SupplementaryGroups= group that does not exist fails the start with status=216/GROUP (seen under
    systemd 252 in tests/systemd/test_box.py: a minimal Debian has no `render` group)."""
    assert "SupplementaryGroups=video\n" in render_unit(UnitSettings(groups=["video"]))
    assert "SupplementaryGroups" not in render_unit(UnitSettings(groups=[]))


REGENERATE = ("python -c 'from edge_sdk.provision.unit import UnitSettings, render_unit; "
              "print(render_unit(UnitSettings()), end=\"\")' > systemd/edge-sdk.service")


def test_repo_unit_is_the_default_rendering() -> None:
    repo_unit = (ROOT / "systemd" / "edge-sdk.service").read_text()
    assert repo_unit == render_unit(UnitSettings()), f"systemd/edge-sdk.service is stale; regenerate: {REGENERATE}"


def test_user_mistakes_are_not_restarted_other_failures_are() -> None:
    """RestartPreventExitStatus= names exactly the exit codes of mistakes a restart cannot fix (errors.py), so a
    bad config or a missing model ends the unit failed at once instead of five restarts; a failed pipeline (1),
    an unreachable broker (7) and a crash (a signal) are still restarted."""
    from edge_sdk.errors import NO_RESTART_EXIT_CODES, ExitCode

    line = next(ln for ln in render_unit(UnitSettings()).splitlines() if ln.startswith("RestartPreventExitStatus="))
    codes = {int(c) for c in line.split("=", 1)[1].split()}
    assert codes == {int(c) for c in NO_RESTART_EXIT_CODES}
    assert {ExitCode.USAGE, ExitCode.MODEL} <= codes and not codes & {ExitCode.OK, ExitCode.FAILED, ExitCode.BROKER}
