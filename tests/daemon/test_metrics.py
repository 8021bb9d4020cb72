"""The optional Prometheus endpoint, served by the real daemon loop over a real HTTP socket."""

from __future__ import annotations

import re
import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from edge_sdk.config import load_config
from edge_sdk.daemon import run_service
from edge_sdk.pipeline.pipeline import Pipeline
from tests.pipeline.conftest import app_yaml, write_video


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_metrics_endpoint_serves_the_stats_figures(tmp_path: Path, const_model: Path) -> None:
    port = _free_port()
    video = write_video(tmp_path / "clip.avi", 40)
    cfg = load_config(str(app_yaml(tmp_path, const_model, f"file://{video}?loop=1",
                                   f"daemon:\n  metrics_port: {port}\n")))
    pages: list[str] = []
    missing: list[int] = []

    def fetch(pipeline: Pipeline) -> None:
        if pages or pipeline.results < 5:
            return
        pages.append(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode())
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/other", timeout=5)
        except urllib.error.HTTPError as exc:
            missing.append(exc.code)
        pipeline.stop()

    run_service(cfg, on_tick=fetch)
    assert pages, "the endpoint was never fetched"
    text = pages[0]
    results = int(re.search(r'^edge_sdk_results_total\{device="t1"\} (\d+)$', text, re.M).group(1))  # type: ignore[union-attr]
    assert results >= 5
    assert re.search(r'^edge_sdk_stage_fps\{device="t1",stage="infer"\} [0-9.]+$', text, re.M)
    assert re.search(r'^edge_sdk_camera_frames_total\{device="t1",camera="cam0"\} \d+$', text, re.M)
    assert 'edge_sdk_camera_up{device="t1",camera="cam0"} 1' in text
    assert missing == [404]
    with pytest.raises(OSError):  # closed with the run
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)


def test_metrics_off_by_default(tmp_path: Path, const_model: Path) -> None:
    cfg = load_config(str(app_yaml(tmp_path, const_model, f"file://{write_video(tmp_path / 'c.avi', 5)}")))
    assert cfg.daemon.metrics_port is None


def test_health_probes_say_alive_and_ready_once_frames_flow(tmp_path: Path, const_model: Path) -> None:
    from edge_sdk.daemon.health import readiness

    port = _free_port()
    video = write_video(tmp_path / "clip.avi", 40)
    cfg = load_config(str(app_yaml(tmp_path, const_model, f"file://{video}?loop=1",
                                   f"daemon:\n  metrics_port: {port}\n")))
    answers: dict[str, tuple[int, str]] = {}
    before: list[str] = []

    def probe(pipeline: Pipeline) -> None:
        if not before:
            before.append(readiness(pipeline, cfg.daemon).detail if not pipeline.first_result.is_set() else "had a result")
        if pipeline.results < 5:
            return
        for path in ("/healthz", "/readyz"):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                answers[path] = (r.status, r.read().decode())
        ran.append(pipeline)
        pipeline.stop()

    ran: list[Pipeline] = []
    run_service(cfg, on_tick=probe)
    # every camera silent longer than the bound: the service stopped, its camera closed (a file camera with frames
    # still queued delivers whatever the bound: the engine is the slow one then)
    stale = readiness(ran[0], cfg.daemon.model_copy(update={"watchdog_stall_s": 1e-6}))
    answers["stale"] = (int(stale.ready), stale.detail)
    assert answers["/healthz"] == (200, "ok\n")
    code, text = answers["/readyz"]
    assert code == 200 and text.startswith("ready: engine onnxruntime, cameras delivering: cam0")
    assert answers["stale"][0] == 0 and answers["stale"][1].startswith("no camera delivered a frame within 1e-06 s (cam0)")
    assert before[0] in ("had a result", "starting: no frame through the engine yet")
