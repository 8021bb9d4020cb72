"""`edge-sdk bench` and the broker: checked before any engine work (one line, no traceback), --broker to name
one, latency from this run's messages only (the service's spooled backlog neither sent nor counted), and a
Ctrl-C that stops its engine threads before the engine closes (no thread tracebacks). Real processes, a real
Mosquitto, real ONNX Runtime on a tiny constant model."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.broker import MosquittoBroker, free_port
from tests.support.tiny_app import StderrLines, tiny_app

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "edge_sdk.cli.main"]

pytestmark = pytest.mark.broker


def spooled(state: Path) -> int:
    with sqlite3.connect(state / "spool" / "mqtt.sqlite") as db:
        (count,) = db.execute("SELECT COUNT(*) FROM messages").fetchone()
    return int(count)


def test_bench_checks_the_broker_first(tmp_path: Path) -> None:
    cfg = tiny_app(tmp_path, port=free_port())  # nothing listens there
    res = subprocess.run([*CLI, "bench", "--config", str(cfg), "--repeats", "1"], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert res.returncode == 7, res.stderr  # errors.ExitCode.BROKER
    assert "Traceback" not in res.stderr and "benchmark pair" not in res.stderr  # no engine work was done
    assert "cannot connect to the MQTT broker: unreachable" in res.stderr and "--no-mqtt" in res.stderr


def test_bench_latency_counts_its_own_messages_only(tmp_path: Path) -> None:
    port = free_port()
    cfg = tiny_app(tmp_path, frames=20, port=port)
    run = subprocess.run([*CLI, "run", "--config", str(cfg)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert run.returncode == 0, run.stderr  # no broker yet: the service's 20 messages wait in its spool
    assert spooled(tmp_path / "state") == 20
    broker = MosquittoBroker(tmp_path / "broker", port=port).start()
    try:
        out = tmp_path / "bench.json"
        res = subprocess.run([*CLI, "bench", "--config", str(cfg), "--broker", f"127.0.0.1:{port}", "--repeats", "1",
                              "--iterations", "4", "--out", str(out)], capture_output=True, text=True, cwd=ROOT,
                             timeout=300)
    finally:
        broker.stop()
    assert res.returncode == 0, res.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["pipeline_frames"] == 20 and data["messages_received"] == 20
    assert spooled(tmp_path / "state") == 20, "the bench must not send the service's backlog"


def test_ctrl_c_in_bench_stops_its_threads_first(tmp_path: Path) -> None:
    cfg = tiny_app(tmp_path, extra="engine:\n  type: onnxruntime\n  workers: 2\n")  # two engine-only threads
    proc = subprocess.Popen([*CLI, "bench", "--config", str(cfg), "--no-mqtt", "--iterations", "100000000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    err = StderrLines(proc)
    err.wait_for(lambda s: "engine only: " in s and "2 thread(s)" in s)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    text = err.rest()
    assert proc.returncode == 130, text
    assert "Traceback" not in text and "Exception in thread" not in text and "engine is closed" not in text
    assert text.strip().splitlines()[-1] == "edge-sdk bench: interrupted (SIGINT)"
