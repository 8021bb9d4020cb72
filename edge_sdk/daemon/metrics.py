"""Optional Prometheus metrics endpoint (off by default: `daemon.metrics_port`), with health probes.

Serves `GET /metrics` in the Prometheus text format with the same figures as the stats topic
(`Pipeline.snapshot()`): results, per-stage frames/fps/latency, per-camera health; and `GET /healthz`,
`GET /readyz` (see health.py) for fleet tools. Standard library only. Bound to `daemon.metrics_host`
(127.0.0.1 unless configured).
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import threading
from collections.abc import Iterator
from typing import Any

from edge_sdk.config.app import AppConfig
from edge_sdk.daemon.health import HealthReporter, readiness
from edge_sdk.pipeline.pipeline import Pipeline

log = logging.getLogger(__name__)


def _label(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render_metrics(snap: dict[str, Any], device_id: str) -> str:
    """The Prometheus exposition text of one stats snapshot."""
    dev = f'device="{_label(device_id)}"'
    lines = ["# TYPE edge_sdk_results_total counter", f"edge_sdk_results_total{{{dev}}} {snap['results']}",
             "# TYPE edge_sdk_uptime_seconds gauge", f"edge_sdk_uptime_seconds{{{dev}}} {snap['uptime_s']}"]
    stage_metrics = (("frames", "edge_sdk_stage_frames_total", "counter", 1.0),
                     ("fps", "edge_sdk_stage_fps", "gauge", 1.0),
                     ("latency_ms_p50", "edge_sdk_stage_latency_p50_seconds", "gauge", 1e-3),
                     ("latency_ms_p99", "edge_sdk_stage_latency_p99_seconds", "gauge", 1e-3))
    for key, name, kind, scale in stage_metrics:
        lines.append(f"# TYPE {name} {kind}")
        for stage, figures in snap["stages"].items():
            if key in figures:
                lines.append(f'{name}{{{dev},stage="{_label(stage)}"}} {round(figures[key] * scale, 9)}')
    source_metrics = (("frames", "edge_sdk_camera_frames_total", "counter"),
                      ("dropped", "edge_sdk_camera_dropped_total", "counter"),
                      ("reconnects", "edge_sdk_camera_reconnects_total", "counter"),
                      ("fps", "edge_sdk_camera_fps", "gauge"),
                      ("last_frame_age_s", "edge_sdk_camera_last_frame_age_seconds", "gauge"))
    for key, name, kind in source_metrics:
        lines.append(f"# TYPE {name} {kind}")
        for src in snap["sources"]:
            if src.get(key) is not None:
                lines.append(f'{name}{{{dev},camera="{_label(src["camera"])}"}} {src[key]}')
    lines.append("# TYPE edge_sdk_camera_up gauge")
    for src in snap["sources"]:
        up = 1 if src.get("state") == "streaming" else 0
        lines.append(f'edge_sdk_camera_up{{{dev},camera="{_label(src["camera"])}"}} {up}')
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def serve_metrics(pipeline: Pipeline, cfg: AppConfig,
                  publisher: HealthReporter | None = None) -> Iterator[http.server.ThreadingHTTPServer]:
    """Serve /metrics, /healthz and /readyz for `pipeline` on cfg.daemon.metrics_host:metrics_port while inside
    (/readyz: the watchdog's predicate, `service_health`, with `publisher`'s own health)."""
    device_id = cfg.device_id

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/metrics":
                self._reply(200, render_metrics(pipeline.snapshot(), device_id), "text/plain; version=0.0.4; charset=utf-8")
            elif path == "/healthz":
                self._reply(200, "ok\n")
            elif path == "/readyz":
                state = readiness(pipeline, cfg.daemon, publisher)
                self._reply(200 if state.ready else 503, f"{'ready' if state.ready else 'not ready'}: {state.detail}\n")
            else:
                self.send_error(404, "served: /metrics, /healthz, /readyz")

        def _reply(self, code: int, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
            body = text.encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("metrics: " + format, *args)

    port = cfg.daemon.metrics_port or 0
    server = http.server.ThreadingHTTPServer((cfg.daemon.metrics_host, port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    log.info("metrics on http://%s:%d/metrics", *server.server_address[:2])
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
