"""`edge-sdk calibrate capture/import`: near-duplicates, spacing in time, manifest, resume, Ctrl-C, progress.

The camera is a real file source (a folder of frames, `file://DIR?fps=N`), read through the normal source layer.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge_sdk.calibration.capture import capture
from edge_sdk.calibration.images import sha256_bytes
from edge_sdk.calibration.importer import import_images
from edge_sdk.config import AppConfig
from edge_sdk.sources.base import Source
from tests.quant.helpers import write_config
from tools.scenes import generate_still

ROOT = Path(__file__).resolve().parents[2]


def _scene(seed: int) -> np.ndarray:
    img, _ = generate_still(seed, 160, 120)
    return img


def _noisy(img: np.ndarray, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img.astype(np.int16) + rng.integers(-2, 3, img.shape), 0, 255).astype(np.uint8)


def _camera(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:04d}.png"), img)
    return folder


def _manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def _cfg(tmp: Path, cam: Path, query: str = "fps=10", **capture_opts: object) -> AppConfig:
    _, cfg = write_config(tmp, Path("m.onnx"), cam, source=f"file://{cam}?{query}",
                          calibration={"dir": None, "root": str(tmp / "calibration"), "profile": "site1",
                                       "capture": {"interval_s": 0.0, **capture_opts}})
    return cfg


def test_near_duplicates_are_skipped_and_the_manifest_describes_each_frame(tmp_path: Path) -> None:
    a, b, c = _scene(11), _scene(12), _scene(13)
    cam = _camera(tmp_path / "cam", [a, _noisy(a, 1), _noisy(a, 2), b, _noisy(b, 3), c])
    cfg = _cfg(tmp_path, cam, frames=10)
    res = capture(cfg, progress=False)
    assert (res.kept, res.skipped_duplicate, res.seen, res.stopped_by) == (3, 3, 6, "eos")
    folder = tmp_path / "calibration" / "site1"
    man = _manifest(folder)
    assert man["profile"] == "site1" and len(man["frames"]) == 3
    for entry in man["frames"]:
        data = (folder / entry["file"]).read_bytes()
        assert entry["sha256"] == sha256_bytes(data) and entry["size"] == len(data)
        assert (entry["width"], entry["height"]) == (160, 120)
        assert entry["source"].startswith("file://") and entry["camera"] == "cam0" and entry["captured_at"].endswith("Z")
    kept = [cv2.imread(str(folder / e["file"])) for e in man["frames"]]
    assert all(np.array_equal(k, s) for k, s in zip(kept, [a, b, c]))  # PNG: exactly the frames the camera gave


def test_interval_spreads_frames_over_stream_time(tmp_path: Path) -> None:
    cam = _camera(tmp_path / "cam", [_scene(100 + i) for i in range(12)])
    cfg = _cfg(tmp_path, cam, "fps=10", frames=50)
    res = capture(cfg, interval_s=0.25, progress=False)
    assert res.kept == 4 and res.skipped_interval == 8
    times = [e["stream_time_s"] for e in _manifest(tmp_path / "calibration" / "site1")["frames"]]
    assert times == pytest.approx([0.0, 0.3, 0.6, 0.9])


def test_capture_resumes_towards_the_total(tmp_path: Path) -> None:
    cam = _camera(tmp_path / "cam", [_scene(200 + i) for i in range(8)])
    cfg = _cfg(tmp_path, cam)
    first = capture(cfg, frames=2, progress=False)
    assert (first.kept, first.total, first.stopped_by) == (2, 2, "target")
    before = _manifest(tmp_path / "calibration" / "site1")["frames"]
    second = capture(cfg, frames=5, progress=False)
    assert (second.existing, second.kept, second.total) == (2, 3, 5)
    after = _manifest(tmp_path / "calibration" / "site1")["frames"]
    assert after[:2] == before and len({e["sha256"] for e in after}) == 5
    assert second.skipped_duplicate == 2  # the two frames already kept were recognised, not stored twice
    done = capture(cfg, frames=5, progress=False)
    assert done.kept == 0 and done.seen == 0


def test_ctrl_c_keeps_what_was_captured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cam = _camera(tmp_path / "cam", [_scene(300 + i) for i in range(10)])
    cfg = _cfg(tmp_path, cam, frames=10)
    real_read = Source.read
    calls = {"n": 0}

    def read(self: Source, timeout: float = 1.0) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_read(self, timeout)

    monkeypatch.setattr(Source, "read", read)
    res = capture(cfg, progress=False)
    assert res.stopped_by == "interrupted" and res.kept == 3
    folder = tmp_path / "calibration" / "site1"
    assert sorted(e["file"] for e in _manifest(folder)["frames"]) == sorted(p.name for p in folder.glob("*.png"))
    assert not list(folder.glob(".*"))


def test_sigint_to_the_cli_keeps_frames_and_exits_130(tmp_path: Path) -> None:
    cam = _camera(tmp_path / "cam", [_scene(400 + i) for i in range(40)])
    # loop=1: the source never ends on its own, so the SIGINT always arrives during capture (on a stalled
    # host a 40-frame source could otherwise end first, and the command would rightly exit 0)
    path, _ = write_config(tmp_path, Path("m.onnx"), cam, source=f"file://{cam}?realtime=1&fps=20&loop=1",
                           calibration={"dir": None, "root": str(tmp_path / "calibration"), "profile": "p",
                                        "capture": {"interval_s": 0.0, "frames": 1000}})
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "edge_sdk.cli.main", "calibrate", "capture", "--config", str(path)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    folder = tmp_path / "calibration" / "p"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(folder.glob("*.png"))) < 3:
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "run the same command again" in err
    files = sorted(p.name for p in folder.glob("*.png"))
    assert len(files) >= 3 and sorted(e["file"] for e in _manifest(folder)["frames"]) == files
    assert not list(folder.glob(".*.tmp"))


def test_progress_is_logged_when_stderr_is_not_a_tty(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cam = _camera(tmp_path / "cam", [_scene(500 + i) for i in range(5)])
    cfg = _cfg(tmp_path, cam, frames=5)
    logger = logging.getLogger("edge_sdk.progress")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="edge_sdk.progress"):
            capture(cfg)
    finally:
        logger.removeHandler(caplog.handler)
    lines = [r.getMessage() for r in caplog.records if r.name == "edge_sdk.progress"]
    assert lines and lines[-1].startswith("capture: 5/5 frames")


def test_import_copies_images_skips_bad_files_and_duplicates(tmp_path: Path) -> None:
    src = _camera(tmp_path / "photos", [_scene(600 + i) for i in range(3)])
    (src / "readme.txt").write_text("x")
    (src / "bad.jpg").write_bytes(b"\xff\xd8 not really")
    cfg = _cfg(tmp_path, src)
    res = import_images(cfg, src, progress=False)
    assert (res.copied, res.skipped, res.total) == (3, 2, 3)
    again = import_images(cfg, src, progress=False)
    assert (again.copied, again.already_there) == (0, 3)
    entries = _manifest(tmp_path / "calibration" / "site1")["frames"]
    assert {Path(e["source"]).name for e in entries} == {"0000.png", "0001.png", "0002.png"}
