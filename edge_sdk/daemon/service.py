"""The daemon's main loop. One owner for every resource: an ExitStack closes the publisher, the
sources and the engine in reverse order, whatever happens."""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from edge_sdk.config.app import AppConfig
from edge_sdk.daemon.fleet_link import FleetLink
from edge_sdk.daemon.notify import Notifier
from edge_sdk.daemon.progress import ProgressLog, default_interval
from edge_sdk.daemon.reload import ConfigSource, reload_config
from edge_sdk.daemon.supervisor import SystemdSupervisor
from edge_sdk.frame import FrameResult
from edge_sdk.pipeline.build import ModelBundle, open_event_layer, open_publisher_for, open_sources
from edge_sdk.pipeline.executors import executor_for
from edge_sdk.pipeline.pipeline import Pipeline, PipelineParts
from edge_sdk.signals import StopSignal
from edge_sdk.sources.status import StatusBoard

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    frames: int = 0
    detections: int = 0
    seconds: float = 0.0
    stopped_by: str = "end of stream"
    steady_fps: float = 0.0  # from the first result to the last (no start-up)
    stats: dict[str, Any] = field(default_factory=dict)
    reloads: list[str] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


class _PublisherSink:
    """Adapts the publisher to the pipeline's sink protocol."""

    def __init__(self, publisher: Any) -> None:
        self.publisher = publisher

    def publish_result(self, result: FrameResult) -> None:
        # Each message names the model that produced it, with its labels (they change with a SIGHUP swap).
        if result.model is None:
            self.publisher.publish_result(result)
        else:
            self.publisher.publish_result(result, engine_info=result.model.engine_info, label=result.model.label,
                                          model_name=result.model.name)


@contextlib.contextmanager
def _signals(handler: Callable[[int], None], hup: Callable[[], None] | None = None) -> Iterator[None]:
    """Route SIGINT/SIGTERM to `handler` (and SIGHUP to `hup`) while inside; restore the old handlers after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        handler(signum)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    if hup is not None:
        old[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda _s, _f: hup())
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_service(cfg: AppConfig, *, max_frames: int | None = None, drain_timeout_s: float | None = None,
                on_result: Callable[[FrameResult], None] | None = None,
                on_tick: Callable[[Pipeline], None] | None = None,
                config_path: ConfigSource | None = None, notifier: Notifier | None = None) -> RunSummary:
    """Run the daemon in the foreground until stopped; returns what it did.

    `drain_timeout_s` defaults to `cfg.daemon.drain_timeout_s`. With `config_path` (a file, or a callable that
    loads the config), SIGHUP reloads it (see `edge_sdk.daemon.reload`). Under systemd (`$NOTIFY_SOCKET`)
    it sends READY/STATUS/WATCHDOG/STOPPING.
    """
    summary = RunSummary()
    started = False  # until the pipeline runs, a stop signal unwinds the start-up (StopSignal) instead of draining
    fleet = FleetLink.open(cfg, config_path)
    cfg, config_path = fleet.cfg, fleet.config_source
    stop_reason: list[str] = []
    reload_requests: list[int] = []
    drain_s = cfg.daemon.drain_timeout_s if drain_timeout_s is None else drain_timeout_s
    supervisor = SystemdSupervisor(cfg.daemon, notifier)

    def request_stop(signum: int) -> None:
        if not started:  # loading the model (a TensorRT build: minutes), connecting, opening cameras
            raise StopSignal(signum)
        name = signal.Signals(signum).name
        if stop_reason:
            log.warning("%s again: stopping without draining", name)
            pipeline.abort()
            return
        log.info("%s received: draining the pipeline", name)
        stop_reason.append(name)
        supervisor.stopping(name)
        pipeline.stop()

    def request_reload() -> None:
        reload_requests.append(1)  # handled in the run loop, not in the signal handler

    def handle_reload() -> None:
        nonlocal cfg
        reload_requests.clear()
        if config_path is None:
            log.warning("SIGHUP ignored: the daemon was not started from a config file")
            return
        log.info("SIGHUP received: reloading the config")
        supervisor.reloading()
        # Loading the new model can take long (a TensorRT build): keep the watchdog fed while frames flow.
        def tick() -> None:
            supervisor.tick(pipeline, publisher)

        with supervisor.notifier.extending("reloading: loading the model", tick=tick):
            outcome, cfg = reload_config(config_path, cfg, pipeline)
        supervisor.cfg = cfg.daemon
        (log.info if outcome.ok and not outcome.needs_restart else log.warning)("%s", outcome.summary())
        summary.reloads.append(outcome.summary())
        supervisor.reloaded(pipeline, outcome.summary())

    layer: Any = None

    def count(result: FrameResult) -> None:
        summary.detections += len(result.detections)
        fleet.observe(result)
        if layer is not None:
            layer.on_result(result)
        if on_result is not None:
            on_result(result)

    def figures() -> dict[str, Any]:
        snap = pipeline.snapshot()
        if layer is not None:
            snap["events"] = layer.stats()
        return snap

    def handle_swaps() -> None:
        nonlocal cfg
        cfg = fleet.serve_swaps(cfg, pipeline)
        supervisor.cfg = cfg.daemon

    progress = ProgressLog(default_interval(cfg.daemon.progress_interval_s))
    try:
        with _signals(request_stop, request_reload), contextlib.ExitStack() as stack:
            # A TensorRT engine is built here when its cache misses: minutes, more than TimeoutStartSec on a Nano.
            with supervisor.notifier.extending(f"loading the model {cfg.model_name} ({cfg.engine.type})"):
                bundle: ModelBundle = fleet.open_model()
            cfg = fleet.cfg
            stack.callback(bundle.engine.close)
            publisher = open_publisher_for(cfg, bundle)
            if publisher is not None:
                stack.enter_context(publisher)
            layer = open_event_layer(cfg, bundle, publisher)
            if layer is not None:  # closed before the publisher: the last `end` events are spooled and drained
                stack.enter_context(layer)
            sources = stack.enter_context(open_sources(cfg, gpu=bundle.engine.info.runs_on_gpu))
            sink = _PublisherSink(publisher) if publisher is not None else None
            parts = PipelineParts(bundle.engine, bundle.decoder, bundle.params, bundle.metadata, sources,
                                  sink=sink, on_result=count,
                                  executor=executor_for(cfg, bundle.engine, bundle.spec),
                                  preprocess=bundle.preprocess, model_name=cfg.model_name)
            pipeline = Pipeline(parts, queue_size=cfg.pipeline.queue_size, max_frames=max_frames,
                                background_nice=cfg.pipeline.background_nice,
                                batch_timeout_s=cfg.engine.batch_timeout_ms / 1000.0)
            board = StatusBoard()

            def publish_camera_changes() -> None:
                """Each camera's status topic, when it changed (online, offline, reconnecting, with the reason)."""
                healths = [src.snapshot_health() for src in sources]
                for status in board.changes((h.camera, h.status, h.status_reason) for h in healths):
                    if publisher is not None:
                        publisher.publish_camera_status(status)

            publish_camera_changes()  # cameras that could not be opened are `reconnecting` from the start
            t0 = time.monotonic()
            next_stats = t0 + cfg.mqtt.stats_interval_s
            with contextlib.ExitStack() as metrics_stack:
                pipeline.start()
                started = True
                if cfg.daemon.metrics_port is not None:
                    from edge_sdk.daemon.metrics import serve_metrics

                    metrics_stack.enter_context(serve_metrics(pipeline, cfg, publisher))
                metrics_stack.callback(fleet.stop)
                fleet.start(pipeline)
                while not pipeline.wait(0.25):
                    if reload_requests and not stop_reason:
                        handle_reload()
                    if not stop_reason:
                        handle_swaps()
                    supervisor.tick(pipeline, publisher)
                    progress.tick(pipeline, summary.detections, supervisor.state)
                    publish_camera_changes()
                    if on_tick is not None:
                        on_tick(pipeline)
                    if publisher is not None and time.monotonic() >= next_stats:
                        publisher.publish_stats(figures())
                        next_stats += cfg.mqtt.stats_interval_s
                    if stop_reason and not pipeline.wait(drain_s):
                        log.warning("pipeline did not drain within %.0f s; aborting", drain_s)
                        pipeline.abort()
                        break
                if not stop_reason:
                    supervisor.stopping("end of stream" if pipeline.error is None else "pipeline failed")
                pipeline.abort()
                pipeline.join()
            summary.seconds = time.monotonic() - t0
            summary.frames = pipeline.results
            summary.steady_fps = pipeline.steady_fps()
            summary.stats = figures()
            if publisher is not None:
                publish_camera_changes()  # how each camera ended (end of stream, failed) ...
                for status in board.final("service stopped"):  # ... and offline for every camera still up
                    publisher.publish_camera_status(status)
                publisher.publish_stats(summary.stats)
            if pipeline.error is not None:
                raise pipeline.error
            if stop_reason:
                summary.stopped_by = stop_reason[0]
            elif max_frames is not None and summary.frames >= max_frames:
                summary.stopped_by = f"max frames ({max_frames})"
    except StopSignal as stop:
        if started:
            raise
        log.info("%s received while starting: stopped before the pipeline ran", stop.name)
        summary.stopped_by = f"{stop.name} during start-up"
    return summary
