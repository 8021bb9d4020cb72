"""Benchmark: the CPU time of `edge-sdk build` against NNCF's post-training quantization of the same model on the
same calibration frames, and the accuracy of both against ground truth (issue 26, requirement 8).

    python tools/bench_build.py                                           # demo model, prints a table
    python tools/bench_build.py --json benchmarks/results/build_time.json

Each tool runs in its own subprocess, one after the other, timed by wall clock and by the child's CPU seconds
(user + system over every thread: resource.getrusage(RUSAGE_CHILDREN)), so neither pays for the other's imports:
- edge-sdk: `edge-sdk build --config <generated app> --force --json` on the calibration folder (the build keeps
  25% of the frames for its accuracy gate), the config's build settings (default: `edge-sdk build`'s defaults);
  the phases come from its report;
- NNCF: nncf.quantize on the ONNX model with the calibration frames the build calibrated on (the same files,
  letterboxed as edge-sdk does), subset_size = their number, NNCF's defaults otherwise (MinMax ranges, fast bias
  correction); ONNX Q/DQ out. NNCF has no accuracy gate: its time is quantization alone.
Accuracy: mAP50-95 against the ground truth of held-out generated stills (`--eval-seeds`), each model through
ONNX Runtime with edge-sdk's graph rewrites, as tools/bench_int8.py measures it; speed: median latency on one
frame, FP32 and both INT8 models in blocks (edge_sdk.quant.gate.block_latency).
NNCF is installed with `pip install 'edge-sdk[bench]'`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

from bench_int8 import frames_dir, ground_truth_map, seeds  # noqa: E402

from edge_sdk.atomic import write_json_atomic  # noqa: E402
from edge_sdk.bench.machine import machine_record  # noqa: E402
from edge_sdk.bench.table import format_table  # noqa: E402


def _timed_child(cmd: list[str], *, check: bool = True) -> tuple[subprocess.CompletedProcess[str], float, float]:
    """Run `cmd`; (its result, wall seconds, CPU seconds of the child and its threads). `check`: exit on failure."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's edge_sdk, whatever is installed
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if check and run.returncode != 0:
        sys.stderr.write(run.stderr[-4000:])
        raise SystemExit(f"bench_build: {' '.join(cmd[:4])} ... failed ({run.returncode})")
    return run, wall, cpu


def _write_app(work: Path, model: Path, frames: Path, build: dict[str, Any], model_cfg: dict[str, Any] | None = None
               ) -> Path:
    import yaml

    app = {"version": 1, "device_id": "bench", "state_dir": str(work / "state"),
           "model": {"path": str(model), "precision": "int8", **(model_cfg or {})},
           "sources": [{"name": "cam0", "uri": f"file://{frames}"}],
           "mqtt": {"enabled": False}, "calibration": {"dir": str(frames)}, "build": build}
    path = work / "app.yaml"
    path.write_text(yaml.safe_dump(app, sort_keys=False), encoding="utf-8")
    return path


#: Ultralytics' NNCF export (exporter.py, export_openvino int8) ignores the Detect head's decode arithmetic and DFL
#: and every Sigmoid, with the MIXED preset; the same scope on the demo's node names (its head is /detect/).
ULTRALYTICS_SCOPE = {"patterns": [r".*/detect/.*Add.*", r".*/detect/.*Sub.*", r".*/detect/.*Mul.*", r".*/detect/.*Div.*",
                                  r".*/detect/dfl.*"], "types": ["Sigmoid"]}


def nncf_child(model: Path, frame_list: Path, out: Path, scope: str = "defaults") -> int:
    """The NNCF subprocess: quantize `model` on the frames listed in `frame_list` and save the ONNX result.
    scope "ultralytics": Ultralytics' ignored scope and preset (ULTRALYTICS_SCOPE), else NNCF's defaults."""
    import nncf
    import onnx

    from edge_sdk.calibration.dataset import FrameFile
    from edge_sdk.quant.stats import preprocess_file

    files = json.loads(frame_list.read_text())
    onnx_model = onnx.load(str(model))
    name = onnx_model.graph.input[0].name
    size = tuple(json.loads(next(p.value for p in onnx_model.metadata_props if p.key == "imgsz")))
    frames = [FrameFile(Path(f), "", 0, 0, 0) for f in files]
    dataset = nncf.Dataset(frames, lambda f: {name: preprocess_file(f, size)})
    extra: dict[str, Any] = {}
    if scope == "ultralytics":
        extra = {"preset": nncf.QuantizationPreset.MIXED,
                 "ignored_scope": nncf.IgnoredScope(**ULTRALYTICS_SCOPE, validate=False)}  # type: ignore[arg-type]
    quantized = nncf.quantize(onnx_model, dataset, subset_size=len(frames), **extra)
    onnx.save(quantized, str(out))
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "models/demo/yolo-demo.onnx"))
    ap.add_argument("--calib-seeds", type=seeds, default=seeds("2000000:2000400"),
                    help="calibration stills A:B (the build calibrates on 75%% and gates on 25%%; NNCF gets the 75%%)")
    ap.add_argument("--eval-seeds", type=seeds, default=seeds("1000000:1000300"), help="held-out scene set A:B")
    ap.add_argument("--build", default="{}", help="build settings for edge-sdk as JSON, e.g. '{\"method\": \"minmax\"}'")
    ap.add_argument("--runs", type=int, default=30, help="timed runs per model for the latency column")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "edge-sdk-bench-build"))
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--nncf-scope", choices=("defaults", "ultralytics"), default="defaults",
                    help="NNCF's defaults, or Ultralytics' ignored scope (head decode, DFL, Sigmoid; MIXED preset)")
    ap.add_argument("--nncf-child", nargs=4, metavar=("MODEL", "FRAME_LIST", "OUT", "SCOPE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.nncf_child:
        return nncf_child(*(Path(a) for a in args.nncf_child[:3]), args.nncf_child[3])
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    model = Path(args.model).resolve()
    calib = frames_dir(work, "calib", args.calib_seeds)
    eval_dir = frames_dir(work, "eval", args.eval_seeds)
    app = _write_app(work, model, calib, json.loads(args.build))

    print("edge-sdk build ...", file=sys.stderr)
    run, sdk_wall, sdk_cpu = _timed_child([sys.executable, "-m", "edge_sdk.cli.main", "build", "--config", str(app),
                                           "--force", "--json"])
    report = json.loads(run.stdout)["int8"]
    folder = work / "state" / "build" / model.stem
    from edge_sdk.calibration.dataset import scan_folder, split_frames
    from edge_sdk.config import load_config

    cfg = load_config(app)
    split = split_frames(scan_folder(calib, key="bench"), None, cfg.calibration)
    frame_list = work / "nncf_frames.json"
    frame_list.write_text(json.dumps([str(f.path) for f in split.calibration]))
    nncf_model = work / "nncf.int8.onnx"
    print(f"NNCF on the {len(split.calibration)} calibration frames ...", file=sys.stderr)
    _, nncf_wall, nncf_cpu = _timed_child([sys.executable, __file__, "--nncf-child", str(model), str(frame_list),
                                           str(nncf_model), args.nncf_scope])

    print("accuracy against ground truth ...", file=sys.stderr)
    gt = json.loads((eval_dir / "annotations.coco.json").read_text())
    shipped = folder / "model.int8.ort.qdq.onnx"
    nncf_label = f"NNCF (ONNX Q/DQ, {args.nncf_scope} scope)"
    models = {"FP32": model, "edge-sdk build (CPU form)": shipped, nncf_label: nncf_model}
    maps = {k: ground_truth_map(p, eval_dir, gt, 0) for k, p in models.items()}
    from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
    from edge_sdk.quant.gate import block_latency
    from edge_sdk.quant.stats import preprocess_file

    with OnnxRuntimeEngine(model) as engine:
        x = preprocess_file(split.holdout[0], engine.info.input_hw)
    lat = block_latency(models, x, args.runs, 0)
    import nncf
    import onnxruntime

    here = machine_record()
    cpu, vnni = here["cpu"], here["avx512_vnni"]
    rows = []
    for label, (m, m50) in maps.items():
        wall, cpu_s = {"edge-sdk build (CPU form)": (sdk_wall, sdk_cpu), nncf_label: (nncf_wall, nncf_cpu)}.get(
            label, (None, None))
        rows.append({"model": label, "map50_95": m, "map50": m50, "drop": round(maps["FP32"][0] - m, 2),
                     "wall_s": round(wall, 1) if wall else None, "cpu_s": round(cpu_s, 1) if cpu_s else None,
                     "latency_ms": lat[label], "speedup": round(lat["FP32"] / lat[label], 2)})
    ratio = round(sdk_cpu / nncf_cpu, 2)
    header = (f"build time: {model.name}, {len(split.calibration)} calibration frames (+{len(split.holdout)} for "
              f"edge-sdk's gate), {len(gt['images'])} held-out frames with ground truth; edge-sdk build {report['decision']} "
              f"({report['method']['method']}); NNCF {nncf.__version__}, ONNX Runtime {onnxruntime.__version__}; "
              f"{cpu} ({here['isa']}); NNCF scope {args.nncf_scope}; edge-sdk CPU time / NNCF CPU time = {ratio}")
    print(header)
    print(format_table(["model", "mAP50-95", "mAP50", "drop", "wall s", "CPU s", "latency ms", "speedup"],
                       [[r["model"], r["map50_95"], r["map50"], r["drop"], r["wall_s"] or "-", r["cpu_s"] or "-",
                         r["latency_ms"], r["speedup"]] for r in rows]))
    phases = report.get("timing", {}).get("phases", {})
    print("edge-sdk build phases: " + ", ".join(f"{k} {v['wall_s']:.0f} s / {v['cpu_s']:.0f} CPU-s" for k, v in phases.items()))
    if args.json:
        write_json_atomic(Path(args.json), {
            "header": header, "model": str(model), "cpu": cpu, "avx512_vnni": vnni, "onnxruntime": onnxruntime.__version__,
            "nncf": nncf.__version__, "calibration_frames": len(split.calibration), "holdout_frames": len(split.holdout),
            "eval_frames": len(gt["images"]), "rows": rows, "cpu_ratio": ratio, "edge_sdk_phases": phases,
            "edge_sdk_decision": report["decision"], "edge_sdk_settings": json.loads(args.build),
            "nncf_scope": args.nncf_scope, "machine": machine_record(), "date": time.strftime("%Y-%m-%d")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
