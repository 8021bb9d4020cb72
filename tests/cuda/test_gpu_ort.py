"""ONNX Runtime's CUDA provider through the runner on a real GPU: the demo model on the sample video gives
the same detections as ONNX Runtime on the CPU, in order, for 1, 2 and 3 slots; and the provider really
runs on the slot's stream without waiting for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from edge_sdk.cuda.api import SlotBinding
from edge_sdk.cuda.kernels import SPIN_ARGS
from edge_sdk.cuda.runner import CudaRunner, RunnerOptions
from edge_sdk.decode.base import DecodeParams, Detections
from edge_sdk.decode.yolov8 import decode_yolov8
from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.frame import Frame
from edge_sdk.preprocess import letterbox
from tests.cuda.detections import Tolerance, compare
from tests.cuda.models import moving_frames, write_video, yolo_like_model

pytestmark = pytest.mark.gpu
PARAMS = DecodeParams()
STRICT = {"use_tf32": "0"}  # plain fp32 convolutions, so CPU and GPU differ only by summation order
GRAPH = os.environ.get("ORT_CUDA_GRAPH", "1") == "1"  # tools/gpu/run_all.sh sets 0 where graphs fail


def video_frames(path: Path) -> Iterator[Frame]:
    cap = cv2.VideoCapture(str(path))
    try:
        i = 0
        while True:
            ok, img = cap.read()
            if not ok:
                return
            yield Frame(frame_id=i, camera="demo", image=img, t_capture_mono=float(i), t_capture_wall=1e9 + i,
                        source_pts=cap.get(cv2.CAP_PROP_POS_MSEC) / 1000, extra={"i": i})
            i += 1
    finally:
        cap.release()


def detections(outputs: list[np.ndarray], info: Any) -> Detections:
    dets = decode_yolov8(outputs, PARAMS)
    dets.boxes = info.to_original(dets.boxes)
    return dets


_REFERENCES: dict[tuple[Path, Path], list[Detections]] = {}


def cpu_reference(model: Path, video: Path) -> list[Detections]:
    """Detections of ONNX Runtime on the CPU, with the CPU letterbox (computed once per model and video)."""
    if (model, video) not in _REFERENCES:
        with OnnxRuntimeEngine(model) as cpu:
            out = []
            for f in video_frames(video):
                tensor, info = letterbox(f.image, cpu.info.input_hw)
                out.append(detections(cpu.infer(tensor), info))
        assert len(out) > 50 and sum(len(d) for d in out) > 0
        _REFERENCES[(model, video)] = out
    return _REFERENCES[(model, video)]


@pytest.fixture(scope="module")
def standin_detector(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A stand-in YOLO-layout model (not trained) and a generated video: they run before the demo model exists."""
    d = tmp_path_factory.mktemp("standin")
    return yolo_like_model(d / "standin-yolo.onnx"), write_video(d / "standin.mp4", moving_frames(80))


def check_runner_against_cpu(model: Path, video: Path, slots: int, backend: Any) -> None:
    reference = cpu_reference(model, video)
    engine = OnnxRuntimeEngine.cuda_stream_engine(str(model), provider_options=STRICT, cuda_graph=GRAPH)
    with CudaRunner(engine, RunnerOptions(slots=slots), backend=backend) as runner:
        results = list(runner.run(video_frames(video)))
    assert [r.seq for r in results] == list(range(len(reference)))
    problems, worst_iou, worst_score, matched = [], 1.0, 0.0, 0
    for r, ref in zip(results, reference):
        assert r.frame is not None and r.frame.frame_id == r.seq and r.frame.extra == {"i": r.seq}
        assert r.frame.camera == "demo" and r.frame.t_capture_mono == float(r.seq)
        got, figures = compare(ref, detections(r.outputs, r.letterbox), PARAMS.conf_thres, Tolerance())
        problems += [f"frame {r.seq}: {p}" for p in got]
        worst_iou, worst_score = min(worst_iou, figures["worst_iou"]), max(worst_score, figures["worst_score_diff"])
        matched += int(figures["matched"])
    summary = (f"{matched} of {sum(len(d) for d in reference)} detections matched; worst IoU {worst_iou:.5f}, "
               f"largest score difference {worst_score:.2e}")
    print(summary)
    assert problems == [], f"{summary}; {len(problems)} problems, first: {problems[:5]}"


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_demo_model_on_cuda_streams_matches_the_cpu(ort_cuda: Any, cuda_backend: Any, demo_model: Path,
                                                    sample_video: Path, slots: int) -> None:
    check_runner_against_cpu(demo_model, sample_video, slots, cuda_backend)


@pytest.mark.parametrize("slots", [1, 3])
def test_standin_model_on_cuda_streams_matches_the_cpu(ort_cuda: Any, cuda_backend: Any,
                                                       standin_detector: tuple[Path, Path], slots: int) -> None:
    """Raw outputs of an untrained stand-in (its random weights amplify rounding, so detections near the
    threshold are not compared): each frame's output, in order, equals ONNX Runtime on the CPU."""
    model, video = standin_detector
    with OnnxRuntimeEngine(model) as cpu:
        expected = [cpu.infer(letterbox(f.image, (640, 640))[0])[0] for f in video_frames(video)]
    engine = OnnxRuntimeEngine.cuda_stream_engine(str(model), provider_options=STRICT, cuda_graph=GRAPH)
    with CudaRunner(engine, RunnerOptions(slots=slots), backend=cuda_backend) as runner:
        results = list(runner.run(video_frames(video)))
    assert [r.seq for r in results] == list(range(len(expected)))
    for r, exp in zip(results, expected):
        scores, boxes = r.outputs[0][0, 4:], r.outputs[0][0, :4]
        np.testing.assert_allclose(scores, exp[0, 4:], rtol=0, atol=1e-2)
        np.testing.assert_allclose(boxes, exp[0, :4], rtol=0, atol=2.0)
        assert np.abs(scores - exp[0, 4:]).mean() < 1e-3  # most agree far closer than the worst


def test_enqueue_runs_on_the_slot_stream_and_returns_before_it_is_done(ort_cuda: Any, cuda_backend: Any,
                                                                         standin_detector: tuple[Path, Path]) -> None:
    be = cuda_backend
    model = standin_detector[0]
    engine = OnnxRuntimeEngine.cuda_stream_engine(str(model), provider_options=STRICT, cuda_graph=GRAPH)
    x = np.random.default_rng().random((1, 3, 640, 640), dtype=np.float32)
    with OnnxRuntimeEngine(model) as cpu:
        expected = cpu.infer(x)
    out_shape = tuple(int(d) for d in engine.info.outputs[0].shape)  # type: ignore[arg-type]
    with be.activate():
        stream = be.stream()
        d_in, d_out = be.device_alloc(x.nbytes), be.device_alloc(int(np.prod(out_shape)) * 4)
        h_in = be.pinned(x.shape, np.dtype(np.float32), mapped=False)
        h_out = be.pinned(out_shape, np.dtype(np.float32), mapped=False)
        done = be.event()
        try:
            engine.prepare_slots([SlotBinding(0, be.stream_handle(stream), d_in.ptr, (d_out.ptr,), stream)])
            h_in[:] = 0.5
            be.htod(d_in.ptr, h_in, stream)
            for _ in range(3):  # warm-up: allocations, algorithm search, CUDA graph capture
                engine.enqueue(0, be.stream_handle(stream), d_in.ptr, (d_out.ptr,))
            stream.synchronize()
            spin = be.function("spin_copy", SPIN_ARGS)
            h_in[:] = x
            # 100 ms of spinning, then the real input lands: an inference on any other stream would read 0.5s
            spin.prepared_async_call((132, 1), (1024, 1, 1), stream, d_out.ptr, d_out.ptr, np.int64(0),
                                     np.int64(200_000_000))
            be.htod(d_in.ptr, h_in, stream)
            engine.enqueue(0, be.stream_handle(stream), d_in.ptr, (d_out.ptr,))
            be.record(done, stream)
            returned_before_done = not be.query(done)
            be.dtoh(h_out, d_out.ptr, stream)
            stream.synchronize()
            got = np.array(h_out, copy=True)
        finally:
            engine.release_slots()
            be.free_device(d_in)
            be.free_device(d_out)
            be.free_pinned(h_in)
            be.free_pinned(h_out)
    assert returned_before_done, "run_with_iobinding waited for the GPU"
    np.testing.assert_allclose(got, expected[0], rtol=1e-3, atol=1e-3)
