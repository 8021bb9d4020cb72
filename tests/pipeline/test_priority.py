"""`pipeline.background_nice` lowers the capture threads' priority through the source's public thread id."""

from __future__ import annotations

import os
from pathlib import Path

from edge_sdk.decode.base import DecodeParams
from edge_sdk.decode.registry import get_decoder
from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.engines.model_info import read_metadata
from edge_sdk.pipeline.pipeline import Pipeline, PipelineParts
from edge_sdk.sources.registry import open_source


def test_background_nice_lowers_the_capture_thread_and_not_the_caller(video: Path, const_model: Path) -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    with OnnxRuntimeEngine(const_model) as engine, \
            open_source(f"file://{video}?realtime=1", "cam0", deliver_all=True) as src:
        assert src.capture_thread_id is not None
        parts = PipelineParts(engine, get_decoder("yolov8"), DecodeParams(), read_metadata(const_model), [src])
        pipeline = Pipeline(parts, queue_size=2, background_nice=3).start()
        try:
            assert os.getpriority(os.PRIO_PROCESS, src.capture_thread_id) == min(19, base + 3)
            assert os.getpriority(os.PRIO_PROCESS, 0) == base
        finally:
            pipeline.abort()
            pipeline.join()
    assert src.capture_thread_id is None  # closed
