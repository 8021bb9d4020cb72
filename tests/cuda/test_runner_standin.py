"""The runner's bookkeeping on the CPU stand-in backend (standin.py): ordering, metadata, slot reuse,
the zero-copy and mapped paths, and shutdown with frames in flight. The stand-in runs streams as threads
with random delays; these tests say nothing about CUDA itself (tests/cuda/test_gpu_*.py do, on a GPU)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.cuda.runner import CudaRunner, RunnerOptions
from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.engines.base import EngineInfo, TensorSpec
from edge_sdk.errors import EngineError
from edge_sdk.frame import Frame
from edge_sdk.preprocess import letterbox
from tests.cuda.models import conv_model, moving_frames
from tests.cuda.standin import StandInBackend, StandInEngine, tagging_compute, tagging_info


def make_frame(i: int, image: np.ndarray, camera: str = "cam0") -> Frame:
    return Frame(frame_id=i, camera=camera, image=image, t_capture_mono=1000.0 + i, t_capture_wall=2000.0 + i,
                 source_pts=i / 25, extra={"n": i})


def tag_frames(n: int, hw: tuple[int, int] = (32, 32)) -> list[Frame]:
    """Frames whose top-left pixel value identifies them (the letterbox keeps it at 32x32 -> 32x32)."""
    frames = []
    for i in range(n):
        img = np.zeros((*hw, 3), np.uint8)
        img[0, 0] = (i % 256, (i * 7) % 256, (i * 13) % 256)
        frames.append(make_frame(i, img))
    return frames


def expected_tag(frame: Frame) -> np.ndarray:
    tensor, _ = letterbox(frame.image, (32, 32))
    return tensor.reshape(-1)[:8] + 1


@pytest.mark.parametrize("slots", [1, 2, 3])
def test_results_come_in_submission_order_with_their_frames(slots: int) -> None:
    backend = StandInBackend(jitter_s=0.002, seed=slots)
    engine = StandInEngine(backend, tagging_info(), tagging_compute())
    frames = tag_frames(40)
    got = []
    with CudaRunner(engine, RunnerOptions(slots=slots, max_frame_hw=(32, 32)), backend=backend) as runner:
        for f in frames:
            runner.submit(f, tag=f"t{f.frame_id}")
            assert runner.in_flight <= slots
            got += runner.results()
        got += runner.drain()
    assert [r.seq for r in got] == list(range(40)) and backend.errors == []
    for r, f in zip(got, frames):
        assert r.frame is f and r.tag == f"t{f.frame_id}"
        assert r.frame.extra == {"n": f.frame_id} and r.frame.t_capture_mono == 1000.0 + f.frame_id
        np.testing.assert_array_equal(r.outputs[0].reshape(-1), expected_tag(f))
    assert engine.released == 1 and backend.memory == {} and not backend.streams


def test_outputs_are_owned_by_the_caller() -> None:
    backend = StandInBackend(jitter_s=0.0)
    engine = StandInEngine(backend, tagging_info(), tagging_compute())
    with CudaRunner(engine, RunnerOptions(slots=1, max_frame_hw=(32, 32)), backend=backend) as runner:
        frames = tag_frames(3)
        runner.submit(frames[0])
        first = runner.drain()[0].outputs[0]
        keep = first.copy()
        runner.submit(frames[1])
        runner.submit(frames[2])
        runner.drain()
    np.testing.assert_array_equal(first, keep)  # slot 0 was reused twice; the returned array did not change


@pytest.fixture(scope="module")
def conv_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return conv_model(tmp_path_factory.mktemp("models") / "conv.onnx", input_hw=(128, 160), widths=(8, 16))


@pytest.mark.parametrize("preprocess", ["gpu", "cpu"])
def test_real_onnx_runtime_through_the_runner_matches_the_plain_engine(conv_onnx: Path, preprocess: str) -> None:
    frames = [make_frame(i, img) for i, img in enumerate(moving_frames(12, hw=(240, 320)))]
    with OnnxRuntimeEngine(conv_onnx) as ort_cpu:
        expected = [ort_cpu.infer(letterbox(f.image, (128, 160))[0])[0] for f in frames]
        backend = StandInBackend(jitter_s=0.001)
        engine = StandInEngine(backend, ort_cpu.info, lambda x: ort_cpu.infer(x))
        opts = RunnerOptions(slots=2, preprocess=preprocess, max_frame_hw=(240, 320))  # type: ignore[arg-type]
        with CudaRunner(engine, opts, backend=backend) as runner:
            results = list(runner.run(frames))
    assert [r.frame for r in results] == frames
    for r, exp in zip(results, expected):
        np.testing.assert_allclose(r.outputs[0], exp, rtol=0, atol=1e-5)
        assert r.letterbox is not None and r.letterbox.scale == pytest.approx(0.5)
    assert backend.kernels == (12 if preprocess == "gpu" else 0)


def test_mapped_memory_makes_no_copies() -> None:
    backend = StandInBackend(jitter_s=0.001, integrated=True)
    engine = StandInEngine(backend, tagging_info(), tagging_compute())
    frames = tag_frames(10)
    with CudaRunner(engine, RunnerOptions(slots=2, memory="auto", max_frame_hw=(32, 32)), backend=backend) as runner:
        assert runner.memory == "mapped"
        results = list(runner.run(frames))
    assert backend.copies == 0
    for r, f in zip(results, frames):
        np.testing.assert_array_equal(r.outputs[0].reshape(-1), expected_tag(f))


def test_next_input_is_filled_in_place_without_a_host_copy() -> None:
    backend = StandInBackend(jitter_s=0.002)
    engine = StandInEngine(backend, tagging_info(), tagging_compute())
    got = []
    with CudaRunner(engine, RunnerOptions(slots=2, preprocess="cpu"), backend=backend) as runner:
        for i in range(20):
            buf = runner.next_input()
            buf.fill(float(i))
            runner.submit_tensor(buf, tag=i)
            got += runner.results()
        got += runner.drain()
    assert [r.tag for r in got] == list(range(20))
    assert all(np.all(r.outputs[0] == r.tag + 1) for r in got)
    assert all(r.frame is None and r.letterbox is None for r in got)


def test_a_larger_frame_grows_the_slot_buffers() -> None:
    backend = StandInBackend(jitter_s=0.0)
    engine = StandInEngine(backend, tagging_info(), tagging_compute())
    big = make_frame(1, np.full((64, 64, 3), 200, np.uint8))
    with CudaRunner(engine, RunnerOptions(slots=1, max_frame_hw=(32, 32)), backend=backend) as runner:
        runner.submit(tag_frames(1)[0])
        runner.submit(big)  # 64x64 does not fit the 32x32 buffers
        results = runner.drain()
    assert len(results) == 2
    np.testing.assert_allclose(results[1].outputs[0], 200 / 255 + 1, rtol=1e-6)
    assert results[1].letterbox is not None and results[1].letterbox.scale == 0.5


def test_leaving_with_frames_in_flight_waits_for_them_and_frees_everything() -> None:
    backend = StandInBackend(jitter_s=0.0)

    def slow(x: np.ndarray) -> list[np.ndarray]:
        time.sleep(0.05)
        return tagging_compute()(x)

    engine = StandInEngine(backend, tagging_info(), slow)
    with CudaRunner(engine, RunnerOptions(slots=3, max_frame_hw=(32, 32)), backend=backend) as runner:
        for f in tag_frames(3):
            runner.submit(f)
        assert runner.in_flight == 3
    assert runner.discarded == 3
    assert backend.errors == []  # no work touched freed memory: the buffers went after the frames finished
    assert backend.memory == {} and backend.streams == {} and engine.released == 1
    with pytest.raises(EngineError, match="closed"):
        runner.submit(tag_frames(1)[0])


def test_results_wait_returns_the_oldest_when_none_is_finished() -> None:
    backend = StandInBackend(jitter_s=0.0)

    def slow(x: np.ndarray) -> list[np.ndarray]:
        time.sleep(0.1)
        return tagging_compute()(x)

    engine = StandInEngine(backend, tagging_info(), slow)
    with CudaRunner(engine, RunnerOptions(slots=2, max_frame_hw=(32, 32)), backend=backend) as runner:
        for f in tag_frames(2):
            runner.submit(f)
        assert runner.results() == []  # nothing finished yet, and results() does not wait
        waited = runner.results(wait=True)
        assert [r.seq for r in waited] and waited[0].seq == 0
        rest = runner.drain()
    assert [r.seq for r in waited + rest] == [0, 1]


def test_stage_yields_pending_results_when_the_source_is_idle() -> None:
    backend = StandInBackend(jitter_s=0.0)
    engine = StandInEngine(backend, tagging_info(), tagging_compute())
    frames = tag_frames(3)
    with CudaRunner(engine, RunnerOptions(slots=3, max_frame_hw=(32, 32)), backend=backend) as runner:
        stage = runner.run([frames[0], None, frames[1], frames[2], None, None])
        first = next(stage)  # the None after frame 0 makes the stage wait for it
        assert first.frame is frames[0]
        rest = list(stage)
    assert [r.frame for r in rest] == frames[1:]


def test_an_engine_that_fails_to_enqueue_fails_the_runner_and_everything_is_freed() -> None:
    backend = StandInBackend(jitter_s=0.0)
    engine = StandInEngine(backend, tagging_info(), tagging_compute())
    engine.fail_enqueue_at = 2
    frames = tag_frames(5)
    runner = CudaRunner(engine, RunnerOptions(slots=2, max_frame_hw=(32, 32)), backend=backend)
    with pytest.raises(EngineError, match="failed to enqueue: RuntimeError: stand-in engine refused") as err, runner:
        for f in frames:
            runner.submit(f)
    assert "slot 0" in str(err.value)
    assert backend.memory == {} and engine.released == 1


def test_an_asynchronous_failure_surfaces_at_the_next_synchronization() -> None:
    backend = StandInBackend(jitter_s=0.0)
    engine = StandInEngine(backend, tagging_info(), tagging_compute())
    engine.fail_on_stream_at = 1
    runner = CudaRunner(engine, RunnerOptions(slots=2, max_frame_hw=(32, 32)), backend=backend)
    with runner:
        for f in tag_frames(2):
            runner.submit(f)
        with pytest.raises(EngineError, match="stand-in engine failed on the stream"):
            runner.drain()
        with pytest.raises(EngineError, match="failed"):
            runner.submit(tag_frames(1)[0])
    assert backend.memory == {}


def test_bad_arguments_are_value_errors_and_bad_engines_engine_errors() -> None:
    with pytest.raises(ValueError, match="slots"):
        RunnerOptions(slots=0)
    with pytest.raises(ValueError, match="memory"):
        RunnerOptions(memory="shared")  # type: ignore[arg-type]
    backend = StandInBackend(jitter_s=0.0)
    engine = StandInEngine(backend, tagging_info(), tagging_compute())
    with CudaRunner(engine, RunnerOptions(max_frame_hw=(32, 32)), backend=backend) as runner:
        with pytest.raises(ValueError, match="BGR uint8"):
            runner.submit(make_frame(0, np.zeros((32, 32), np.uint8)))
        with pytest.raises(ValueError, match="BGR uint8"):
            runner.submit(make_frame(0, np.zeros((0, 32, 3), np.uint8)))
        with pytest.raises(ValueError, match="preprocess='cpu'"):
            runner.next_input()
        runner.submit(tag_frames(1)[0])  # still usable after refused input
        assert len(runner.drain()) == 1
        with pytest.raises(ValueError, match="takes 1 to 1"):
            runner.submit_batch(tag_frames(2))  # one frame per submission (options.batch 1)
    dynamic = EngineInfo(type="x", model_path="m.onnx", model_sha256="", precision="fp32",
                         inputs=(TensorSpec("images", ("batch", 3, "height", 32), "float32"),),
                         outputs=(TensorSpec("out", (1, 8), "float32"),), device="cuda:0")
    backend2 = StandInBackend(jitter_s=0.0)
    with pytest.raises(EngineError, match="dynamic shape"):
        CudaRunner(StandInEngine(backend2, dynamic, tagging_compute()), backend=backend2).open()
    assert backend2.memory == {}


def test_engine_only_runs_the_engine_alone_on_the_runners_slots_with_the_frame_resident() -> None:
    """What `edge-sdk bench` compares the GPU pipeline with: the runner's own slots and engine sessions, the frame
    preprocessed into each slot once, then inferences only (no copies, no preprocess kernels)."""
    from edge_sdk.bench.pipeline_bench import runner_engine_only

    backend = StandInBackend(jitter_s=0.0005)
    seen: list[np.ndarray] = []
    tag = tagging_compute()

    def compute(x: np.ndarray) -> list[np.ndarray]:
        seen.append(x.reshape(-1)[:8].copy())
        return tag(x)

    engine = StandInEngine(backend, tagging_info(), compute)
    frame = tag_frames(4)[3]

    def make_runner() -> CudaRunner:
        return CudaRunner(engine, RunnerOptions(slots=2, max_frame_hw=(32, 32)), backend=backend)

    fps, lat, kernels = runner_engine_only(make_runner, frame.image, iterations=30, warmup=3)
    assert fps > 0 and len(lat) == 30 and kernels.startswith("CPU stand-in")
    assert backend.copies == 3 * 2 and backend.kernels == 3  # the 3 warm-up frames in and out; none after
    assert engine.enqueued == 3 + 3 + 30 and len(seen) == 36
    tensor, _ = letterbox(frame.image, (32, 32))
    assert all(np.array_equal(s, tensor.reshape(-1)[:8]) for s in seen)  # every inference read the frame
    with CudaRunner(engine, RunnerOptions(slots=2, max_frame_hw=(32, 32)), backend=backend) as runner:
        runner.submit(frame)
        with pytest.raises(EngineError, match="idle runner"):
            runner.engine_only(5)


@pytest.mark.parametrize("preprocess", ["gpu", "cpu"])
@pytest.mark.parametrize("lead", ["batch", 4])
def test_batches_of_frames_come_back_per_image_for_dynamic_and_fixed_batches(tmp_path: Path, preprocess: str,
                                                                              lead: int | str) -> None:
    """Frames of several cameras in one submission, each letterboxed into its own row (frames of different sizes
    grow the slot's frame buffer once), real ONNX Runtime computing: row i is frame i's. A dynamic batch computes
    the frames only; a fixed batch of 4 computes 4 rows, the frames first."""
    from tests.support.onnx_models import per_image_model

    model = per_image_model(tmp_path / "m.onnx", batch=lead)
    sizes = [(48, 64), (64, 48), (32, 32), (64, 96), (40, 40)]
    frames = [make_frame(i, np.full((*sizes[i], 3), 40 * i + 20, np.uint8), camera=f"cam{i % 3}") for i in range(5)]
    with OnnxRuntimeEngine(model) as ort_cpu:
        expected = [ort_cpu.infer(np.concatenate([letterbox(f.image, (64, 64))[0]] * (4 if lead == 4 else 1)))[0][:1]
                    for f in frames]
        backend = StandInBackend(jitter_s=0.001)
        engine = StandInEngine(backend, ort_cpu.info, lambda x: ort_cpu.infer(x))
        opts = RunnerOptions(slots=2, batch=3, preprocess=preprocess, max_frame_hw=(32, 32))  # type: ignore[arg-type]
        with CudaRunner(engine, opts, backend=backend) as runner:
            assert runner.batch == 3
            runner.submit_batch(frames[:3], tag="a")
            runner.submit_batch(frames[3:], tag="b")  # a partial batch
            results = runner.drain()
    assert [r.tag for r in results] == ["a", "b"] and backend.errors == []
    assert [len(r.frames) for r in results] == [3, 2] and engine.batches == [r.rows for r in results]
    assert [r.rows for r in results] == ([3, 2] if lead == "batch" else [4, 4])
    for r in results:
        assert r.outputs[0].shape[0] == r.rows and r.frames[0] is r.frame and r.letterboxes[0] is r.letterbox
        for i, (frame, info) in enumerate(zip(r.frames, r.letterboxes)):
            np.testing.assert_allclose(r.outputs[0][i:i + 1], expected[frame.frame_id], atol=1e-4)
            assert info == letterbox(frame.image, (64, 64))[1]
