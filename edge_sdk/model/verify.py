"""Run an ONNX graph on ONNX Runtime's CPU to check that an edit kept what it computes (another batch,
opset or input size), in seconds, before anything else is spent on the model."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from edge_sdk.lazy import lazy_import

CHECK_TIMEOUT_S = 60.0  # one check inference; a model slower than this on the CPU is not checked by running it


class CheckTimeout(RuntimeError):
    """ONNX Runtime did not finish a check inference in time (it was told to stop)."""


def run_graph(model: Any, feed: np.ndarray, timeout_s: float | None = None) -> list[np.ndarray]:
    """Outputs of `model` (a ModelProto with one input) for `feed`. Raises what ONNX Runtime raises, and
    CheckTimeout when the inference ran longer than `timeout_s` (default CHECK_TIMEOUT_S; ONNX Runtime's terminate
    flag stops it: a model that spins on some inputs must not hang a start or a reload in its check)."""
    timeout_s = CHECK_TIMEOUT_S if timeout_s is None else timeout_s
    ort = lazy_import("onnxruntime", needed_for="checking the model")
    opts = ort.SessionOptions()
    opts.log_severity_level = 4  # failures come back as exceptions; ONNX Runtime's own error lines add nothing
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    session = ort.InferenceSession(model.SerializeToString(), sess_options=opts, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    run_options = ort.RunOptions()
    stopped = threading.Event()

    def stop() -> None:
        stopped.set()
        run_options.terminate = True

    timer = threading.Timer(timeout_s, stop)
    timer.daemon = True
    timer.start()
    try:
        return [np.asarray(o) for o in session.run(None, {name: feed}, run_options)]
    except Exception as exc:
        if stopped.is_set():
            raise CheckTimeout(f"ONNX Runtime did not finish one check inference within {timeout_s:.0f} s") from exc
        raise
    finally:
        timer.cancel()


def sample_input(shape: tuple[int, ...], dtype: str, seed: int = 0) -> np.ndarray:
    """A reproducible image-like input: random pixels scaled as most models expect (0..1; 0..255 for uint8)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    return pixels if dtype == "uint8" else (pixels.astype(np.float32) / 255.0).astype(dtype)


def same_outputs(a: list[np.ndarray], b: list[np.ndarray], tolerance: float = 1e-3) -> str:
    """'' when the two output lists agree (shapes equal, values within `tolerance` of each output's range),
    else what differs."""
    if len(a) != len(b):
        return f"{len(a)} outputs against {len(b)}"
    for i, (x, y) in enumerate(zip(a, b)):
        if x.shape != y.shape:
            return f"output {i} has shape {list(y.shape)} instead of {list(x.shape)}"
        if x.size == 0:
            continue
        if x.dtype.kind in "iub":
            if not np.array_equal(x, y):
                return f"output {i} differs"
            continue
        xf, yf = x.astype(np.float64), y.astype(np.float64)
        span = max(1.0, float(np.nanmax(np.abs(xf))) if np.isfinite(xf).any() else 1.0)
        diff = float(np.nanmax(np.abs(xf - yf))) if xf.size else 0.0
        if not np.array_equal(np.isnan(xf), np.isnan(yf)) or diff > tolerance * span:
            return f"output {i} differs by {diff:.3g} (range {span:.3g})"
    return ""
