"""`edge-sdk build` killed with SIGKILL mid-way (a real process): its staging folder stays behind; the next build
removes it, and any temp file a killed atomic write left, and finishes; two builds of one folder never overlap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_sdk.errors import BuildError
from edge_sdk.quant import build_int8
from edge_sdk.quant.artifacts import build_dir, build_lock
from tests.quant.helpers import scene_frames, write_config
from tests.quant.tiny_detector import tiny_detector

ROOT = Path(__file__).resolve().parents[2]


def test_a_killed_build_leaves_nothing_the_next_build_does_not_clean(tmp_path: Path) -> None:
    frames = scene_frames(tmp_path / "frames", 3_400_000, 14)
    model = tiny_detector(tmp_path / "tiny.onnx")
    path, cfg = write_config(tmp_path, model, frames, build={"max_map_drop": 100})
    target = build_dir(cfg)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "edge_sdk.cli.main", "build", "--config", str(path)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not list(target.parent.glob(f".{target.name}.staging-*")) and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    left = list(target.parent.glob(f".{target.name}.staging-*"))
    assert left and proc.returncode == -signal.SIGKILL, "the kill landed while the build was staging"
    target.mkdir(parents=True, exist_ok=True)
    torn = target / ".manifest.json.k1ll3d.tmp"  # what atomic_open leaves when killed inside a write
    torn.write_text('{"schema": 1, "fil')

    out = build_int8(cfg, progress=False)
    assert out.report["decision"] == "pass"
    assert not list(target.parent.glob(f".{target.name}.staging-*")) and not torn.exists()
    assert not [p.name for p in target.iterdir() if p.name.endswith(".tmp")]
    with build_lock(target), pytest.raises(BuildError, match="another `edge-sdk build`"):
        build_int8(cfg, progress=False, force=True)  # a second build of the same folder at once: it says so
