"""The systemd unit, rendered from one template with the paths, the user and the figures of this install.

`systemd/edge-sdk.service` in the repository is this template rendered with the defaults (a test keeps
them equal). docs/systemd.md explains every directive; the comment block in the unit says the same briefly.

systemd 252 (Debian 12, and JetPack 6's Ubuntu 22.04 ships 249) has no Type=notify-reload (253+), so the
unit is Type=notify with ExecReload= sending SIGHUP; the daemon still sends RELOADING=1 + MONOTONIC_USEC,
which notify-reload understands and older managers ignore.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from edge_sdk.errors import NO_RESTART_EXIT_CODES, ConfigError

DEFAULT_EXEC = "/opt/edge-sdk/venv/bin/edge-sdk"
DEFAULT_CONFIG = "/etc/edge-sdk/app.yaml"
DEFAULT_CREDENTIALS_DIR = "/etc/edge-sdk/credentials"

# Device nodes the service may open (DevicePolicy=closed allows none but /dev/null, zero, full, random,
# urandom, tty, ptmx). A path that does not exist on this machine is skipped by systemd at start.
CAMERA_DEVICES = ("char-video4linux rw",)  # /dev/video* (V4L2 USB/CSI cameras via v4l2 or Argus' V4L2 nodes)
TEGRA_DEVICES = (  # Jetson Orin iGPU, DLA and the memory allocator (L4T r35 and r36 node names)
    "/dev/nvmap rw", "/dev/nvhost-ctrl rw", "/dev/nvhost-ctrl-gpu rw", "/dev/nvhost-gpu rw",
    "/dev/nvhost-as-gpu rw", "/dev/nvhost-prof-gpu rw", "/dev/nvhost-tsg-gpu rw", "/dev/nvhost-sched-gpu rw",
    "/dev/nvhost-ctxsw-gpu rw", "/dev/nvhost-dbg-gpu rw", "/dev/nvhost-ctrl-nvdla0 rw", "/dev/nvhost-ctrl-nvdla1 rw",
    "/dev/nvhost-nvdla0 rw", "/dev/nvhost-nvdla1 rw", "/dev/nvhost-vic rw", "/dev/nvhost-nvdec rw",
    "/dev/nvhost-nvjpg rw", "/dev/nvhost-msenc rw", "/dev/nvsciipc rw", "char-nvgpu rw",
)
DGPU_DEVICES = ("char-nvidia-frontend rw", "char-nvidia-uvm rw", "char-nvidia-caps rw")  # x86 dGPU /dev/nvidia*
RENDER_DEVICES = ("char-drm rw",)  # /dev/dri/renderD* (VA-API/V4L2 M2M decoders on some boards)

# CSI cameras: GStreamer's nvarguscamerasrc talks to nvargus-daemon over this UNIX socket in the host's /tmp,
# which PrivateTmp=yes hides; BindPaths= puts it into the service's private /tmp ("-": not an error while the
# daemon has not made it yet).
ARGUS_SOCKET = "/tmp/argus_socket"
ARGUS_SERVICE = "nvargus-daemon.service"
HIDDEN_FROM_SERVICE = ("/home", "/root", "/run/user", "/tmp", "/var/tmp", "/dev/shm")


@dataclass
class UnitSettings:
    exec_path: str = DEFAULT_EXEC
    config_path: str = DEFAULT_CONFIG
    user: str = "edge-sdk"
    drain_timeout_s: float = 10.0
    watchdog_sec: int = 30
    credentials: dict[str, str] = field(default_factory=dict)  # credential name -> file
    gpu: bool = True  # allow the NVIDIA nodes; False on the cpu profile
    memory_deny_write_execute: bool = False  # True only where no CUDA/TensorRT runs (cpu profile)
    csi: bool = False  # a csi:// camera is configured: bind nvargus-daemon's socket, start after the daemon
    after: list[str] = field(default_factory=list)  # more units to start after (and want), e.g. a local broker
    # Device-access groups; a group that does not exist fails the start (status=216/GROUP): provision names
    # only those the device has (a minimal Debian has `video` but no `render` until udev makes it).
    groups: list[str] = field(default_factory=lambda: ["video", "render"])

    @property
    def timeout_stop_sec(self) -> int:
        # The daemon drains for drain_timeout_s, then aborts; leave room for closing the engine and MQTT.
        return int(math.ceil(self.drain_timeout_s)) + 10


TEMPLATE = """\
# edge-sdk detection service. Rendered by `edge-sdk provision`; see docs/systemd.md for each directive.
#
# Type=notify: READY=1 once the engine is loaded and the first frame is through; STATUS= shows fps;
#   WATCHDOG=1 is sent only while results flow and a camera delivers: a hung engine or no camera gets a restart.
# RestartPreventExitStatus: the exit codes of mistakes a restart cannot fix (2 config, 3 model, 4 files,
#   5 dependency, 6 device) end the unit failed at once. `edge-sdk run` checks the config and model first;
#   no ExecStartPre: systemd 252 restarts a failed ExecStartPre whatever its status.
#   (systemd 252 has no Type=notify-reload; ExecReload sends SIGHUP: reload config, swap the engine,
#   keep the MQTT session.)
# Hardening, and why each exception:
#   User= the edge-sdk system user, in groups video (cameras, /dev/nv*) and render (/dev/dri).
#   DevicePolicy=closed + DeviceAllow: only cameras (video4linux) and the NVIDIA/Tegra GPU and DLA nodes.
#   PrivateUsers=no: a user namespace maps the video/render groups to nobody and breaks device access.
#   MemoryDenyWriteExecute: {mdwx_reason}
#   RestrictAddressFamilies: AF_INET/AF_INET6 for MQTT, AF_UNIX for the notify socket and journal,
#     AF_NETLINK for getifaddrs() (host name and interface lookups).
#   ProtectSystem=strict: the only writable places are the state, logs and runtime directories.
#   SystemCallFilter: @resources denied but sched_setaffinity (ONNX Runtime pins its threads) and setpriority
#     (pipeline.background_nice lowers helper threads; raising needs CAP_SYS_NICE, which it has not).
[Unit]
Description=edge-sdk detection service (camera -> detector -> MQTT)
After={after}
Wants={after}
StartLimitIntervalSec=300
StartLimitBurst=5

[Service]
Type=notify
NotifyAccess=main
ExecStart={exec_path} run --config {config_path}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
RestartPreventExitStatus={no_restart}
WatchdogSec={watchdog_sec}
TimeoutStartSec=300
TimeoutStopSec={timeout_stop_sec}
KillMode=mixed
User={user}
Group={user}
{groups_line}WorkingDirectory=/var/lib/edge-sdk
StateDirectory=edge-sdk
StateDirectoryMode=0750
LogsDirectory=edge-sdk
RuntimeDirectory=edge-sdk
ConfigurationDirectory=edge-sdk
ConfigurationDirectoryMode=0750
Environment=PYTHONUNBUFFERED=1 HOME=/var/lib/edge-sdk
{credential_lines}{bind_lines}StandardOutput=journal
StandardError=journal
SyslogIdentifier=edge-sdk
SyslogLevelPrefix=yes
UMask=0027

NoNewPrivileges=yes
CapabilityBoundingSet=
AmbientCapabilities=
ProtectSystem=strict
ReadWritePaths=/var/lib/edge-sdk
ProtectHome=yes
PrivateTmp=yes
PrivateUsers=no
PrivateIPC=yes
PrivateMounts=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute={mdwx}
RestrictRealtime=yes
RestrictSUIDSGID=yes
RemoveIPC=yes
KeyringMode=private
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources @mount @swap @reboot @raw-io @module @obsolete @cpu-emulation @debug
SystemCallFilter=sched_setaffinity setpriority
SystemCallErrorNumber=EPERM
SystemCallArchitectures=native
DevicePolicy=closed
{device_lines}
[Install]
WantedBy=multi-user.target
"""


def render_unit(s: UnitSettings) -> str:
    """The unit file text for `s`."""
    devices = list(CAMERA_DEVICES) + list(RENDER_DEVICES)
    if s.gpu:
        devices += list(TEGRA_DEVICES) + list(DGPU_DEVICES)
    creds = "".join(f"LoadCredential={name}:{path}\n" for name, path in sorted(s.credentials.items()))
    after = ["network-online.target"] + ([ARGUS_SERVICE] if s.csi else []) + s.after
    binds = f"BindPaths=-{ARGUS_SOCKET}\n" if s.csi else ""
    groups = f"SupplementaryGroups={' '.join(s.groups)}\n" if s.groups else ""
    mdwx_reason = ("yes: this install runs ONNX Runtime on the CPU, no JIT." if s.memory_deny_write_execute else
                   "no: the CUDA driver and TensorRT (NVRTC-compiled kernels) map W+X pages.")
    return TEMPLATE.format(exec_path=s.exec_path, config_path=s.config_path, user=s.user,
                           watchdog_sec=s.watchdog_sec, timeout_stop_sec=s.timeout_stop_sec,
                           credential_lines=creds, bind_lines=binds, groups_line=groups, after=" ".join(after),
                           mdwx="yes" if s.memory_deny_write_execute else "no",
                           mdwx_reason=mdwx_reason, no_restart=" ".join(str(int(c)) for c in NO_RESTART_EXIT_CODES),
                           device_lines="".join(f"DeviceAllow={d}\n" for d in devices))



def hidden_from_service(path: str | PurePosixPath) -> str | None:
    """The directory of `path` that the unit's sandbox hides (home directories, /tmp), or None."""
    p = str(path)
    return next((d for d in HIDDEN_FROM_SERVICE if p == d or p.startswith(d + "/")), None)


def check_exec(exec_path: str, interpreter: str | None = None) -> None:
    """Refuse a unit whose program (or the Python it runs on, symlinks followed) lies where the service cannot
    see it: ProtectHome=yes hides /home, /root and /run/user, and PrivateTmp=yes gives it its own /tmp."""
    for what, path in (("ExecStart", exec_path), ("its Python", interpreter)):
        hidden = hidden_from_service(path) if path else None
        if hidden is not None:
            raise ConfigError(f"the unit would run {path} ({what}), which is under {hidden}: the service cannot see "
                              f"it (ProtectHome=yes / PrivateTmp=yes), so it would never start",
                              fix="let provision make the service's environment in /opt/edge-sdk/venv (do not pass "
                                  "an exec path in a home directory or /tmp), and use a system Python (/usr/bin/python3)")
