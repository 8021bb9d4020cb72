"""Many cameras, batched: `edge-sdk bench --cameras 1,2,4,8,16 --batch 1,2,4,8`.

For every (cameras N, batch B) cell the pipeline runs `edge-sdk run`'s own code path on N file sources of the
configured first source's video (each its own decoder, looping, every frame delivered), with `engine.max_batch` B,
until every camera has published `frames_per_camera` results, and reports:
- total frames and detections per second over the steady window: from the moment every camera has published
  `SETTLE` results (3: the reader serves the least-served camera first, so the cameras opened last, one after
  another, have caught up by then) to the moment every camera has published `frames_per_camera` (the batches
  still in flight then are published but not counted: their split between cameras is whatever was ready);
- each camera's frame rate (results in that window over its span) and fairness = slowest / fastest camera (all
  cameras are alike, so it should be near 1; the target is >= 0.9). Counts, not fits: a least-squares slope of
  each camera's results over time read 0.85 for two cameras with 19 and 18 results on this shared host, whose speed
  changed within the window, and a first-to-last span depends on where in a batch's burst each falls. A count is
  exact but whole: a window cut mid-round at each end leaves alike cameras up to two results apart (2/27 at the CPU
  grid's 30 results a camera), so give each camera enough results (`frames_per_camera`) to judge 0.9;
- per camera (`per_camera`): fps in (frames its decoder delivered, the source's own 5 s figure), fps out,
  dropped, capture-to-publish latency p50 / p99 over the window;
- capture-to-publish latency p50 / p99 over the window (a file source decodes ahead into its queue, so this
  includes the queue's wait, as a live camera's would not);
- the batches the reader formed (mean size), and the engine alone at the same batch (frames per second, measured
  once per batch value on the pipeline's own executor kind: `pipeline_bench.engine_only`), with the pipeline's
  ratio to it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_sdk.config.app import AppConfig
from edge_sdk.config.source import SourceConfig
from edge_sdk.frame import FrameResult

if TYPE_CHECKING:
    from edge_sdk.pipeline.pipeline import Pipeline

log = logging.getLogger(__name__)

#: The steady window starts once every camera has published this many results.
SETTLE = 3


@dataclass
class Cell:
    cameras: int
    batch: int  # engine.max_batch asked for
    frames: int = 0  # results in the steady window
    window_s: float = 0.0
    fps: float = 0.0  # total results per second
    detections_per_s: float = 0.0
    camera_fps: dict[str, float] = field(default_factory=dict)
    fairness: float = 0.0  # slowest camera's fps / fastest's
    latency_ms_p50: float = 0.0
    latency_ms_p99: float = 0.0
    batch_size_mean: float = 0.0
    engine_batch: int = 1  # frames per inference the engine took at most
    device: str = ""  # where the engine ran (cpu, cuda:0, ...)
    engine_fps: float = 0.0  # the engine alone at this batch, frames per second
    pipeline_over_engine: float = 0.0
    per_camera: dict[str, dict[str, float]] = field(default_factory=dict)  # fps_in, fps_out, dropped, p50, p99
    load_1min: float = 0.0  # the host's load average as the cell started (a shared machine's speed drifts)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Collector:
    """What each published result says: its camera, when it was published, its capture time, its detections; stops
    the pipeline once every camera has published `per_camera` results (not after a total: a fast pipeline had
    published the total before the camera opened last delivered at all)."""

    def __init__(self, cameras: int, per_camera: int) -> None:
        self.rows: list[tuple[str, float, float, int]] = []
        self.batch_of: list[int] = []  # which inference each row came from (its frames share one `infer` time)
        self._last_infer: float | None = None
        self._counts: dict[str, int] = {}
        self._cameras, self._per_camera = cameras, per_camera
        self._lock = threading.Lock()
        self._pipeline: Pipeline | None = None
        self.done = False
        self.done_at: float | None = None  # when the last camera published its `per_camera`-th result

    def __call__(self, result: FrameResult) -> None:
        now = time.monotonic()
        camera = result.frame.camera
        with self._lock:
            self.rows.append((camera, now, result.frame.t_capture_mono, len(result.detections)))
            infer = result.timings.get("infer")
            self.batch_of.append(self.batch_of[-1] if self.batch_of and infer == self._last_infer else len(self.rows))
            self._last_infer = infer
            self._counts[camera] = self._counts.get(camera, 0) + 1
            if not self.done and len(self._counts) == self._cameras and min(self._counts.values()) >= self._per_camera:
                self.done, self.done_at = True, now
            pipeline = self._pipeline if self.done else None
        if pipeline is not None:
            pipeline.stop()  # what is in flight is still published

    def tick(self, pipeline: Pipeline) -> None:
        """run_service's on_tick: the pipeline to stop (results may come before the first tick)."""
        with self._lock:
            self._pipeline = pipeline
            done = self.done
        if done:
            pipeline.stop()


def cell_config(cfg: AppConfig, cameras: int, batch: int) -> AppConfig:
    """`cfg` with `cameras` looping file sources of its first source and `engine.max_batch` = `batch`."""
    first = cfg.sources[0]
    uri = first.uri + ("&" if "?" in first.uri else "?") + "loop=1"
    sources = [SourceConfig(name=f"cam{i}", uri=uri, deliver_all=True, queue_size=first.queue_size)
               for i in range(cameras)]
    cell = cfg.model_copy(update={"sources": sources, "engine": cfg.engine.model_copy(update={"max_batch": batch})})
    cell.base_dir = cfg.base_dir
    return cell


def measure(rows: list[tuple[str, float, float, int]], cameras: int, end: float | None = None,
            batch_of: list[int] | None = None) -> Cell:
    """The steady-window figures of one run's results (see the module docstring); `end`: the window's end (when
    every camera had its results; what the pipeline still had in flight then is left out), else the last result.
    `batch_of[i]`: the inference row i came from; the window's ends then move to the end of their batch, so it holds
    whole batches (a batch's results are published together: an end inside one counted some of its results
    without the time they took, 4800 fps for one camera batched by 8 over 4 results)."""
    cell = Cell(cameras, 0)
    seen: dict[str, list[float]] = {}
    for camera, t, _, _ in rows:
        seen.setdefault(camera, []).append(t)
    if len(seen) < cameras or len(rows) < 2:
        return cell
    settle = min(SETTLE, min(len(ts) for ts in seen.values()))
    start = max(ts[settle - 1] for ts in seen.values())
    end = rows[-1][1] if end is None else end
    if batch_of is not None:
        start, end = _batch_end(rows, batch_of, start), _batch_end(rows, batch_of, end)
    window = [r for r in rows if start < r[1] <= end]
    span = end - start
    if span <= 0 or not window:
        return cell
    times: dict[str, list[float]] = {cam: [] for cam in seen}
    latencies: dict[str, list[float]] = {cam: [] for cam in seen}
    for camera, t, captured, _ in window:
        times[camera].append(t)
        latencies[camera].append((t - captured) * 1000)
    latency = np.asarray([t - captured for _, t, captured, _ in window]) * 1000
    cell.frames, cell.window_s = len(window), round(span, 3)
    cell.fps = round(len(window) / span, 2)
    cell.detections_per_s = round(sum(r[3] for r in window) / span, 1)
    cell.camera_fps = {cam: round(len(times[cam]) / span, 2) for cam in sorted(times)}
    counts = [len(ts) for ts in times.values()]
    cell.fairness = round(min(counts) / max(counts), 3) if max(counts) > 0 else 0.0
    cell.latency_ms_p50 = round(float(np.percentile(latency, 50)), 2)
    cell.latency_ms_p99 = round(float(np.percentile(latency, 99)), 2)
    for cam in sorted(times):
        lat = np.asarray(latencies[cam] or [0.0])
        cell.per_camera[cam] = {"fps_out": cell.camera_fps[cam], "results": len(times[cam]),
                                "latency_ms_p50": round(float(np.percentile(lat, 50)), 2),
                                "latency_ms_p99": round(float(np.percentile(lat, 99)), 2)}
    return cell


def _batch_end(rows: list[tuple[str, float, float, int]], batch_of: list[int], t: float) -> float:
    """The publish time of the last result of the batch whose result was published at `t`."""
    i = next((k for k, r in enumerate(rows) if r[1] >= t), len(rows) - 1)
    while i + 1 < len(rows) and batch_of[i + 1] == batch_of[i]:
        i += 1
    return rows[i][1]


def run_cell(cfg: AppConfig, cameras: int, batch: int, frames_per_camera: int) -> Cell:
    from edge_sdk.daemon import run_service

    collect = _Collector(cameras, frames_per_camera)
    load = os.getloadavg()[0]
    # the cap only ends a run whose camera never delivers
    summary = run_service(cell_config(cfg, cameras, batch), max_frames=4 * cameras * frames_per_camera,
                          on_result=collect, on_tick=collect.tick)
    cell = measure(collect.rows, cameras, collect.done_at, collect.batch_of)
    cell.batch, cell.load_1min = batch, round(load, 2)
    for src in summary.stats.get("sources", []):  # fps in and dropped: the source's own figures
        figures = cell.per_camera.setdefault(str(src.get("camera")), {})
        figures.update(fps_in=float(src.get("fps", 0.0)), dropped=int(src.get("dropped", 0)))
    batches = summary.stats.get("batches", {})
    cell.batch_size_mean = float(batches.get("size_mean", 0.0))
    cell.engine_batch = int(summary.stats.get("engine", {}).get("max_batch", batch))
    return cell


def run_grid(cfg: AppConfig, cameras: list[int], batches: list[int], *, frames_per_camera: int = 100,
             iterations: int = 100, on_cell: Callable[[list[Cell]], None] | None = None) -> list[Cell]:
    """Every (cameras, batch) cell, the engine alone measured once per batch (before that batch's cells). The
    pipeline runs as the bench's side run without MQTT (capture-to-publish is measured, not the broker).
    `on_cell(cells so far)` after each cell (the CLI writes the JSON then, so a run cut short keeps its cells)."""
    import tempfile
    from pathlib import Path

    from edge_sdk.bench.pipeline_bench import _bench_config

    with tempfile.TemporaryDirectory(prefix="edge-sdk-bench-") as tmp:
        bench = _bench_config(cfg, Path(tmp))
        bench.mqtt.enabled = False
        return _grid(bench, cameras, batches, frames_per_camera, iterations, on_cell)


def _grid(cfg: AppConfig, cameras: list[int], batches: list[int], frames_per_camera: int,
          iterations: int, on_cell: Callable[[list[Cell]], None] | None) -> list[Cell]:
    from edge_sdk.bench.pipeline_bench import engine_only

    cells = []
    for batch in batches:
        engine_fps, _, info = engine_only(cell_config(cfg, max(cameras), batch), iterations)
        log.info("batch %d: the engine alone takes %s frame(s) per inference, %.1f frames/s", batch,
                 info.get("batch"), engine_fps)
        for n in cameras:
            log.info("cell: %d camera(s), max batch %d, %d frames per camera", n, batch, frames_per_camera)
            cell = run_cell(cfg, n, batch, frames_per_camera)
            cell.engine_batch, cell.device = int(info.get("batch", 1)), str(info.get("device", ""))
            cell.engine_fps = round(engine_fps, 2)
            cell.pipeline_over_engine = round(cell.fps / engine_fps, 4) if engine_fps else 0.0
            cells.append(cell)
            if on_cell is not None:
                on_cell(cells)
    return cells


def table_rows(cells: list[Cell]) -> list[list[object]]:
    return [[c.cameras, c.batch, c.engine_batch, c.batch_size_mean, c.fps, c.detections_per_s,
             min(c.camera_fps.values(), default=0.0), max(c.camera_fps.values(), default=0.0), c.fairness,
             c.latency_ms_p50, c.latency_ms_p99, c.engine_fps, c.pipeline_over_engine] for c in cells]


TABLE_HEADERS = ["cameras", "max batch", "engine batch", "batch mean", "fps", "det/s", "cam fps min", "cam fps max",
                 "fairness", "p50 ms", "p99 ms", "engine fps", "pipe/engine"]
