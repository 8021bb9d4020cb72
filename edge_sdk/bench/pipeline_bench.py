"""Engine-only throughput against the whole pipeline's, per-stage latency, and capture-to-broker latency.

- engine-only: an engine opened as the pipeline opens it, on the source's first frame, no I/O, `iterations`
  times, half just before the pipeline and half just after it. On the CPU: `engine.infer` on the preprocessed
  frame by as many threads at once as the pipeline has infer workers (`engine.workers`). On a GPU: a CUDA
  runner from the pipeline's own factory, the frame preprocessed into its slots once, inferences back to back
  on the slots' engine sessions with the input resident on the device (`CudaRunner.engine_only`): the bound
  the pipeline's runner can reach, not a separate session copying numpy arrays in and out;
- pipeline: `edge-sdk run`'s own code path on the configured source (decoding video, letterbox, infer,
  decode, publish), every frame delivered;
- capture-to-broker: a subscriber on the configured broker receives each detection message and compares
  its arrival time with the frame's capture time (same machine clock).

The broker is checked first, before any engine work (PublishError naming the cause and --broker/--no-mqtt).
The pipeline publishes as a side run (AppConfig.side_run): its own client id, topics and a fresh spool in a
temporary folder, so the service's spooled backlog is never sent (nor counted), and the service's session and
consumers are not disturbed; the probe counts only messages captured during the pair being measured. Preview,
metrics endpoint, Home Assistant discovery and fleet rollouts are off for the bench (they would bind the
service's ports or publish retained state).
"""

from __future__ import annotations

import logging
import signal
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_sdk.config.app import AppConfig
from edge_sdk.pipeline.build import open_model
from edge_sdk.pipeline.executors import executor_for
from edge_sdk.signals import StopSignal

if TYPE_CHECKING:
    from edge_sdk.cuda.runner import CudaRunner

log = logging.getLogger(__name__)
#: Per camera in the report: fps in (captured), fps out (published), dropped, capture-to-publish latency.
CAMERA_FIGURES = ("camera", "fps", "fps_out", "results", "dropped", "latency_ms_p50", "latency_ms_p99")


@dataclass
class BenchResult:
    engine_fps: float = 0.0
    engine_ms_p50: float = 0.0
    engine_ms_p99: float = 0.0
    pipeline_fps: float = 0.0
    pipeline_frames: int = 0
    stages: dict[str, Any] = field(default_factory=dict)
    capture_to_broker_ms_p50: float | None = None
    capture_to_broker_ms_p99: float | None = None
    messages_received: int = 0
    cpu_ms_per_frame: dict[str, float] = field(default_factory=dict)  # steady state, by thread (see cpu.py)
    repeats: list[dict[str, float]] = field(default_factory=list)  # every (engine-only, pipeline) pair
    cameras: list[dict[str, Any]] = field(default_factory=list)  # per camera: CAMERA_FIGURES
    batches: dict[str, Any] = field(default_factory=dict)  # frames per batch, the reader's wait
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float:
        return self.pipeline_fps / self.engine_fps if self.engine_fps else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["pipeline_over_engine"] = round(self.ratio, 4)
        from edge_sdk.bench.cpu import engine_share

        d["engine_cpu_share"] = engine_share(self.cpu_ms_per_frame)
        return d


def engine_only(cfg: AppConfig, iterations: int, warmup: int = 5) -> tuple[float, list[float], dict[str, Any]]:
    """Frames per second of the bare engine on one fixed, realistic input (the source's first frame, preprocessed as
    the model asks), in batches as the pipeline forms them (`engine.max_batch`, else the camera count, as many as
    the engine takes: every row a copy of the frame); also each inference's seconds and facts for the report."""
    from edge_sdk.engines.batch import BatchPlan
    from edge_sdk.pipeline.executors import max_batch_for
    from edge_sdk.preprocess.apply import preprocess_into
    from edge_sdk.preprocess.spec import ultralytics_spec
    from edge_sdk.sources.registry import open_source

    bundle = open_model(cfg)
    try:
        src = cfg.sources[0]
        with open_source(src.uri, src.name, base_dir=cfg.base_dir, deliver_all=True) as source:
            _status, frame = source.read(timeout=10.0)
        image = frame.image if frame is not None else np.full((480, 640, 3), 114, np.uint8)
        spec = bundle.preprocess or ultralytics_spec(bundle.engine.info.input_hw)
        plan = BatchPlan.of(bundle.engine.info, max_batch_for(cfg))
        info = {"engine": bundle.engine.info.type, "device": bundle.engine.info.device,
                "precision": bundle.engine.info.precision, "model": str(bundle.path),
                "input": list(spec.size), "workers": bundle.engine.concurrency, "batch": plan.fill}
        make_runner = getattr(executor_for(cfg, bundle.engine, spec), "make_runner", None)
        if make_runner is not None:  # the CUDA executor: the pipeline's own runner and engine sessions
            fps, lat, kernels = runner_engine_only(make_runner, image, iterations, warmup)
            info.update(engine_only="runner slots, input resident on the device (CudaRunner.engine_only)",
                        kernels=kernels)
            return fps, lat, info
        tensor = spec.with_changes(batch=plan.rows_for(plan.fill)).blank()
        for row in range(plan.fill):
            preprocess_into(image, tensor, spec, slot=row)
        for _ in range(warmup):
            bundle.engine.infer(tensor)
        fps, lat = concurrent_inferences(bundle.engine, tensor, iterations)
        info["engine_only"] = "engine.infer on the preprocessed first frame, by the pipeline's infer workers"
        return fps * plan.fill, lat, info
    finally:
        bundle.engine.close()


def runner_engine_only(make_runner: Callable[[], CudaRunner], image: np.ndarray, iterations: int,
                       warmup: int) -> tuple[float, list[float], str]:
    """Engine-only on a runner made by the pipeline's own factory: the frame preprocessed into every row of every
    slot once, then full batches back to back on the slots' sessions, nothing copied (`CudaRunner.engine_only`).
    Returns frames per second (inferences per second x the runner's batch)."""
    from edge_sdk.frame import Frame

    with make_runner() as runner:
        frame = Frame(0, "bench", image, time.monotonic(), time.time())
        for _ in range(max(warmup, runner.slots)):  # warms the engine up and leaves the frame in every slot
            runner.submit_batch([frame] * runner.batch)
        runner.drain()
        runner.engine_only(max(warmup, runner.slots))
        fps, lat = runner.engine_only(iterations)
        return fps * runner.batch, lat, runner.kernels


def concurrent_inferences(engine: Any, tensor: np.ndarray, iterations: int) -> tuple[float, list[float]]:
    """`iterations` inferences by `engine.concurrency` threads at once (as the pipeline's infer workers
    run them), each on its own copy of the input: (inferences per second, each inference's latency).

    The threads are always stopped and joined before this returns or raises: on a Ctrl-C in the main thread
    (which then closes the engine) no worker is left calling it; a worker's error is raised here, once."""
    workers = max(1, engine.concurrency)
    lat: list[float] = []
    remaining = [iterations]
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def work(x: np.ndarray) -> None:
        try:
            while not stop.is_set():
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                t = time.perf_counter()
                engine.infer(x)
                dt = time.perf_counter() - t
                with lock:
                    lat.append(dt)
        except BaseException as exc:  # reported by the main thread, not as a thread traceback
            errors.append(exc)
            stop.set()

    log.info("engine only: %d inferences on %d thread(s)", iterations, workers)
    t0 = time.perf_counter()
    if workers == 1:
        work(tensor)
    else:
        threads = [threading.Thread(target=work, args=(tensor.copy(),), name="bench-infer") for _ in range(workers)]
        try:
            for th in threads:
                th.start()
            for th in threads:
                th.join()
        finally:
            stop.set()
            for th in threads:
                if th.is_alive() or th.ident is not None:
                    th.join()
    if errors:
        raise errors[0]
    return iterations / (time.perf_counter() - t0), lat


def _source_frames(cfg: AppConfig) -> int | None:
    """Frames in the first source when it is a video file (what the pipeline will deliver), else None."""
    import cv2

    from edge_sdk.sources.uri import parse_uri

    uri = parse_uri(cfg.sources[0].uri)
    if uri.scheme != "file" or len(cfg.sources) != 1:
        return None
    path = cfg.resolve(uri.target)
    if not path.is_file():
        return None
    cap = cv2.VideoCapture(str(path))
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    finally:
        cap.release()
    return count if count > 0 else None


def _latency_probe(cfg: AppConfig) -> Any:
    """A subscriber on the bench's detection topics that records arrival minus capture time (seconds) of every
    message captured since `since`; connected before it returns (PublishError otherwise)."""
    from edge_sdk.errors import PublishError
    from edge_sdk.publish.settings import BrokerSettings
    from edge_sdk.publish.subscriber import DetectionSubscriber

    class LatencyProbe(DetectionSubscriber):
        def __init__(self) -> None:
            # QoS 0: the probe only watches, and a PUBACK per message would be one more cost on the machine being
            # measured; the publisher still sends at its configured QoS.
            super().__init__(BrokerSettings.from_config(cfg.mqtt, cfg.resolve), topic_prefix=cfg.mqtt.topic_prefix,
                             devices=[cfg.device_id], qos=0)
            self.samples: list[float] = []
            self.earlier = 0  # messages captured before `since` (never counted)
            self.since = time.time()

        def keep(self, m: Any) -> None:  # paho's thread; nothing is queued
            if m.capture_time >= self.since:
                self.samples.append(m.received_time - m.capture_time)
            else:
                self.earlier += 1

    probe = LatencyProbe()
    try:
        return probe.open()
    except PublishError as exc:
        raise PublishError(exc.message, where=exc.where,
                           fix=f"{exc.fix + '; ' if exc.fix else ''}edge-sdk bench --broker HOST:PORT names another "
                               "broker, --no-mqtt measures the engine and the pipeline without one") from None


def _bench_config(cfg: AppConfig, spool_dir: Path) -> AppConfig:
    """The config the bench's pipeline runs: a side run (own MQTT identity and spool), every frame delivered, and
    nothing that binds the service's ports or publishes retained state."""
    bench = cfg.side_run("bench", spool_dir)
    for src in bench.sources:
        src.deliver_all = True
    bench.preview.enabled = False
    bench.daemon.metrics_port = None
    bench.homeassistant.enabled = False
    bench.fleet.enabled = False
    return bench


def run_bench(cfg: AppConfig, *, iterations: int = 200, max_frames: int | None = None,
              repeats: int = 3) -> BenchResult:
    """`repeats` pairs of (engine-only, whole pipeline), run back to back so each pair sees the same machine
    (on a shared 2-core host, engine-only throughput alone drifts by +-5% from one minute to the next).
    The reported pair is the one with the median ratio; every pair is listed in `repeats`."""
    pairs: list[BenchResult] = []
    with tempfile.TemporaryDirectory(prefix="edge-sdk-bench-") as tmp:
        cfg = _bench_config(cfg, Path(tmp))
        probe = _latency_probe(cfg) if cfg.mqtt.enabled else None  # the broker first: before any engine work
        try:
            for r in range(max(1, repeats)):
                log.info("benchmark pair %d/%d: engine only (%d inferences), then the pipeline", r + 1, repeats,
                         iterations)
                pairs.append(_bench_pair(cfg, iterations, max_frames, probe))
        finally:
            if probe is not None:
                probe.close()
    pairs_sorted = sorted(pairs, key=lambda p: p.ratio)
    res = pairs_sorted[len(pairs_sorted) // 2]
    res.repeats = [{"engine_fps": round(p.engine_fps, 2), "pipeline_fps": round(p.pipeline_fps, 2),
                    "pipeline_over_engine": round(p.ratio, 4)} for p in pairs]
    return res


def _bench_pair(cfg: AppConfig, iterations: int, max_frames: int | None, probe: Any) -> BenchResult:
    from edge_sdk.bench.cpu import CpuSampler
    from edge_sdk.daemon import run_service

    res = BenchResult()
    # Engine-only brackets the pipeline (half the inferences before, half after), so a drift of the
    # machine's speed during the pair affects both sides alike.
    before_fps, lat, res.info = engine_only(cfg, max(1, iterations // 2))
    # CPU accounting over the steady state only: from the 10th result to the 10th-last one where the
    # source's length is known (files), else to the end of the run (start-up and shutdown excluded).
    sampler = CpuSampler(interval_s=0.5)
    total = max_frames or _source_frames(cfg)
    start_at, stop_at = 10, (total - 10 if total and total > 40 else None)
    seen = [0]

    def on_result(_result: Any) -> None:
        seen[0] += 1
        if seen[0] == start_at:
            sampler.start()
        elif seen[0] == stop_at:
            sampler.stop()

    if probe is not None:
        probe.samples.clear()
        probe.since = time.time()  # frames of this pipeline run only
    summary = run_service(cfg, max_frames=max_frames, on_result=on_result)
    if summary.stopped_by.split()[0] in ("SIGINT", "SIGTERM"):  # the daemon drained; the bench stops here
        raise StopSignal(signal.Signals[summary.stopped_by.split()[0]])
    if seen[0] >= start_at and (stop_at is None or seen[0] < stop_at):
        sampler.stop()
    if probe is not None:
        _wait_for_messages(probe, summary.frames)
    res.cpu_ms_per_frame = sampler.per_frame_ms(min(seen[0], stop_at or seen[0]) - start_at)
    after_fps, lat_after, _ = engine_only(cfg, max(1, iterations - iterations // 2))
    lat = lat + lat_after
    res.engine_fps = 2.0 / (1.0 / before_fps + 1.0 / after_fps)  # mean time per inference over both halves
    res.engine_ms_p50 = round(statistics.median(lat) * 1000, 3)
    res.engine_ms_p99 = round(float(np.percentile(lat, 99)) * 1000, 3)
    res.info["engine_fps_before_after"] = [round(before_fps, 2), round(after_fps, 2)]
    res.pipeline_fps = summary.steady_fps  # start-up excluded, as engine-only excludes its warm-up
    res.info["pipeline_fps_with_startup"] = round(summary.fps, 2)
    res.pipeline_frames = summary.frames
    res.stages = summary.stats.get("stages", {})
    res.cameras = [{k: src.get(k) for k in CAMERA_FIGURES} for src in summary.stats.get("sources", [])]
    res.batches = summary.stats.get("batches", {})
    if probe is not None and probe.samples:
        res.info["messages_captured_earlier"] = probe.earlier
        arr = np.asarray(probe.samples) * 1000
        res.capture_to_broker_ms_p50 = round(float(np.percentile(arr, 50)), 3)
        res.capture_to_broker_ms_p99 = round(float(np.percentile(arr, 99)), 3)
        res.messages_received = len(probe.samples)
    return res


def _wait_for_messages(probe: Any, frames: int, timeout_s: float = 5.0) -> None:
    """Until one message per frame has arrived (the publisher drained its spool on close), or `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while len(probe.samples) < frames and time.monotonic() < deadline:
        time.sleep(0.05)
