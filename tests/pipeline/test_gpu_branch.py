"""The pipeline's CUDA executor (the CUDA-stream runner instead of CPU workers), driven through the runner's CPU
stand-in backend (tests/cuda/standin.py) with the real ONNX Runtime engine computing. This checks the wiring (order,
metadata, box mapping, end of stream, results and stats equal to the CPU executor's); it says nothing about CUDA
itself: tests/cuda/test_gpu_*.py do that on a GPU."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge_sdk.config import load_config
from edge_sdk.cuda.runner import CudaRunner, RunnerOptions
from edge_sdk.frame import FrameResult
from edge_sdk.pipeline.build import open_model, open_sources
from edge_sdk.pipeline.executors.cuda import CudaExecutor
from edge_sdk.pipeline.pipeline import Pipeline, PipelineParts
from tests.cuda.standin import StandInBackend, StandInEngine
from tests.pipeline.conftest import app_yaml


def _run(cfg_path: Path, gpu: bool) -> tuple[list[FrameResult], Pipeline]:
    cfg = load_config(cfg_path)
    bundle = open_model(cfg)
    got: list[FrameResult] = []
    executor = None
    if gpu:
        backend = StandInBackend(jitter_s=0.001)
        engine = StandInEngine(backend, bundle.engine.info, lambda x: bundle.engine.infer(x))

        def make_runner() -> CudaRunner:
            return CudaRunner(engine, RunnerOptions(slots=2, max_frame_hw=(240, 320)), backend=backend)

        executor = CudaExecutor(make_runner)

    try:
        with open_sources(cfg) as sources:
            parts = PipelineParts(bundle.engine, bundle.decoder, bundle.params, bundle.metadata, sources,
                                  on_result=got.append, executor=executor)
            pipeline = Pipeline(parts).start()
            assert pipeline.wait(60)
            pipeline.join()
    finally:
        bundle.engine.close()
    assert pipeline.error is None
    return got, pipeline


def test_gpu_branch_gives_the_cpu_branch_results_in_order(tmp_path: Path, video: Path, const_model: Path) -> None:
    cfg = app_yaml(tmp_path, const_model, f"file://{video}")
    cpu, _ = _run(cfg, gpu=False)
    gpu, pipeline = _run(cfg, gpu=True)
    assert [r.frame.frame_id for r in gpu] == list(range(40)) == [r.frame.frame_id for r in cpu]
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(b.detections.boxes, a.detections.boxes, atol=1e-4)
        assert b.detections.class_ids.tolist() == a.detections.class_ids.tolist()
        assert b.frame.t_capture_mono > 0 and b.frame.camera == "cam0"
    np.testing.assert_allclose(gpu[0].detections.boxes[0], [120, 100, 200, 140], atol=0.5)
    assert pipeline.stats["infer"].count == 40
    assert pipeline.stats["preprocess"].count == 40  # both executors record preprocess and infer per frame
    assert pipeline.snapshot()["engine"]["executor"] == "cuda-streams"


def test_engine_of_a_gpu_pipeline_is_not_swapped_live(tmp_path: Path, video: Path, const_model: Path) -> None:
    import pytest

    cfg = load_config(app_yaml(tmp_path, const_model, f"file://{video}"))
    bundle = open_model(cfg)
    try:
        parts = PipelineParts(bundle.engine, bundle.decoder, bundle.params, bundle.metadata, [],
                              executor=CudaExecutor(lambda: None))  # type: ignore[arg-type,return-value]
        with pytest.raises(ValueError, match="restart"):
            Pipeline(parts).swap_engine(bundle.engine)
    finally:
        bundle.engine.close()


def test_files_decode_with_more_threads_when_the_engine_is_on_a_gpu(tmp_path: Path, video: Path) -> None:
    """On a GPU the capture thread's decoding is the limit (the cores are otherwise free): file sources get
    FFmpeg frame threads; the URI's own threads= wins; other schemes have no such option and are untouched."""
    from edge_sdk.pipeline.build import GPU_DECODER_THREADS
    from edge_sdk.sources.registry import open_source

    assert open_source(f"file://{video}", decoder_threads=GPU_DECODER_THREADS).reader.threads == GPU_DECODER_THREADS
    assert open_source(f"file://{video}?threads=1", decoder_threads=GPU_DECODER_THREADS).reader.threads == 1
    assert open_source(f"file://{video}").reader.threads == 1  # the CPU path leaves the cores to the engine
    assert not hasattr(open_source("gst://videotestsrc", decoder_threads=4).reader, "threads")
