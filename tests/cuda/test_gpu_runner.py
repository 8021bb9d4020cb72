"""The runner on a real GPU with `SpinEngine` (a real kernel of set duration on the slot's stream): order,
metadata, the mapped and zero-copy paths, and shutdown with frames in flight."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from edge_sdk.cuda.runner import CudaRunner, RunnerOptions
from edge_sdk.frame import Frame
from edge_sdk.preprocess import letterbox
from tools.gpu.spin import SpinEngine, measure_cycles_per_ms

pytestmark = pytest.mark.gpu
N_COPY = 640 * 3  # three rows of the R plane, from row 80 (where a 480-row frame starts in the 640x640 input)


@pytest.fixture(scope="module")
def cycles_per_ms(cuda_backend: Any) -> float:
    return measure_cycles_per_ms(cuda_backend)


def frames(n: int, hw: tuple[int, int] = (480, 640)) -> list[Frame]:
    rng = np.random.default_rng()
    return [Frame(frame_id=i, camera=f"cam{i % 2}", image=rng.integers(0, 256, (*hw, 3), dtype=np.uint8),
                  t_capture_mono=float(i), t_capture_wall=1e9 + i, source_pts=i * 0.04, extra={"i": i}) for i in range(n)]


def expected(frame: Frame) -> np.ndarray:
    tensor, _ = letterbox(frame.image, (640, 640))
    return tensor.reshape(-1)[80 * 640:80 * 640 + N_COPY] + 1  # rows 80.. hold the 480-row image


def check(results: list[Any], sent: list[Frame]) -> None:
    assert [r.seq for r in results] == list(range(len(sent)))
    for r, f in zip(results, sent):
        assert r.frame is f and r.tag == ("tag", f.frame_id) and r.frame.extra == {"i": f.frame_id}
        got = r.outputs[0].reshape(-1)[:N_COPY]
        assert np.abs(got - expected(f)).max() <= 1 / 255 + 1e-6


def spin(backend: Any, cycles_per_ms: float, ms: float) -> SpinEngine:
    # the kernel copies from the start of the input: offset it to the image rows with a view of the pointer
    return _OffsetSpin(backend, cycles=int(cycles_per_ms * ms), n_copy=N_COPY)


class _OffsetSpin(SpinEngine):
    """SpinEngine reading from row 80 of the R plane (where a 480-row frame starts), so outputs show frame content."""

    def enqueue(self, slot_index: int, stream_handle: int, input_ptr: int, output_ptrs: tuple[int, ...],
                batch: int = 1, /) -> None:
        super().enqueue(slot_index, stream_handle, input_ptr + 80 * 640 * 4, output_ptrs, batch)


@pytest.mark.parametrize("slots", [1, 2, 3])
@pytest.mark.parametrize("memory", ["copy", "mapped"])
def test_results_in_order_with_metadata(cuda_backend: Any, cycles_per_ms: float, slots: int, memory: str) -> None:
    sent = frames(24)
    engine = spin(cuda_backend, cycles_per_ms, 0.3)
    got = []
    opts = RunnerOptions(slots=slots, memory=memory)  # type: ignore[arg-type]
    with CudaRunner(engine, opts, backend=cuda_backend) as runner:
        assert runner.memory == memory
        for f in sent:
            runner.submit(f, tag=("tag", f.frame_id))
            got += runner.results()
        got += runner.drain()
    check(got, sent)


def test_cpu_preprocess_and_zero_copy_tensor_path(cuda_backend: Any, cycles_per_ms: float) -> None:
    engine = SpinEngine(cuda_backend, cycles=int(cycles_per_ms * 0.2), n_copy=N_COPY)
    got = []
    with CudaRunner(engine, RunnerOptions(slots=2, preprocess="cpu"), backend=cuda_backend) as runner:
        for i in range(12):
            buf = runner.next_input()
            buf.fill(float(i))
            runner.submit_tensor(buf, tag=i)
            got += runner.results()
        got += runner.drain()
    assert [r.tag for r in got] == list(range(12))
    assert all(np.all(r.outputs[0].reshape(-1)[:N_COPY] == r.tag + 1) for r in got)


def test_submit_does_not_wait_for_the_gpu(cuda_backend: Any, cycles_per_ms: float) -> None:
    engine = spin(cuda_backend, cycles_per_ms, 200.0)
    with CudaRunner(engine, RunnerOptions(slots=2), backend=cuda_backend) as runner:
        runner.submit(frames(1)[0], tag=("tag", 0))
        assert runner.in_flight == 1 and runner.results() == []  # a 200 ms kernel is still running
        assert len(runner.results(wait=True)) == 1


def test_shutdown_with_frames_in_flight_then_the_gpu_is_still_usable(cuda_backend: Any, cycles_per_ms: float) -> None:
    engine = spin(cuda_backend, cycles_per_ms, 30.0)
    with CudaRunner(engine, RunnerOptions(slots=3), backend=cuda_backend) as runner:
        for f in frames(3):
            runner.submit(f, tag=("tag", f.frame_id))
    assert runner.discarded == 3 and runner.in_flight == 0
    sent = frames(4)
    with CudaRunner(spin(cuda_backend, cycles_per_ms, 0.1), RunnerOptions(slots=2), backend=cuda_backend) as again:
        results = list(again.run(sent))
    for r, f in zip(results, sent):
        r.tag = ("tag", f.frame_id)
    check(results, sent)


def test_own_backend_is_opened_and_closed(cycles_per_ms: float, cuda_backend: Any) -> None:
    """A runner without a backend retains and releases the primary context itself."""
    engine = spin(cuda_backend, cycles_per_ms, 0.1)
    sent = frames(3)
    with CudaRunner(engine, RunnerOptions(slots=2)) as runner:
        results = list(runner.run(sent))
    assert [r.frame for r in results] == sent
