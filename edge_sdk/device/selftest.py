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
from typing import Literal

from edge_sdk.device import steps as s
from edge_sdk.device import steps_gpu as g
from edge_sdk.device.steps import SelftestInput, SelftestState
from edge_sdk.errors import CheckFailed, EdgeSdkError

__all__ = ["SelftestInput", "SelftestState", "Step", "run_selftest"]
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
    except CheckFailed as fail:
        steps.append(Step(name, "FAIL", fail.message, time.monotonic() - t0, fail.data))
    except EdgeSdkError as exc:
        steps.append(Step(name, "SKIP" if fail_as_skip else "FAIL", exc.render(), time.monotonic() - t0,
                          {"error": type(exc).__name__}))
    except Exception as exc:  # a selftest reports every failure as a step, with the traceback in the data
        steps.append(Step(name, "FAIL", f"{type(exc).__name__}: {exc}", time.monotonic() - t0,
                          {"traceback": traceback.format_exc(limit=8)}))
    return False


def run_selftest(inp: SelftestInput) -> list[Step]:
    steps: list[Step] = []
    st = SelftestState()
    _timed(steps, "device", lambda: s.step_device(inp, st))
    have_model = _timed(steps, "demo model", lambda: s.step_model(inp, st))
    have_frames = _timed(steps, "sample frames", lambda: s.step_frames(inp, st), needs=have_model,
                         skip_reason="needs the demo model (its input size)")
    have_ref = _timed(steps, "onnxruntime fp32", lambda: s.step_reference(inp, st), needs=have_frames,
                      skip_reason="needs the model and frames")
    have_trt = _timed(steps, "tensorrt", lambda: s.step_tensorrt(st), fail_as_skip=not st.jetson)
    _timed(steps, "versions", lambda: g.step_versions(inp, st))
    _timed(steps, "GPU kernels", lambda: g.step_kernels(inp, st), fail_as_skip=not st.jetson, needs=have_frames,
           skip_reason="needs the sample frames")
    ready = have_trt and have_ref
    why = "needs TensorRT and the ONNX Runtime reference" if not ready else ""
    built = _timed(steps, "build fp16 engine", lambda: s.step_build(inp, st, "fp16", None), needs=ready, skip_reason=why)
    _timed(steps, "run fp16 engine vs onnxruntime", lambda: s.step_run(inp, st, "fp16", None), needs=built,
           skip_reason=why or "the build failed")
    _timed(steps, "engine key", lambda: g.step_engine_key(inp, st), needs=built, skip_reason=why or "the build failed")
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
    _timed(steps, "int8 vs fp16", lambda: g.step_int8_vs_fp16(inp, st), needs=int8_built and built,
           skip_reason=int8_why or "needs both engines")
    return steps
