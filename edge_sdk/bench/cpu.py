"""Where the CPU goes while the pipeline runs: CPU time per thread of this process, and of the rest of the
machine (the broker, ...), from /proc (Linux; elsewhere the figures are simply absent).

On a machine the engine saturates, every millisecond another thread spends is taken from the engine, so
the pipeline's shortfall against engine-only throughput is explained by this table.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_cpu_s(stat_line: str) -> float:
    """utime + stime in seconds from one /proc/.../stat line (fields after the `(comm)`)."""
    fields = stat_line.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def _machine_busy_s() -> float:
    """CPU seconds all cores spent not idle, since boot (/proc/stat's first line)."""
    vals = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)  # idle + iowait
    return (sum(vals[:8]) - idle) / _TICK


class CpuSampler:
    """Samples per-thread CPU time until `stop`; threads that end keep their last sample (taken every
    `interval_s`, so at most that much of a thread's final moments goes to "unattributed")."""

    def __init__(self, interval_s: float = 0.1) -> None:
        self.available = Path("/proc/self/task").is_dir() and Path("/proc/stat").is_file()
        self._interval = interval_s
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._names: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-cpu-sampler", daemon=True)
        self._proc0 = self._proc1 = self._mach0 = self._mach1 = 0.0

    def start(self) -> CpuSampler:
        if self.available:
            self._proc0, self._mach0 = self._process_s(), _machine_busy_s()
            self._sample()
            self._thread.start()
        return self

    def stop(self) -> None:
        if self.available:
            self._stop.set()
            self._thread.join()
            self._sample()
            self._proc1, self._mach1 = self._process_s(), _machine_busy_s()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self._sample()

    @staticmethod
    def _process_s() -> float:
        return _stat_cpu_s(Path("/proc/self/stat").read_text())

    def _sample(self) -> None:
        py_names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
        for entry in os.scandir("/proc/self/task"):
            tid = int(entry.name)
            try:
                cpu = _stat_cpu_s(Path(entry.path, "stat").read_text())
            except (OSError, ValueError, IndexError):  # the thread ended meanwhile
                continue
            self._first.setdefault(tid, cpu)
            self._last[tid] = cpu
            if tid not in self._names:
                self._names[tid] = py_names.get(tid) or "native: " + Path(entry.path, "comm").read_text().strip()

    def per_frame_ms(self, frames: int) -> dict[str, float]:
        """CPU milliseconds per frame by thread name (threads of one name summed; the sampler's own cost is
        its row), plus `unattributed` (this process: threads' last moments after their final sample),
        `other processes` (the broker, ...) and `total machine`."""
        if not self.available or frames <= 0:
            return {}
        by_name: dict[str, float] = {}
        for tid, last in self._last.items():
            name = self._names.get(tid, str(tid))
            by_name[name] = by_name.get(name, 0.0) + last - self._first[tid]
        proc = self._proc1 - self._proc0
        machine = self._mach1 - self._mach0
        out = {name: s for name, s in sorted(by_name.items(), key=lambda kv: -kv[1]) if s > 0}
        out["unattributed"] = max(0.0, proc - sum(by_name.values()))
        out["other processes"] = max(0.0, machine - proc)
        out["total machine"] = machine
        return {k: round(v * 1000 / frames, 2) for k, v in out.items()}


def engine_share(cpu_ms_per_frame: dict[str, float], engine_thread: str = "infer") -> float | None:
    """The engine's share of the machine's CPU while the pipeline ran: the infer workers plus ONNX
    Runtime's pool (unnamed native threads, shown as "native: <process name>"). The workers also letterbox
    and decode their frames (~1 ms of ~60 per frame here), so this slightly overstates the engine. On a
    machine the engine saturates, pipeline FPS / engine-only FPS cannot exceed it."""
    total = cpu_ms_per_frame.get("total machine")
    if not total or engine_thread not in cpu_ms_per_frame:
        return None
    native = [k for k in cpu_ms_per_frame if k.startswith("native: ") and not k.startswith("native: av:")]
    engine = cpu_ms_per_frame[engine_thread] + sum(cpu_ms_per_frame[k] for k in native)
    return round(engine / total, 4)
