"""Small probes of this machine for `edge-sdk doctor` and `edge-sdk selftest`. Each returns a value, never raises.

File reads go through a `root` prefix so tests can use copies of a Jetson's files.
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
import socket
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edge_sdk.cuda.check import GpuQuery, query_gpu


@dataclass(frozen=True)
class BrokerProbe:
    reachable: bool
    detail: str  # "CONNACK accepted", "refused: not authorized", "connection refused", ...
    accepted: bool = False


_CONNACK = {0: "accepted", 1: "refused: unacceptable protocol version", 2: "refused: client id rejected",
            3: "refused: server unavailable", 4: "refused: bad user name or password", 5: "refused: not authorized"}


def probe_broker(host: str, port: int, *, tls: bool = False, timeout: float = 3.0) -> BrokerProbe:
    """TCP connect; for plain MQTT also an anonymous MQTT 3.1.1 CONNECT and its CONNACK code."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        return BrokerProbe(False, f"cannot connect to {host}:{port}: {exc.strerror or exc}")
    with sock:
        if tls:
            return BrokerProbe(True, f"TCP connect to {host}:{port} works (TLS port: MQTT not tried)")
        client = f"edge-sdk-doctor-{os.getpid()}".encode()
        variable = b"\x00\x04MQTT\x04\x02\x00\x0a"
        payload = struct.pack("!H", len(client)) + client
        body = variable + payload
        try:
            sock.sendall(bytes([0x10, len(body)]) + body)
            reply = sock.recv(4)
            if len(reply) == 4 and reply[0] == 0x20:
                if reply[3] == 0:
                    sock.sendall(b"\xe0\x00")
                return BrokerProbe(True, f"MQTT CONNACK: {_CONNACK.get(reply[3], f'code {reply[3]}')}", reply[3] == 0)
            return BrokerProbe(True, f"{host}:{port} answers but not as an MQTT broker ({reply[:4].hex() or 'closed'})")
        except OSError as exc:
            return BrokerProbe(True, f"{host}:{port} accepted TCP but MQTT failed: {exc}")


def disk_free_mb(path: Path) -> tuple[Path, int]:
    """Free MiB on the file system holding `path` (or its nearest existing parent)."""
    p = path.resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    return p, shutil.disk_usage(p).free >> 20


def mem_total_mb(root: Path = Path("/")) -> int | None:
    try:
        for line in (root / "proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) >> 10
    except (OSError, ValueError, IndexError):
        return None
    return None


def cudart_library() -> str | None:
    return ctypes.util.find_library("cudart")


def probe_pycuda() -> GpuQuery:
    """The first GPU as pycuda sees it (edge_sdk.cuda.check.query_gpu); `available` False says why not."""
    return query_gpu(0)


def nvpmodel_mode() -> tuple[int | None, str | None]:
    """The current nvpmodel mode (number, name) from `nvpmodel -q`, or (None, None) where unavailable."""
    exe = shutil.which("nvpmodel")
    if exe is None:
        return None, None
    try:
        out = subprocess.run([exe, "-q"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    name, number = None, None
    for line in out.splitlines():
        if "Power Mode" in line and ":" in line:
            name = line.split(":", 1)[1].strip()
        elif line.strip().isdigit():
            number = int(line.strip())
    return number, name


def dla_cores_from_tensorrt() -> int | None:
    """DLA cores as TensorRT's builder reports them (needs TensorRT and a working GPU), else None."""
    from edge_sdk.engines.trt.version import installed_version

    if installed_version() is None:
        return None
    try:
        import tensorrt as trt

        from edge_sdk.engines.trt.trtlog import TrtLog

        return int(trt.Builder(TrtLog().logger).num_DLA_cores)
    except Exception:  # no GPU, driver mismatch: doctor reports the profile's count instead
        return None
