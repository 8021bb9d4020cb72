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
"""

from __future__ import annotations

import logging
import re
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_sdk.config.app import AppConfig
from edge_sdk.pipeline.build import open_model
from edge_sdk.pipeline.gpu import gpu_runner_factory

if TYPE_CHECKING:
    from edge_sdk.cuda.runner import CudaRunner

log = logging.getLogger(__name__)
_CAPTURE_TIME = re.compile(rb'"capture_time":\s*([0-9.eE+-]+)')


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
    """FPS of the bare engine on one fixed, realistic input (the source's first frame, preprocessed as the model
    asks)."""
    from edge_sdk.preprocess.apply import preprocess
    from edge_sdk.preprocess.spec import ultralytics_spec
    from edge_sdk.sources.registry import open_source

    bundle = open_model(cfg)
    try:
        src = cfg.sources[0]
        with open_source(src.uri, src.name, base_dir=cfg.base_dir, deliver_all=True) as source:
            _status, frame = source.read(timeout=10.0)
        image = frame.image if frame is not None else np.full((480, 640, 3), 114, np.uint8)
        spec = bundle.preprocess or ultralytics_spec(bundle.engine.info.input_hw)
        info = {"engine": bundle.engine.info.type, "device": bundle.engine.info.device,
                "precision": bundle.engine.info.precision, "model": str(bundle.path),
                "input": list(spec.size), "workers": bundle.engine.concurrency}
        make_runner = gpu_runner_factory(cfg, bundle.engine, bundle.preprocess)
        if make_runner is not None:  # the GPU branch: the pipeline's own runner and engine sessions
            fps, lat, kernels = runner_engine_only(make_runner, image, iterations, warmup)
            info.update(engine_only="runner slots, input resident on the device (CudaRunner.engine_only)",
                        kernels=kernels)
            return fps, lat, info
        tensor, _ = preprocess(image, spec)
        for _ in range(warmup):
            bundle.engine.infer(tensor)
        fps, lat = concurrent_inferences(bundle.engine, tensor, iterations)
        info["engine_only"] = "engine.infer on the preprocessed first frame, by the pipeline's infer workers"
        return fps, lat, info
    finally:
        bundle.engine.close()


def runner_engine_only(make_runner: Callable[[], CudaRunner], image: np.ndarray, iterations: int,
                       warmup: int) -> tuple[float, list[float], str]:
    """Engine-only on a runner made by the pipeline's own factory: the frame preprocessed into every slot once,
    then inferences back to back on the slots' sessions, nothing copied (`CudaRunner.engine_only`)."""
    from edge_sdk.frame import Frame

    with make_runner() as runner:
        frame = Frame(0, "bench", image, time.monotonic(), time.time())
        for _ in range(max(warmup, runner.slots)):  # warms the engine up and leaves the frame in every slot
            runner.submit(frame)
        runner.drain()
        runner.engine_only(max(warmup, runner.slots))
        fps, lat = runner.engine_only(iterations)
        return fps, lat, runner.kernels


def concurrent_inferences(engine: Any, tensor: np.ndarray, iterations: int) -> tuple[float, list[float]]:
    """`iterations` inferences by `engine.concurrency` threads at once (as the pipeline's infer workers
    run them), each on its own copy of the input: (inferences per second, each inference's latency)."""
    workers = max(1, engine.concurrency)
    lat: list[float] = []
    remaining = [iterations]
    lock = threading.Lock()

    def work(x: np.ndarray) -> None:
        while True:
            with lock:
                if remaining[0] <= 0:
                    return
                remaining[0] -= 1
            t = time.perf_counter()
            engine.infer(x)
            dt = time.perf_counter() - t
            with lock:
                lat.append(dt)

    t0 = time.perf_counter()
    if workers == 1:
        work(tensor)
    else:
        threads = [threading.Thread(target=work, args=(tensor.copy(),), name="bench-infer") for _ in range(workers)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
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


class _LatencyProbe:
    """Subscribes to the detection topics and records arrival minus capture time of each message."""

    def __init__(self, cfg: AppConfig) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.samples: list[float] = []
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"edge-sdk-bench-{time.time_ns()}")
        topic = f"{cfg.mqtt.topic_prefix}/{cfg.device_id}/+/detections"

        def on_connect(client: Any, _u: Any, _f: Any, rc: Any, _p: Any = None) -> None:
            # QoS 0 on loopback: the probe only watches, and a PUBACK per message (probe and broker) would be
            # one more cost on the machine being measured; the publisher still sends at its configured QoS.
            client.subscribe(topic, qos=0)

        def on_subscribe(*_args: Any) -> None:
            self._ready.set()

        def on_message(_c: Any, _u: Any, msg: Any) -> None:
            # Only capture_time is needed: a regex instead of a JSON parse keeps the probe's own CPU cost (on
            # the machine being measured) to a few microseconds per message.
            now = time.time()
            found = _CAPTURE_TIME.search(msg.payload)
            if found is not None:
                self.samples.append(now - float(found.group(1)))

        self.client.on_connect = on_connect
        self.client.on_subscribe = on_subscribe
        self.client.on_message = on_message
        self.client.connect(cfg.mqtt.host, cfg.mqtt.port, keepalive=30)
        self.client.loop_start()
        if not self._ready.wait(10):
            raise TimeoutError("benchmark subscriber could not subscribe")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def run_bench(cfg: AppConfig, *, iterations: int = 200, max_frames: int | None = None,
              repeats: int = 3) -> BenchResult:
    """`repeats` pairs of (engine-only, whole pipeline), run back to back so each pair sees the same machine
    (on a shared 2-core host, engine-only throughput alone drifts by +-5% from one minute to the next).
    The reported pair is the one with the median ratio; every pair is listed in `repeats`."""
    pairs: list[BenchResult] = []
    for r in range(max(1, repeats)):
        log.info("benchmark pair %d/%d: engine only (%d inferences), then the pipeline", r + 1, repeats, iterations)
        pairs.append(_bench_pair(cfg, iterations, max_frames))
    pairs_sorted = sorted(pairs, key=lambda p: p.ratio)
    res = pairs_sorted[len(pairs_sorted) // 2]
    res.repeats = [{"engine_fps": round(p.engine_fps, 2), "pipeline_fps": round(p.pipeline_fps, 2),
                    "pipeline_over_engine": round(p.ratio, 4)} for p in pairs]
    return res


def _bench_pair(cfg: AppConfig, iterations: int, max_frames: int | None) -> BenchResult:
    from edge_sdk.bench.cpu import CpuSampler
    from edge_sdk.daemon import run_service

    res = BenchResult()
    # Engine-only brackets the pipeline (half the inferences before, half after), so a drift of the
    # machine's speed during the pair affects both sides alike.
    before_fps, lat, res.info = engine_only(cfg, max(1, iterations // 2))
    probe = _LatencyProbe(cfg) if cfg.mqtt.enabled else None
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

    try:
        summary = run_service(cfg, max_frames=max_frames, on_result=on_result)
        if seen[0] >= start_at and (stop_at is None or seen[0] < stop_at):
            sampler.stop()
        time.sleep(0.5)  # let the last messages arrive
    finally:
        if probe is not None:
            probe.close()
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
    if probe is not None and probe.samples:
        arr = np.asarray(probe.samples) * 1000
        res.capture_to_broker_ms_p50 = round(float(np.percentile(arr, 50)), 3)
        res.capture_to_broker_ms_p99 = round(float(np.percentile(arr, 99)), 3)
        res.messages_received = len(probe.samples)
    return res
