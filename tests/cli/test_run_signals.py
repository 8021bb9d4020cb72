"""`edge-sdk run` as a process: a progress line while it runs, and a stop signal at any moment is a clean stop
(exit 0, no traceback): during start-up at once, once frames flow by draining them. The signals are sent when the
process has said it reached that point, never after a fixed sleep."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.tiny_app import StderrLines, tiny_app

ROOT = Path(__file__).resolve().parents[2]


def start_run(cfg: Path, *extra: str) -> tuple[subprocess.Popen[str], StderrLines]:
    proc = subprocess.Popen([sys.executable, "-m", "edge_sdk.cli.main", "run", "--config", str(cfg), "--json", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    return proc, StderrLines(proc)


def test_progress_lines_while_running_then_ctrl_c_drains_and_exits_zero(tmp_path: Path) -> None:
    cfg = tiny_app(tmp_path, frames=300, realtime=True)  # 10 s at the video's own rate: still running when we stop
    proc, err = start_run(cfg, "--progress", "0.3")
    line = err.wait_for(lambda s: "progress:" in s)
    assert "running:" in line and " fps, " in line and "frames; cam0 streaming" in line and "detections" in line
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    out = proc.stdout.read() if proc.stdout else ""
    text = err.rest()
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "SIGINT received: draining" in text
    summary = json.loads(out)
    assert summary["stopped_by"] == "SIGINT" and 0 < summary["frames"] < 300 and summary["detections"] > 0


def test_a_stop_signal_during_start_up_is_a_clean_stop(tmp_path: Path) -> None:
    """SIGTERM as systemd sends it, at the first thing the process logs (the model is loading or just loaded)."""
    proc, err = start_run(tiny_app(tmp_path, frames=300, realtime=True))
    err.wait_for(lambda s: bool(s.strip()))
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    out = proc.stdout.read() if proc.stdout else ""
    text = err.rest()
    assert proc.returncode == 0, text
    assert "Traceback" not in text
    assert json.loads(out)["stopped_by"].startswith("SIGTERM")


def test_progress_every_few_seconds_on_a_terminal_and_once_a_minute_in_the_journal(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from edge_sdk.daemon.progress import default_interval

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", Terminal())
    assert default_interval(None) == 5.0
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # the journal's stream, a file, a pipe
    assert default_interval(None) == 60.0
    assert default_interval(0) == 0 and default_interval(2.5) == 2.5  # daemon.progress_interval_s / --progress
