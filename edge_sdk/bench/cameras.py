"""Many cameras, batched: `edge-sdk bench --cameras 1,2,4,8,16 --batch 1,2,4,8`.

For every (cameras N, batch B) cell the pipeline runs `edge-sdk run`'s own code path on N file sources of the
configured first source's video (each its own decoder, looping, every frame delivered), with `engine.max_batch` B,
for N x `frames_per_camera` results, and reports:
- total frames and detections per second over the steady window (from the moment every camera has published a
  result to the last result);
- each camera's frame rate over that window, and fairness = slowest / fastest camera (all cameras are alike, so
  it should be near 1; the target is >= 0.9). A camera's rate is the least-squares slope of its result count
  over time in the window (`camera_rate`): the reader serves one frame per camera per round and results come out
  a batch at a time, so counting whole results in a window cut mid-round differs by one between alike cameras
  (1/9 at 10 results: the target's margin), and the span from a camera's first to its last result depends on
  where in a batch's burst each falls (0.95 for 16 cameras that got 29 results each); the slope is neither. A
  camera silent at the window's start or end for more than twice its longest gap between results is measured
  over the whole window instead, so starvation there still counts;
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
from typing import Any

import numpy as np

from edge_sdk.config.app import AppConfig
from edge_sdk.config.source import SourceConfig
from edge_sdk.frame import FrameResult

log = logging.getLogger(__name__)


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
    """What each published result says: its camera, when it was published, its capture time, its detections."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float, int]] = []
        self._lock = threading.Lock()

    def __call__(self, result: FrameResult) -> None:
        now = time.monotonic()
        with self._lock:
            self.rows.append((result.frame.camera, now, result.frame.t_capture_mono, len(result.detections)))


def cell_config(cfg: AppConfig, cameras: int, batch: int) -> AppConfig:
    """`cfg` with `cameras` looping file sources of its first source and `engine.max_batch` = `batch`."""
    first = cfg.sources[0]
    uri = first.uri + ("&" if "?" in first.uri else "?") + "loop=1"
    sources = [SourceConfig(name=f"cam{i}", uri=uri, deliver_all=True, queue_size=first.queue_size)
               for i in range(cameras)]
    cell = cfg.model_copy(update={"sources": sources, "engine": cfg.engine.model_copy(update={"max_batch": batch})})
    cell.base_dir = cfg.base_dir
    return cell


def camera_rate(times: list[float], start: float, end: float) -> float:
    """Results per second of one camera whose results in the window [start, end] came at `times` (ascending); see
    the module docstring."""
    if len(times) < 3 or times[-1] <= times[0]:
        return len(times) / (end - start) if end > start else 0.0  # too few to fit: a plain count
    t = np.asarray(times, dtype=np.float64)
    rate = float(np.polyfit(t - t[0], np.arange(t.size, dtype=np.float64), 1)[0])  # least squares: count ~ time
    longest = float(np.diff(t).max())  # results come in bursts (a batch at a time): gaps are judged against this
    if rate <= 0 or max(t[0] - start, end - t[-1]) > 2 * longest:  # silent at an edge: that counts against it
        return (t.size - 1) / (end - start)
    return rate


def measure(rows: list[tuple[str, float, float, int]], cameras: int) -> Cell:
    """The steady-window figures of one run's results (see the module docstring)."""
    cell = Cell(cameras, 0)
    firsts: dict[str, float] = {}
    for camera, t, _, _ in rows:
        firsts.setdefault(camera, t)
    if len(firsts) < cameras or len(rows) < 2:
        return cell
    start, end = max(firsts.values()), rows[-1][1]
    window = [r for r in rows if start < r[1] <= end]
    span = end - start
    if span <= 0 or not window:
        return cell
    times: dict[str, list[float]] = {cam: [] for cam in firsts}
    latencies: dict[str, list[float]] = {cam: [] for cam in firsts}
    for camera, t, captured, _ in window:
        times[camera].append(t)
        latencies[camera].append((t - captured) * 1000)
    latency = np.asarray([t - captured for _, t, captured, _ in window]) * 1000
    cell.frames, cell.window_s = len(window), round(span, 3)
    cell.fps = round(len(window) / span, 2)
    cell.detections_per_s = round(sum(r[3] for r in window) / span, 1)
    cell.camera_fps = {cam: round(camera_rate(times[cam], start, end), 2) for cam in sorted(times)}
    rates = list(cell.camera_fps.values())
    cell.fairness = round(min(rates) / max(rates), 3) if max(rates) > 0 else 0.0
    cell.latency_ms_p50 = round(float(np.percentile(latency, 50)), 2)
    cell.latency_ms_p99 = round(float(np.percentile(latency, 99)), 2)
    for cam in sorted(times):
        lat = np.asarray(latencies[cam] or [0.0])
        cell.per_camera[cam] = {"fps_out": cell.camera_fps[cam], "results": len(times[cam]),
                                "latency_ms_p50": round(float(np.percentile(lat, 50)), 2),
                                "latency_ms_p99": round(float(np.percentile(lat, 99)), 2)}
    return cell


def run_cell(cfg: AppConfig, cameras: int, batch: int, frames_per_camera: int) -> Cell:
    from edge_sdk.daemon import run_service

    collect = _Collector()
    load = os.getloadavg()[0]
    summary = run_service(cell_config(cfg, cameras, batch), max_frames=cameras * frames_per_camera,
                          on_result=collect)
    cell = measure(collect.rows, cameras)
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
