"""The pipeline: capture -> preprocess -> infer -> decode -> publish as threaded stages with bounded queues,
so it runs at the speed of its slowest stage. `build_pipeline(cfg)` wires the parts from a config."""

from edge_sdk.pipeline.pipeline import Pipeline, PipelineParts
from edge_sdk.pipeline.stats import StageStats

__all__ = ["Pipeline", "PipelineParts", "StageStats"]
