"""Run a config's model through the real pipeline (open_model: loader, engine, probe, decoder; the file source;
the threaded pipeline, or the CUDA-stream runner when the engine runs on a GPU) and collect the results, as
`edge-sdk run` does minus publishing."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge_sdk.config.loader import load_config_text
from edge_sdk.frame import FrameResult
from edge_sdk.pipeline.build import ModelBundle, open_model, open_sources
from edge_sdk.pipeline.executors import executor_for
from edge_sdk.pipeline.pipeline import Pipeline, PipelineParts


def write_frames(folder: Path, frames: list[np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:04d}.png"), frame)
    return folder


def config_for(tmp_path: Path, model: Path, frames: Path, model_extra: str = "", extra: str = "") -> str:
    """A config running `model` on the image folder `frames`; `model_extra`: lines under `model:` (indented
    two spaces), `extra`: top-level sections."""
    return (f"device: cpu\nstate_dir: {tmp_path / 'state'}\nmodel:\n  path: {model}\n{model_extra}"
            f"sources:\n  - name: cam0\n    uri: file://{frames}\n    deliver_all: true\n"
            f"mqtt:\n  enabled: false\n{extra}")


def run_pipeline(config_text: str, base_dir: Path) -> tuple[ModelBundle, list[FrameResult]]:
    cfg = load_config_text(config_text, base_dir=base_dir)
    got: list[FrameResult] = []
    bundle = open_model(cfg)
    try:
        with open_sources(cfg) as sources:
            parts = PipelineParts(bundle.engine, bundle.decoder, bundle.params, bundle.metadata, sources,
                                  on_result=got.append, preprocess=bundle.preprocess,
                                  executor=executor_for(cfg, bundle.engine, bundle.spec))
            pipeline = Pipeline(parts, queue_size=2, batch_timeout_s=cfg.engine.batch_timeout_ms / 1000).start()
            assert pipeline.wait(120), "the pipeline did not finish"
            pipeline.join()
            assert pipeline.error is None, pipeline.error
    finally:
        bundle.engine.close()
    return bundle, got
