"""`edge-sdk bench` as a user runs it: a real broker, the bundled model and video, JSON written atomically.
Behaviour only (every figure present and consistent with what ran); never the speed itself."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.app_config import demo_app_config
from tests.support.broker import MosquittoBroker

ROOT = Path(__file__).resolve().parents[2]


def test_bench_reports_pairs_stages_broker_latency_and_cpu(tmp_path: Path, broker: MosquittoBroker,
                                                           demo_model: Path, sample_video: Path) -> None:
    # two infer workers, as configs/demo.yaml runs: engine-only runs two inferences at once too
    cfg = demo_app_config(tmp_path, "bench", demo_model, sample_video, broker.port,
                          "engine:\n  type: onnxruntime\n  workers: 2\n")
    out = tmp_path / "bench.json"
    res = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "bench", "--config", str(cfg), "--iterations",
                          "5", "--repeats", "2", "--max-frames", "60", "--out", str(out)],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "pipeline / engine-only" in res.stdout and "CPU per pipeline frame" in res.stdout
    data = json.loads(out.read_text())
    assert not list(tmp_path.glob(".bench.json.*")), "no temporary file left behind"
    assert data["pipeline_frames"] == 60
    assert data["messages_received"] == 60, "the probe saw every detection message of its pair"
    assert len(data["repeats"]) == 2
    assert data["pipeline_over_engine"] in [r["pipeline_over_engine"] for r in data["repeats"]]
    assert data["engine_fps"] > 0 and data["pipeline_fps"] > 0
    assert data["info"]["workers"] == 2
    assert data["pipeline_over_engine"] == round(data["pipeline_fps"] / data["engine_fps"], 4)
    for stage in ("preprocess", "infer", "decode", "publish", "total"):
        # stages ahead of the result count may have taken a few more frames before the stop reached them
        # (the infer workers letterbox and decode their own frames: ahead of the result count too)
        assert data["stages"][stage]["frames"] == 60 if stage in ("publish", "total") else \
            data["stages"][stage]["frames"] >= 60
        assert 0 < data["stages"][stage]["latency_ms_p50"] <= data["stages"][stage]["latency_ms_p99"]
    assert 0 < data["capture_to_broker_ms_p50"] <= data["capture_to_broker_ms_p99"]
    cpu = data["cpu_ms_per_frame"]
    # (decode-publish only orders and hands over here: under the 10 ms tick of /proc in 40 frames)
    assert {"infer", "capture-cam0", "total machine"} <= set(cpu)
    assert cpu["total machine"] >= cpu["infer"] > 0
    assert 0 < data["engine_cpu_share"] <= 1


def test_bench_grid_reports_every_camera_count_and_batch(tmp_path: Path, sample_video: Path) -> None:
    """`edge-sdk bench --cameras --batch`: one cell per (cameras, batch) with totals, each camera's fps, fairness,
    latency, the batches formed and the engine alone at the same batch; on a tiny batch-taking model (the figures
    themselves are measured, never asserted)."""
    from tests.support.onnx_models import per_image_model

    model = per_image_model(tmp_path / "per-image.onnx")
    cfg = tmp_path / "app.yaml"
    cfg.write_text(f"device: cpu\nstate_dir: {tmp_path / 'state'}\nmodel:\n  path: {model}\n"
                   f"sources:\n  - name: cam0\n    uri: file://{sample_video}\nmqtt:\n  enabled: false\n")
    out = tmp_path / "grid.json"
    res = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "bench", "--config", str(cfg), "--cameras", "1,3",
                          "--batch", "1,3", "--frames-per-camera", "12", "--iterations", "5", "--out", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "fairness" in res.stdout and "engine fps" in res.stdout
    data = json.loads(out.read_text())
    machine, cells = data["machine"], data["cells"]
    assert machine["cpu"] and machine["cpu"] in res.stdout and machine["cores"] >= 1  # figures name the CPU
    assert "load_1min_before" in machine and "load average" in res.stdout
    assert [(c["cameras"], c["batch"]) for c in cells] == [(1, 1), (3, 1), (1, 3), (3, 3)]
    assert [c["engine_batch"] for c in cells] == [1, 1, 3, 3]
    for c in cells:
        assert sorted(c["camera_fps"]) == [f"cam{i}" for i in range(c["cameras"])]
        assert c["fps"] > 0 and c["frames"] > 0 and 0 < c["fairness"] <= 1 and c["engine_fps"] > 0
        assert 0 < c["latency_ms_p50"] <= c["latency_ms_p99"] and 1 <= c["batch_size_mean"] <= c["batch"]
        assert c["device"] == "cpu" and c["load_1min"] >= 0
        for figures in c["per_camera"].values():  # per camera: in, out, dropped, latency
            assert {"fps_in", "fps_out", "dropped", "latency_ms_p50", "latency_ms_p99"} <= set(figures)
            assert figures["dropped"] == 0 and figures["results"] > 0
