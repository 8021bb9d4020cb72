"""CPU executor: `engine.workers` threads on the one engine, each taking a batch, preprocessing it into its own
input tensor, inferring it with `Engine.infer` and handing the outputs over.

Doing preprocess and inference on one thread saves a hand-off per frame: on a small CPU the engine saturates the
cores and every other thread's CPU and wake-ups are taken from it. Several workers keep several inferences in
flight on one ONNX Runtime session (`engine.workers`: on a 2-core machine two single-thread inferences beat one on
both cores, see README "Bounded pipeline").

Batches: an engine that takes any leading size (a dynamic batch) gets exactly the frames of the batch; one with a
fixed batch of N gets N rows, the frames first and the padding (`PreprocessSpec.blank`) or older frames after.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from edge_sdk.engines.base import Engine
from edge_sdk.engines.batch import BatchPlan
from edge_sdk.pipeline.executors.base import Executor, Feed, Inferred, Model
from edge_sdk.pipeline.reader import Batch
from edge_sdk.preprocess.apply import preprocess_into
from edge_sdk.preprocess.geometry import LetterboxInfo
from edge_sdk.preprocess.spec import PreprocessSpec

log = logging.getLogger(__name__)

WAIT_S = 0.25  # how long a worker waits for a frame before it looks at `feed.done` again


class CpuExecutor(Executor):
    name = "cpu-workers"

    def __init__(self, engine: Engine, spec: PreprocessSpec, max_batch: int = 1) -> None:
        self.workers = max(1, engine.concurrency)
        self.spec = spec
        self.max_batch = max(1, max_batch)

    @property
    def threads(self) -> int:
        return self.workers

    def refuses_swap(self, engine: Engine) -> str:
        if max(1, engine.concurrency) != self.workers:
            return (f"engine.workers changed ({self.workers} -> {engine.concurrency}); the running pipeline keeps its "
                    "number of infer workers")
        return ""

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "max_batch": self.max_batch}

    def work(self, feed: Feed) -> None:
        worker = _Worker(self.spec)
        while not feed.done:
            peek = feed.lease()  # the batch limit of the model in force now (a swap may change it)
            feed.unlease()
            batch = feed.take(BatchPlan.of(peek.engine.info, self.max_batch).fill, WAIT_S)
            if batch is None:
                continue
            if not worker.run(batch, feed, self.max_batch):
                return


class _Worker:
    """One worker's input tensor (reused: the padding is written once) and each row's last placement."""

    def __init__(self, spec: PreprocessSpec) -> None:
        self.spec = spec
        self.tensor: np.ndarray | None = None
        self.previous: list[LetterboxInfo | None] = []

    def _tensor(self, rows: int) -> np.ndarray:
        if self.tensor is None or self.tensor.shape[0] != rows:
            self.tensor = self.spec.with_changes(batch=rows).blank()
            self.previous = [None] * rows
        return self.tensor

    def run(self, batch: Batch, feed: Feed, max_batch: int) -> bool:
        """Infer `batch` (in pieces, if a model swapped in meanwhile takes fewer frames); False: stop."""
        done = 0
        while done < len(batch.frames):
            model = feed.lease()
            try:
                plan = BatchPlan.of(model.engine.info, max_batch)
                part = Batch(batch.seq + done, batch.frames[done:done + plan.fill], batch.waited_s)
                inferred = self._infer(part, model, plan)
            finally:
                feed.unlease()
            if not feed.emit(inferred):
                return False
            done += len(part.frames)
        return True

    def _infer(self, batch: Batch, model: Model, plan: BatchPlan) -> Inferred:
        tensor = self._tensor(plan.rows)
        letterboxes: list[LetterboxInfo] = []
        pre: list[float] = []
        for i, frame in enumerate(batch.frames):
            t0 = time.perf_counter()
            info = self.previous[i] = preprocess_into(frame.image, tensor, self.spec, self.previous[i], slot=i)
            pre.append(time.perf_counter() - t0)
            letterboxes.append(info)
        rows = plan.rows_for(len(batch.frames))
        t1 = time.perf_counter()
        outputs = model.engine.infer(tensor[:rows])
        return Inferred(batch, letterboxes, outputs, rows, model, pre, time.perf_counter() - t1)
