"""`edge-sdk selftest`: build and run the demo model on this device and compare with ONNX Runtime."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edge_sdk.errors import ExitCode

COMMAND = "selftest"
HELP = "check this device end to end: demo model on ONNX Runtime, then TensorRT build/run/compare where it exists"
EPILOG = """examples:
  edge-sdk selftest                                   the bundled demo model and sample video
  edge-sdk selftest --json --out selftest.json        the full report (versions, build logs, figures) as JSON
  edge-sdk selftest --qdq build/yolo-demo.qdq.onnx --calib-cache build/yolo-demo.cache   also INT8
  edge-sdk selftest --model my.onnx --video clip.mp4 --no-dla

Steps: device, demo model, sample frames, ONNX Runtime FP32 (reference), TensorRT, versions (JetPack, TensorRT,
CUDA runtime and driver, a container's stack against the host's), GPU kernels (the preprocess kernels loaded
both ways, prebuilt fatbin and NVRTC, without nvcc, and checked on a frame); with TensorRT: FP16 engine build,
run and compare (tolerances printed), engine key (this device's TensorRT, CUDA, GPU, JetPack), engine-cache
reuse, DLA core 0 (where the board and TensorRT have DLA), INT8 (with --qdq) and INT8 against FP16 timed on the
device (INT8 chosen only when --int8-margin times faster). Without TensorRT its steps are SKIP (FAIL on a
Jetson). Exit status 0 when nothing FAILs."""


def register(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=None,
                   help="FP32 ONNX detector (default: the demo model, models/demo/yolo-demo.onnx of the checkout "
                        "edge-sdk runs from, else <prefix>/share/edge-sdk/models/demo/ where pip installed it)")
    p.add_argument("--video", type=Path, default=None, help="sample video (default: samples/demo.mp4, found the same way)")
    p.add_argument("--frames", type=int, default=8, help="frames to compare (default 8)")
    p.add_argument("--device", default="auto", help="device profile (default auto)")
    p.add_argument("--qdq", type=Path, default=None, help="the INT8 step's Q/DQ model: also build and check INT8")
    p.add_argument("--calib-cache", type=Path, default=None, help="the INT8 step's calibration cache (DLA INT8)")
    p.add_argument("--no-dla", action="store_true", help="skip the DLA steps")
    p.add_argument("--int8-margin", type=float, default=1.1,
                   help="INT8 is the choice only when this many times faster than FP16 here (default 1.1)")
    p.add_argument("--work-dir", type=Path, default=Path("build/selftest"), help="engines and timing caches go here")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--out", type=Path, default=None, help="also write the JSON report here (atomically)")
    p.add_argument("--root", type=Path, default=Path("/"), help=argparse.SUPPRESS)  # tests: a copy of a Jetson's files


def run(args: argparse.Namespace) -> int:
    from edge_sdk.device.selftest import SelftestInput, run_selftest
    from edge_sdk.errors import ConfigError

    if not 1 <= args.frames <= 300:
        raise ConfigError("--frames must be between 1 and 300")
    from edge_sdk.device.steps import default_paths

    model, video = default_paths(Path("."))
    inp = SelftestInput(model=args.model or model, video=args.video or video, work_dir=args.work_dir, frames=args.frames,
                        device=args.device, qdq_model=args.qdq, calib_cache=args.calib_cache, dla=not args.no_dla,
                        root=args.root, int8_margin=args.int8_margin)
    steps = run_selftest(inp)
    failed = any(s.result == "FAIL" for s in steps)
    report = {"ok": not failed, "steps": [s.as_dict() for s in steps]}
    if args.out:
        from edge_sdk.atomic import write_json_atomic

        write_json_atomic(args.out, report)
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return ExitCode.FAILED if failed else ExitCode.OK
    width = max(len(s.name) for s in steps)
    for s in steps:
        print(f"{s.result:<4}  {s.name:<{width}}  {s.seconds:6.2f} s  {s.detail}")
    counts = {r: sum(s.result == r for s in steps) for r in ("PASS", "FAIL", "SKIP")}
    print(f"{counts['PASS']} PASS, {counts['FAIL']} FAIL, {counts['SKIP']} SKIP"
          + (f"; report: {args.out}" if args.out else ""), file=sys.stderr)
    return ExitCode.FAILED if failed else ExitCode.OK
