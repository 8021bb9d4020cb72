"""Batched inference across cameras through the whole pipeline, on real video files, real OpenCV decoding and the
real ONNX Runtime: each result reaches its own camera, in order, every frame once; batches really form; the CUDA
executor (its runner on the CPU stand-in backend) gives the CPU executor's results; a model that cannot batch
runs one frame at a time and says so once; per-camera figures in the stats."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge_sdk.config import load_config
from edge_sdk.cuda.runner import CudaRunner
from edge_sdk.daemon import run_service
from edge_sdk.frame import FrameResult
from edge_sdk.pipeline.build import open_model, open_sources
from edge_sdk.pipeline.executors.cuda import CudaExecutor, runner_options_for
from edge_sdk.pipeline.pipeline import Pipeline, PipelineParts
from edge_sdk.preprocess.apply import preprocess
from edge_sdk.preprocess.spec import ultralytics_spec
from tests.cuda.standin import StandInBackend, StandInEngine
from tests.support.onnx_models import per_image_model

CAMERAS = 3
FRAMES = 12


def camera_video(path: Path, camera: int, frames: int = FRAMES) -> Path:
    """Flat frames whose level differs per camera and frame (the model's box moves with it)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (96, 64))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((64, 96, 3), (30 + 70 * camera + 2 * i) % 256, np.uint8))
    writer.release()
    return path


def batch_config(tmp_path: Path, model: Path, extra_engine: str = "", cameras: int = CAMERAS) -> Path:
    sources = "".join(f"  - name: cam{k}\n    uri: file://{camera_video(tmp_path / f'cam{k}.avi', k)}\n"
                      for k in range(cameras))
    path = tmp_path / "app.yaml"
    path.write_text(f"device: cpu\nstate_dir: {tmp_path / 'state'}\nmodel:\n  path: {model}\n"
                    f"engine:\n  type: onnxruntime\n  batch_timeout_ms: 1000\n{extra_engine}"
                    f"sources:\n{sources}mqtt:\n  enabled: false\n")
    return path


def expected_box(result: FrameResult) -> np.ndarray:
    """Where the model puts the car for this very frame, in frame pixels."""
    tensor, info = preprocess(result.frame.image, ultralytics_spec((64, 64)))
    cx = 8 + 48 * float(tensor.mean())
    return info.to_original(np.array([[cx - 8, 28, cx + 8, 36]], np.float32))[0]


def check_routing(got: list[FrameResult], cameras: int = CAMERAS) -> None:
    assert Counter(r.frame.camera for r in got) == {f"cam{k}": FRAMES for k in range(cameras)}
    for k in range(cameras):
        assert [r.frame.frame_id for r in got if r.frame.camera == f"cam{k}"] == list(range(FRAMES))
    for r in got:
        assert r.detections.class_ids.tolist() == [1]
        np.testing.assert_allclose(r.detections.boxes[0], expected_box(r), atol=0.05)


@pytest.fixture()
def batch_model(tmp_path: Path) -> Path:
    return per_image_model(tmp_path / "per-image.onnx")


def test_batches_across_cameras_take_each_result_to_its_own_camera_in_order(tmp_path: Path, batch_model: Path) -> None:
    cfg = load_config(batch_config(tmp_path, batch_model))  # max_batch: the number of cameras (3)
    got: list[FrameResult] = []
    summary = run_service(cfg, on_result=got.append)
    assert summary.frames == CAMERAS * FRAMES
    check_routing(got)
    batches = summary.stats["batches"]
    assert batches["size_max"] == CAMERAS and batches["frames"] == CAMERAS * FRAMES  # batches formed (timeout 1 s)
    assert summary.stats["stages"]["infer"]["frames"] == CAMERAS * FRAMES
    assert summary.stats["engine"]["max_batch"] == CAMERAS
    for src in summary.stats["sources"]:  # per camera: in, out, dropped, latency
        assert src["results"] == FRAMES and src["frames"] >= FRAMES and src["dropped"] == 0
        assert 0 < src["latency_ms_p50"] <= src["latency_ms_p99"]
        assert {"fps", "fps_out"} <= set(src)


def test_the_cuda_executor_batches_as_the_cpu_one_does(tmp_path: Path, batch_model: Path) -> None:
    """The runner on the CPU stand-in backend (streams as threads, tests/cuda/standin.py), ONNX Runtime computing:
    batches of frames of several cameras go through its slots and come back to their cameras."""
    cfg = load_config(batch_config(tmp_path, batch_model))
    bundle = open_model(cfg)
    got: list[FrameResult] = []
    backend = StandInBackend(jitter_s=0.001)
    engine = StandInEngine(backend, bundle.engine.info, lambda x: bundle.engine.infer(x))
    options = runner_options_for(cfg, bundle.spec, CAMERAS)
    options = type(options)(**{**options.__dict__, "max_frame_hw": (64, 96)})

    def make_runner() -> CudaRunner:
        return CudaRunner(engine, options, backend=backend)

    try:
        with open_sources(cfg) as sources:
            parts = PipelineParts(bundle.engine, bundle.decoder, bundle.params, bundle.metadata, sources,
                                  on_result=got.append, executor=CudaExecutor(make_runner, CAMERAS),
                                  preprocess=bundle.preprocess)
            pipeline = Pipeline(parts, batch_timeout_s=1.0).start()
            assert pipeline.wait(60)
            pipeline.join()
    finally:
        bundle.engine.close()
    assert pipeline.error is None and backend.errors == []
    check_routing(got)
    assert max(engine.batches) == CAMERAS and sum(engine.batches) == CAMERAS * FRAMES  # enqueued as batches
    assert pipeline.snapshot()["batches"]["size_max"] == CAMERAS


def test_a_model_with_a_fixed_batch_of_one_runs_one_frame_at_a_time_and_says_so_once(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from tests.support.onnx_models import constant_output_model

    out = np.zeros((1, 6, 84), np.float32)
    out[0, :4, :] = 1
    out[0, :, 0] = [32, 32, 16, 8, 0.05, 0.9]
    model = constant_output_model(tmp_path / "const.onnx", out, names={0: "person", 1: "car"})
    cfg = load_config(batch_config(tmp_path, model, "  max_batch: 4\n", cameras=2))
    with caplog.at_level(logging.INFO, logger="edge_sdk"):
        summary = run_service(cfg)
    assert summary.frames == 2 * FRAMES and summary.stats["batches"]["size_max"] == 1
    said = [r.getMessage() for r in caplog.records if "fixed batch of 1 is kept" in r.getMessage()]
    assert len(said) == 1 and "one frame per inference" in said[0]


def test_a_slow_live_camera_never_holds_a_fast_one_back(tmp_path: Path, batch_model: Path) -> None:
    """Two cameras paced like live ones (newest frame only): 30 and 5 fps, batched by 2. Each is served at its own
    rate: the fast one's results are not held to the slow one's pace (a reader that waited for a frame of every
    camera would give them alike), the slow one is not starved, and nothing is dropped while the pipeline keeps up."""
    sources = "".join(
        f"  - name: cam{k}\n    uri: file://{camera_video(tmp_path / f'cam{k}.avi', k)}?loop=1&realtime=1&fps={fps}\n"
        f"    deliver_all: false\n" for k, fps in ((0, 30), (1, 5)))
    path = tmp_path / "live.yaml"
    path.write_text(f"device: cpu\nstate_dir: {tmp_path / 'state'}\nmodel:\n  path: {batch_model}\nengine:\n"
                    f"  type: onnxruntime\n  max_batch: 2\nsources:\n{sources}mqtt:\n  enabled: false\n")
    got: list[FrameResult] = []
    summary = run_service(load_config(path), max_frames=70, on_result=got.append)
    counts = Counter(r.frame.camera for r in got)
    assert counts["cam1"] >= 3 and counts["cam0"] >= 4 * counts["cam1"], counts  # 30 against 5 fps: 6x
    for k in range(2):  # in capture order per camera
        ids = [r.frame.frame_id for r in got if r.frame.camera == f"cam{k}"]
        assert ids == sorted(ids)
    sources_stats = {s["camera"]: s for s in summary.stats["sources"]}
    assert sources_stats["cam0"]["results"] == counts["cam0"] and "dropped" in sources_stats["cam0"]
