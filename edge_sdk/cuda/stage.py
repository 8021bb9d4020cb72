"""The runner as a pipeline stage: frames in, results out in order, as soon as each is done."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from edge_sdk.cuda.api import RunnerResult
from edge_sdk.cuda.runner import CudaRunner
from edge_sdk.frame import Frame


def run_frames(runner: CudaRunner, frames: Iterable[Frame | None]) -> Iterator[RunnerResult]:
    """Submit each frame and yield the finished results in submission order; at the end, the rest.

    A `None` in `frames` means "no frame right now" (a queue read that timed out): the oldest frame in
    flight is then waited for and yielded, so results of a stream that pauses do not wait for the next
    frame. Stopping the iteration early leaves frames in flight: the runner's exit waits for and drops them.
    """
    for frame in frames:
        if frame is not None:
            runner.submit(frame)
        yield from runner.results(wait=frame is None)
    yield from runner.drain()
