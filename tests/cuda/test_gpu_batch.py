"""Batches on a real GPU: the demo model made batch-taking (tools/models/batchable.py: the same weights, each
image's outputs its own) on ONNX Runtime's CUDA provider through the runner, frames of several cameras per
submission, each image's detections equal to ONNX Runtime on the CPU for that image alone; and the whole pipeline
(4 cameras, CUDA executor, batches of 4) gives every camera its frames in order with the CPU's detections.
Marked gpu: skipped without pycuda, a GPU or onnxruntime-gpu (as in CI). tools/gpu/run_all.sh runs them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge_sdk.cuda.runner import CudaRunner, RunnerOptions
from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.frame import FrameResult
from tests.cuda.detections import Tolerance, compare
from tests.cuda.test_gpu_ort import GRAPH, PARAMS, STRICT, cpu_reference, detections, video_frames

pytestmark = pytest.mark.gpu
ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "models/demo/yolo-demo.onnx"
VIDEO = ROOT / "samples/demo.mp4"


@pytest.fixture(scope="module")
def batched_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tools.models.batchable import batchable

    return batchable(DEMO, tmp_path_factory.mktemp("batch") / "yolo-demo-batch.onnx")


@pytest.mark.parametrize(("batch", "slots"), [(4, 2), (3, 3)])
def test_batches_of_frames_through_the_runner_match_the_cpu_per_image(ort_cuda: Any, cuda_backend: Any,
                                                                      batched_demo: Path, batch: int,
                                                                      slots: int) -> None:
    reference = cpu_reference(DEMO, VIDEO)  # the original model, one frame at a time, on the CPU
    frames = list(video_frames(VIDEO))
    engine = OnnxRuntimeEngine.cuda_stream_engine(str(batched_demo), provider_options=STRICT, cuda_graph=GRAPH)
    got = []
    with CudaRunner(engine, RunnerOptions(slots=slots, batch=batch), backend=cuda_backend) as runner:
        assert runner.batch == batch
        for start in range(0, len(frames), batch):
            runner.submit_batch(frames[start:start + batch], tag=start)  # the last submission may be partial
            got += runner.results()
        got += runner.drain()
    seen = [f for r in got for f in r.frames]
    assert [f.frame_id for f in seen] == list(range(len(frames)))
    problems = []
    for r in got:
        assert r.outputs[0].shape[0] == r.rows >= len(r.frames)
        for i, (frame, info) in enumerate(zip(r.frames, r.letterboxes)):
            found, _ = compare(reference[frame.frame_id], detections([r.outputs[0][i:i + 1]], info),
                               PARAMS.conf_thres, Tolerance())
            problems += [f"frame {frame.frame_id}: {p}" for p in found]
    assert not problems, problems[:10]


def test_the_pipeline_batches_four_cameras_on_the_gpu(ort_cuda: Any, batched_demo: Path, tmp_path: Path) -> None:
    """edge-sdk run's own wiring (open_model, executor_for: the CUDA executor, batches of 4) on 4 cameras of the
    sample video: each camera's frames in order, each with the CPU's detections of that frame."""
    from edge_sdk.config.loader import load_config_text
    from edge_sdk.daemon import run_service

    reference = cpu_reference(DEMO, VIDEO)
    sources = "".join(f"  - name: cam{i}\n    uri: file://{VIDEO}\n    deliver_all: true\n" for i in range(4))
    cfg = load_config_text(f"device: cpu\nstate_dir: {tmp_path / 'state'}\nmodel:\n  path: {batched_demo}\n"
                           f"engine:\n  type: onnxruntime\n  providers: [CUDAExecutionProvider]\n  tf32: false\n"
                           f"  cuda_graph: {'true' if GRAPH else 'false'}\n  batch_timeout_ms: 50\n"
                           f"sources:\n{sources}mqtt:\n  enabled: false\n", base_dir=tmp_path)
    got: list[FrameResult] = []
    summary = run_service(cfg, on_result=got.append)
    assert summary.stats["engine"]["executor"] == "cuda-streams" and summary.stats["batches"]["size_max"] == 4
    problems = []
    for cam in range(4):
        mine = [r for r in got if r.frame.camera == f"cam{cam}"]
        assert [r.frame.frame_id for r in mine] == list(range(len(reference)))
        for r in mine:
            found, _ = compare(reference[r.frame.frame_id], r.detections, PARAMS.conf_thres, Tolerance())
            problems += found
    assert not problems, problems[:10]


def test_engine_only_at_a_batch_counts_frames(ort_cuda: Any, cuda_backend: Any, batched_demo: Path) -> None:
    from edge_sdk.bench.pipeline_bench import runner_engine_only

    frame = next(video_frames(VIDEO))
    engine = OnnxRuntimeEngine.cuda_stream_engine(str(batched_demo), provider_options=STRICT, cuda_graph=GRAPH)

    def make_runner() -> CudaRunner:
        return CudaRunner(engine, RunnerOptions(slots=2, batch=8), backend=cuda_backend)

    fps, lat, _ = runner_engine_only(make_runner, frame.image, iterations=20, warmup=3)
    assert fps > 0 and len(lat) == 20 and all(t > 0 for t in lat)  # device time of each batch of 8, CUDA events

