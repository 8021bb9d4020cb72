"""`edge-sdk selftest`: the steps a first real Orin is checked with, each PASS / FAIL / SKIP with details.

CPU steps everywhere: device, demo model, sample frames, ONNX Runtime FP32 (the reference). Where TensorRT
exists: build the demo model into an FP16 engine, run it on the same frames and compare with the reference
(compare.py states the tolerances), check that a second build reuses the cached engine, then the same on
DLA core 0 where the board has DLA, and INT8 when a Q/DQ model is given. Without TensorRT the TensorRT steps
are SKIP (FAIL on a Jetson, where TensorRT belongs) with how to install it. Every step records its data
(versions, paths, build times, fallback layers, comparison figures) for the JSON report.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from edge_sdk.device.profiles import DeviceProfile
from edge_sdk.engines.model_info import ModelMetadata
from edge_sdk.errors import EdgeSdkError

Result = Literal["PASS", "FAIL", "SKIP"]


@dataclass
class Step:
    name: str
    result: Result
    detail: str
    seconds: float = 0.0
    data: dict[str, object] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


class StepSkip(Exception):
    """Raised by a step that cannot run here; `data` goes into the report."""

    def __init__(self, detail: str, data: dict[str, object] | None = None) -> None:
        super().__init__(detail)
        self.data = data or {}


class StepFail(Exception):
    """Raised by a step whose check failed (not an error of edge-sdk); `data` goes into the report."""

    def __init__(self, detail: str, data: dict[str, object] | None = None) -> None:
        super().__init__(detail)
        self.data = data or {}


@dataclass
class SelftestInput:
    model: Path
    video: Path
    work_dir: Path
    frames: int = 8
    device: str = "auto"
    qdq_model: Path | None = None
    calib_cache: Path | None = None
    dla: bool = True
    root: Path = Path("/")


@dataclass
class SelftestState:
    """What earlier steps produced for later ones."""

    profile: DeviceProfile | None = None
    metadata: ModelMetadata | None = None
    input_hw: tuple[int, int] = (0, 0)
    batches: list[np.ndarray] = field(default_factory=list)
    reference: list[list[np.ndarray]] = field(default_factory=list)
    decoder_name: str = ""
    jetson: bool = False
    tensorrt_dla: bool = True  # the installed TensorRT can use DLA on Orin (not 10.8+ / 11.0-11.3)
    engines: dict[str, Path] = field(default_factory=dict)


def _timed(steps: list[Step], name: str, fn: Callable[[], tuple[str, dict[str, object]]], *, fail_as_skip: bool = False,
           needs: bool = True, skip_reason: str = "") -> bool:
    """Run one step; returns whether it passed."""
    if not needs:
        steps.append(Step(name, "SKIP", skip_reason))
        return False
    t0 = time.monotonic()
    try:
        detail, data = fn()
        steps.append(Step(name, "PASS", detail, time.monotonic() - t0, data))
        return True
    except StepSkip as skip:
        steps.append(Step(name, "SKIP", str(skip), time.monotonic() - t0, skip.data))
    except StepFail as fail:
        steps.append(Step(name, "FAIL", str(fail), time.monotonic() - t0, fail.data))
    except EdgeSdkError as exc:
        steps.append(Step(name, "SKIP" if fail_as_skip else "FAIL", exc.render(), time.monotonic() - t0,
                          {"error": type(exc).__name__}))
    except Exception as exc:  # a selftest reports every failure as a step, with the traceback in the data
        steps.append(Step(name, "FAIL", f"{type(exc).__name__}: {exc}", time.monotonic() - t0,
                          {"traceback": traceback.format_exc(limit=8)}))
    return False


def read_frames(video: Path, count: int) -> list[np.ndarray]:
    """`count` frames spread over the first 300 of a video file (BGR uint8)."""
    import cv2

    from edge_sdk.errors import SourceError

    if not video.is_file():
        raise SourceError("sample video not found", where=str(video), fix="pass --video with an existing video file")
    cap = cv2.VideoCapture(str(video))
    try:
        frames: list[np.ndarray] = []
        while len(frames) < 300:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        cap.release()
    if not frames:
        raise SourceError("no frame could be read", where=str(video), fix="check the file plays (ffprobe) and OpenCV's FFmpeg")
    idx = np.linspace(0, len(frames) - 1, num=min(count, len(frames))).round().astype(int)
    return [frames[i] for i in idx]


def run_selftest(inp: SelftestInput) -> list[Step]:
    from edge_sdk.device import steps as s

    steps: list[Step] = []
    st = SelftestState()
    _timed(steps, "device", lambda: s.step_device(inp, st))
    have_model = _timed(steps, "demo model", lambda: s.step_model(inp, st))
    have_frames = _timed(steps, "sample frames", lambda: s.step_frames(inp, st), needs=have_model,
                         skip_reason="needs the demo model (its input size)")
    have_ref = _timed(steps, "onnxruntime fp32", lambda: s.step_reference(inp, st), needs=have_frames,
                      skip_reason="needs the model and frames")
    have_trt = _timed(steps, "tensorrt", lambda: s.step_tensorrt(st), fail_as_skip=not st.jetson)
    ready = have_trt and have_ref
    why = "needs TensorRT and the ONNX Runtime reference" if not ready else ""
    built = _timed(steps, "build fp16 engine", lambda: s.step_build(inp, st, "fp16", None), needs=ready, skip_reason=why)
    _timed(steps, "run fp16 engine vs onnxruntime", lambda: s.step_run(inp, st, "fp16", None), needs=built,
           skip_reason=why or "the build failed")
    _timed(steps, "engine cache reuse", lambda: s.step_reuse(inp, st), needs=built, skip_reason=why or "the build failed")
    dla = ready and inp.dla and s.profile_dla_cores(st) > 0 and st.tensorrt_dla
    dla_why = why or ("--no-dla" if not inp.dla else "this board has no DLA" if s.profile_dla_cores(st) == 0
                      else "this TensorRT has no DLA on Orin (10.8+ of 10.x, 11.0-11.3; JetPack 7.2 ships 10.16)")
    dla_built = _timed(steps, "build fp16 engine on DLA 0", lambda: s.step_build(inp, st, "fp16", 0), needs=dla,
                       skip_reason=dla_why)
    _timed(steps, "run DLA 0 engine vs onnxruntime", lambda: s.step_run(inp, st, "fp16", 0), needs=dla_built,
           skip_reason=dla_why or "the build failed")
    int8 = ready and inp.qdq_model is not None
    int8_why = why or "no --qdq model given (the INT8 step's output)"
    int8_built = _timed(steps, "build int8 engine", lambda: s.step_build(inp, st, "int8", None), needs=int8,
                        skip_reason=int8_why)
    _timed(steps, "run int8 engine vs onnxruntime", lambda: s.step_run(inp, st, "int8", None), needs=int8_built,
           skip_reason=int8_why or "the build failed")
    return steps
