"""Several infer workers on one engine (`engine.workers`): frame order, exactly-once, engine swaps, and the
same detections as one worker, on real ONNX Runtime sessions and real video decoding."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from edge_sdk.config import load_config
from edge_sdk.daemon import run_service
from edge_sdk.decode.base import DecodeParams
from edge_sdk.decode.registry import get_decoder
from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.engines.base import Engine
from edge_sdk.engines.model_info import read_metadata
from edge_sdk.errors import EngineError
from edge_sdk.frame import FrameResult
from edge_sdk.pipeline.pipeline import Pipeline, PipelineParts
from edge_sdk.sources.registry import open_source
from tests.pipeline.conftest import app_yaml

ROOT = Path(__file__).resolve().parents[2]


class UnevenEngine(Engine):
    """Real ONNX Runtime underneath; each call waits a different time, so concurrent calls finish out of
    order. Counts the calls in flight at once, and fails any call after `close` (a swap must wait): the base
    class refuses a call made after it, `used_after_close` records one that raced past that check."""

    def __init__(self, model: Path, workers: int, delays_ms: tuple[int, ...] = (30, 2, 12)) -> None:
        self._inner = OnnxRuntimeEngine(model, workers=workers)
        self.info = self._inner.info
        self.concurrency = workers
        self._delays = delays_ms
        self._lock = threading.Lock()
        self.calls = self.in_flight = self.max_in_flight = 0
        self.was_closed = False
        self.used_after_close = False

    def infer_impl(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        with self._lock:
            if self.was_closed:
                self.used_after_close = True
                raise EngineError("closed engine used")
            delay = self._delays[self.calls % len(self._delays)] / 1000
            self.calls += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            time.sleep(delay)
            return self._inner.infer(inputs)
        finally:
            with self._lock:
                self.in_flight -= 1

    def close_impl(self) -> None:
        with self._lock:
            self.was_closed = True
        self._inner.close()


def _run(engine: Engine, model: Path, uri: str) -> tuple[Pipeline, list[FrameResult]]:
    got: list[FrameResult] = []
    metadata = read_metadata(model)
    with open_source(uri, "cam0", deliver_all=True) as src:
        parts = PipelineParts(engine, get_decoder("yolov8"), DecodeParams(), metadata, [src],
                              on_result=got.append)
        pipeline = Pipeline(parts, queue_size=2).start()
        assert pipeline.wait(60)
        pipeline.join()
    return pipeline, got


def test_workers_finish_out_of_order_and_results_stay_in_frame_order(video: Path, const_model: Path) -> None:
    engine = UnevenEngine(const_model, workers=3)
    pipeline, got = _run(engine, const_model, f"file://{video}")
    assert pipeline.error is None
    assert engine.max_in_flight == 3  # the three workers really overlapped
    assert [r.frame.frame_id for r in got] == list(range(40))  # every frame once, in order
    np.testing.assert_allclose(got[-1].detections.boxes[0], [120, 100, 200, 140], atol=0.5)
    assert pipeline.stats["infer"].snapshot()["frames"] == 40
    assert pipeline.stats["decode"].snapshot()["frames"] == 40


def test_swap_waits_for_every_inference_on_the_old_engine(video: Path, const_model: Path) -> None:
    old = UnevenEngine(const_model, workers=2)
    new = UnevenEngine(const_model, workers=2, delays_ms=(1,))
    got: list[FrameResult] = []
    pipeline: Pipeline | None = None
    swapped = threading.Event()

    def on_result(result: FrameResult) -> None:
        got.append(result)
        if len(got) == 10 and pipeline is not None:
            def swap() -> None:
                returned = pipeline.swap_engine(new)
                returned.close()  # what the daemon does: any later call on it would fail
                swapped.set()
            threading.Thread(target=swap).start()

    metadata = read_metadata(const_model)
    with open_source(f"file://{video}", "cam0", deliver_all=True) as src:
        parts = PipelineParts(old, get_decoder("yolov8"), DecodeParams(), metadata, [src], on_result=on_result)
        pipeline = Pipeline(parts, queue_size=2).start()
        assert pipeline.wait(60)
        pipeline.join()
    assert swapped.is_set() and pipeline.error is None
    assert not old.used_after_close
    assert [r.frame.frame_id for r in got] == list(range(40))
    assert old.calls + new.calls == 40 and new.calls > 0
    models = {id(r.model.engine_info) for r in got}
    assert models == {id(old.info), id(new.info)}


def test_a_swap_to_another_worker_count_is_refused_and_the_pipeline_goes_on(video: Path, const_model: Path) -> None:
    running = UnevenEngine(const_model, workers=2, delays_ms=(5,))
    other = UnevenEngine(const_model, workers=1)
    refused: list[str] = []
    got: list[FrameResult] = []
    pipeline: Pipeline | None = None

    def on_result(result: FrameResult) -> None:
        got.append(result)
        if len(got) == 5 and pipeline is not None:
            try:
                pipeline.swap_engine(other)
            except ValueError as exc:
                refused.append(str(exc))

    with open_source(f"file://{video}", "cam0", deliver_all=True) as src:
        parts = PipelineParts(running, get_decoder("yolov8"), DecodeParams(), read_metadata(const_model), [src],
                              on_result=on_result)
        pipeline = Pipeline(parts, queue_size=2).start()
        assert pipeline.wait(60)
        pipeline.join()
    assert refused and "engine.workers changed (2 -> 1)" in refused[0]
    assert [r.frame.frame_id for r in got] == list(range(40)) and running.calls == 40 and other.calls == 0
    other.close()


def test_two_workers_give_the_same_detections_as_one_on_the_demo_model(tmp_path: Path) -> None:
    model = ROOT / "models/demo/yolo-demo.onnx"
    uri = f"file://{ROOT / 'samples/demo.mp4'}"
    runs = {}
    for workers in (1, 2):
        folder = tmp_path / f"w{workers}"
        folder.mkdir()
        cfg = load_config(app_yaml(folder, model, uri, f"engine:\n  type: onnxruntime\n  workers: {workers}\n"))
        got: list[FrameResult] = []
        summary = run_service(cfg, max_frames=24, on_result=got.append)
        assert summary.frames == 24
        runs[workers] = got
    one, two = runs[1], runs[2]
    assert [r.frame.frame_id for r in two] == [r.frame.frame_id for r in one] == list(range(24))
    assert two[0].model.engine_info.extra["workers"] == 2
    assert two[0].model.engine_info.extra["intra_op_threads"] >= 1
    assert sum(len(r.detections) for r in one) > 50
    for a, b in zip(one, two):
        assert a.detections.class_ids.tolist() == b.detections.class_ids.tolist()
        np.testing.assert_allclose(a.detections.boxes, b.detections.boxes, atol=0.05)
        np.testing.assert_allclose(a.detections.scores, b.detections.scores, atol=1e-4)
