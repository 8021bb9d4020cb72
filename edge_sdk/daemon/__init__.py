"""The detection daemon: wires the pipeline from a config, runs it, and handles signals.

`run_service(cfg)` is what `edge-sdk run` calls. It runs in the foreground until SIGINT/SIGTERM, the end of
a file source, or `max_frames`; then it drains the pipeline, publishes `offline` and returns 0.
"""

from edge_sdk.daemon.service import RunSummary, run_service

__all__ = ["RunSummary", "run_service"]
