"""Benchmark: FP32 against INT8 Q/DQ on ONNX Runtime (CPU) - latency, and mAP against ground truth.

    python tools/bench_int8.py                                  # demo model, all methods, prints a table
    python tools/bench_int8.py --eval-seeds 1000000:1000300 --json bench_int8.json
    python tools/bench_int8.py --built state/build/yolo-demo --head-to-head-only --rounds 30   # the speedup alone

Calibration frames are generated stills (`--calib-seeds`, standing in for frames captured on site; the
INT8 step's 75/25 split keeps the last quarter out, as `edge-sdk build` does); evaluation is on the held-out
generated scene set (`--eval-seeds`, seeds >= 1000000 are never trained on) with its exact COCO ground truth.
For each calibration method (MinMax, Entropy, Percentile) both artifacts of `edge-sdk build` are measured:
the TensorRT form and the CPU form. "naive" is quantize_static's defaults (every op it knows, per-tensor
weights, MinMax), i.e. full INT8 as exporters do it. Columns:
- mAP50-95 / mAP50: against ground truth (edge_sdk.evaluate, COCOeval; conf 0.001, NMS IoU 0.7, 300 dets);
- drop: FP32's mAP50-95 minus the model's, in points;
- gate drop: what the accuracy gate measures with no labels (mAP50-95 against FP32's detections at
  conf 0.25, FP32's own score minus the model's), on the same frames;
- ms / speedup per thread count: median single-frame latency (batch 1) on ONNX Runtime CPU, each model timed
  in blocks (see edge_sdk.quant.gate.block_latency), and FP32's latency divided by the model's;
- fps / speedup NxT1: throughput with N single-thread inferences at once on one session (`--workers`, what
  `edge-sdk run` does with `engine.workers: N`), and the model's rate divided by FP32's.
Then a head to head: FP32 against the model `edge-sdk build` shipped (`--built`; else the Percentile CPU form)
alone, in rounds of A-B-B-A blocks, for each thread count and the workers: the speedup's median and range over
the rounds (`--rounds`). On a shared machine that drifts by several percent a minute this is the figure to
quote; the table's ratios compare models timed minutes apart.
Repair is not applied to the per-method rows (attempt 0 of the build): these are the methods' raw results.
`--built DIR` adds the models `edge-sdk build` published (its default method, after repair), measured alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from edge_sdk.atomic import write_json_atomic  # noqa: E402
from edge_sdk.bench.machine import machine_record  # noqa: E402
from edge_sdk.bench.table import format_table  # noqa: E402
from edge_sdk.calibration.dataset import FrameFile, scan_folder, split_frames  # noqa: E402
from edge_sdk.config.calibration import CalibrationConfig  # noqa: E402
from edge_sdk.decode import DecodeParams, decode_yolov8  # noqa: E402
from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine  # noqa: E402
from edge_sdk.evaluate.metrics import coco_map  # noqa: E402
from edge_sdk.quant.forms import FormSpec, ort_spec, quantize_form, trt_spec  # noqa: E402
from edge_sdk.quant.gate import (  # noqa: E402
    GateSettings,
    block_latency,
    drop_points,
    make_reference,
    score_candidate,
    timed_block,
)
from edge_sdk.quant.placement import plan_graph  # noqa: E402
from edge_sdk.quant.stats import StatsSettings, collect_ranges, preprocess_file  # noqa: E402
from tools.scenes import write_still_set  # noqa: E402

OPS = ["Conv", "MatMul", "Gemm"]
MAP_PARAMS = DecodeParams(conf_thres=0.001, iou_thres=0.7, max_det=300)


def seeds(text: str) -> range:
    a, b = (int(v) for v in text.split(":"))
    return range(a, b)


def frames_dir(work: Path, name: str, rng: range) -> Path:
    """Generated stills of seeds `rng` with their COCO ground truth (made once, kept in --work)."""
    folder = work / f"{name}-{rng.start}-{rng.stop}"
    if not (folder / "annotations.coco.json").exists():
        write_still_set(folder, rng)
    return folder


def frame_files(folder: Path) -> list[FrameFile]:
    return scan_folder(folder, key="bench").frames


def ground_truth_map(model: Path, folder: Path, gt: dict[str, Any], threads: int) -> tuple[float, float]:
    """mAP50-95 and mAP50 (points) of a model against the COCO ground truth of a generated still set."""
    import cv2

    from edge_sdk.preprocess.letterbox import letterbox

    ids = {img["file_name"]: img["id"] for img in gt["images"]}
    results: list[dict[str, Any]] = []
    with OnnxRuntimeEngine(model, intra_op_threads=threads) as engine:
        for name, image_id in ids.items():
            bgr = cv2.imread(str(folder / name))
            x, info = letterbox(bgr, engine.info.input_hw)
            dets = decode_yolov8(engine.infer(x), MAP_PARAMS)
            for box, score, cls in zip(info.to_original(dets.boxes), dets.scores, dets.class_ids):
                x1, y1, x2, y2 = (float(v) for v in box)
                results.append({"image_id": image_id, "category_id": int(cls) + 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                                "score": float(score)})
    res = coco_map(gt, results)
    return round(100 * res.map50_95, 2), round(100 * res.map50, 2)


def _key(header: str) -> str:
    kind, tag = header.split(" ")
    return {"ms": f"latency_ms_{tag}", "fps": f"fps_{tag}"}.get(kind, f"speedup_{tag}")


def block_throughput(paths: dict[str, Path], x: Any, inferences: int, workers: int) -> dict[str, float]:
    """Inferences per second of each model with `workers` single-thread inferences at once on one session
    (`engine.workers`), in two blocks per model (model order, then reverse) against drift; the mean rate."""
    from edge_sdk.bench.pipeline_bench import concurrent_inferences

    engines = {k: OnnxRuntimeEngine(p, workers=workers, intra_op_threads=1) for k, p in paths.items()}
    try:
        rates: dict[str, list[float]] = {k: [] for k in engines}
        for order in (list(engines), list(reversed(engines))):
            for k in order:
                for _ in range(workers):
                    engines[k].infer(x)
                rates[k].append(concurrent_inferences(engines[k], x, max(workers, inferences // 2))[0])
        return {k: round(2.0 / sum(1.0 / r for r in v), 2) for k, v in rates.items()}
    finally:
        for e in engines.values():
            e.close()


def head_to_head(fp32: Path, int8: Path, x: Any, thread_counts: list[int], workers: int, rounds: int,
                 runs: int = 8) -> dict[str, dict[str, Any]]:
    """FP32 against one INT8 model only, in `rounds` rounds of A-B-B-A blocks (B-A-A-B every other round), so
    that both see the same minute of a drifting shared machine; the speedup of each round, and their median and
    range. The per-method table times ten models one after another, minutes apart: its ratios carry that drift."""
    from edge_sdk.bench.pipeline_bench import concurrent_inferences

    out: dict[str, dict[str, Any]] = {}
    configs = [(f"{t}T" if t else "allT", t, 1) for t in thread_counts] + ([(f"{workers}x1T", 1, workers)] if workers else [])
    for tag, threads, concurrency in configs:
        engines = [OnnxRuntimeEngine(p, intra_op_threads=threads, workers=concurrency) for p in (fp32, int8)]
        try:
            ratios = []
            for r in range(rounds):
                order = (0, 1, 1, 0) if r % 2 == 0 else (1, 0, 0, 1)
                seen: dict[int, list[float]] = {0: [], 1: []}
                for i in order:
                    if concurrency > 1:  # seconds per inference at full throughput
                        seen[i].append(1.0 / concurrent_inferences(engines[i], x, runs * concurrency)[0])
                    else:
                        seen[i].append(statistics.median(timed_block(engines[i], x, runs)))
                ratios.append(round(statistics.mean(seen[0]) / statistics.mean(seen[1]), 3))
        finally:
            for e in engines:
                e.close()
        out[tag] = {"median": round(statistics.median(ratios), 3), "min": min(ratios), "max": max(ratios),
                    "rounds": ratios}
    return out


def built_models(built: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """The two models `edge-sdk build` published in `built` (CPU form first), labelled with how many layers its
    repair kept in float, with the method and layers from its report."""
    report = json.loads((built / "report.json").read_text())
    models: dict[str, tuple[Path, dict[str, Any]]] = {}
    for form, name in (("ort", "CPU"), ("trt", "TensorRT")):
        floats = report["int8"][form]["layers_in_float"]
        models[f"edge-sdk build, {name} form ({len(floats)} layers in float)"] = (
            built / f"model.int8.{form}.qdq.onnx",
            {"method": report["method"]["method"], "form": form, "built": True, "layers_in_float": floats})
    return models


def print_duel(duel: dict[str, Any], rounds: int) -> None:
    print(f"\nhead to head, FP32 against {duel['model']} ({rounds} rounds of A-B-B-A blocks): speedup")
    print(format_table(["config", "median", "min", "max"],
                       [[tag, v["median"], v["min"], v["max"]] for tag, v in duel["speedup"].items()]))


def head_to_head_only(args: argparse.Namespace, model: Path, work: Path, thread_counts: list[int],
                      t_start: float) -> int:
    """`--head-to-head-only`: FP32 against the CPU form `edge-sdk build` shipped in `--built`, nothing else."""
    import onnxruntime

    if not args.built or not args.rounds:
        print("bench_int8: --head-to-head-only needs --built DIR and --rounds N > 0", file=sys.stderr)
        return 2
    name, (int8, _) = next(iter(built_models(Path(args.built)).items()))  # the CPU form
    label = f"INT8 {name}"
    eval_frames = frame_files(frames_dir(work, "eval", args.eval_seeds))
    with OnnxRuntimeEngine(model) as e:
        x = preprocess_file(eval_frames[0], e.info.input_hw)
    print(f"head to head: FP32 against {label}, {args.rounds} rounds ...", file=sys.stderr)
    duel: dict[str, Any] = {"model": label,
                            "speedup": head_to_head(model, int8, x, thread_counts, args.workers, args.rounds)}
    here = machine_record()
    cpu, vnni = here["cpu"], here["avx512_vnni"]
    header = (f"INT8 head to head: {model.name} against {label}; ONNX Runtime {onnxruntime.__version__} CPU, "
              f"threads {thread_counts} (0 = all), {cpu} ({here['isa']})"
              + (f"; throughput with {args.workers} workers x 1 thread" if args.workers else ""))
    print(header)
    print_duel(duel, args.rounds)
    if args.json:
        result = {"header": header, "model": str(model), "onnxruntime": onnxruntime.__version__, "cpu": cpu,
                  "avx512_vnni": vnni, "threads": thread_counts, "workers": args.workers, "rounds": args.rounds,
                  "head_to_head": duel, "seconds": round(time.monotonic() - t_start, 1), "machine": machine_record()}
        write_json_atomic(Path(args.json), result)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "models/demo/yolo-demo.onnx"))
    ap.add_argument("--calib-seeds", type=seeds, default=seeds("2000000:2000400"),
                    help="calibration stills A:B (400: 300 to calibrate, 100 for the gate)")
    ap.add_argument("--eval-seeds", type=seeds, default=seeds("1000000:1000300"), help="held-out scene set A:B")
    ap.add_argument("--methods", default="minmax,entropy,percentile")
    ap.add_argument("--runs", type=int, default=40, help="timed runs per model and thread count")
    ap.add_argument("--threads", default="0,1", help="ONNX Runtime intra-op thread counts to time, comma-separated "
                                                    "(0: ONNX Runtime's default, all cores); accuracy runs use the first")
    ap.add_argument("--workers", type=int, default=2,
                    help="also measure throughput with this many single-thread inferences at once on one session, "
                         "as `edge-sdk run` does with engine.workers (0: skip)")
    ap.add_argument("--rounds", type=int, default=8,
                    help="rounds of the FP32 vs shipped-model head-to-head (A-B-B-A blocks per round; 0: skip)")
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "edge-sdk-bench-int8"))
    ap.add_argument("--json", default=None, help="write the results here")
    ap.add_argument("--built", default=None,
                    help="also measure what `edge-sdk build` published in this build directory (after repair), e.g. "
                         "state/build/yolo-demo of a config calibrated on the same --calib-seeds stills")
    ap.add_argument("--head-to-head-only", action="store_true",
                    help="with --built: only the head to head of FP32 against the shipped CPU form (no quantizing, no "
                         "mAP, no table; a few minutes), e.g. with more --rounds on a noisy host")
    args = ap.parse_args()
    thread_counts = [int(t) for t in str(args.threads).split(",")]
    args.threads = thread_counts[0]
    t_start = time.monotonic()
    model = Path(args.model)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.head_to_head_only:
        return head_to_head_only(args, model, work, thread_counts, t_start)
    calib_dir = frames_dir(work, "calib", args.calib_seeds)
    eval_dir = frames_dir(work, "eval", args.eval_seeds)
    gt = json.loads((eval_dir / "annotations.coco.json").read_text())
    split = split_frames(scan_folder(calib_dir, key="bench"), None,
                         CalibrationConfig(min_frames=2, min_holdout_frames=1, max_calibration_frames=100000))
    calib = split.calibration
    eval_frames = frame_files(eval_dir)
    import onnx

    plan = plan_graph(onnx.load(str(model)), OPS)
    with OnnxRuntimeEngine(model) as e:
        size = e.info.input_hw
    gate = GateSettings(decode_yolov8, DecodeParams(), size, 6, args.threads)
    print(f"reference: FP32 on {len(eval_frames)} held-out frames ...", file=sys.stderr)
    reference = make_reference(model, eval_frames, gate)
    out_dir = work / "models"
    out_dir.mkdir(exist_ok=True)
    variants: dict[str, tuple[Path, dict[str, Any]]] = {}
    for method in args.methods.split(","):
        t0 = time.monotonic()
        ranges = collect_ranges(model, calib, "images", size, StatsSettings(method), progress=sys.stderr.isatty())
        ranges.save(out_dir / f"ranges.{method}.json")
        calib_s = round(time.monotonic() - t0, 1)
        specs: list[FormSpec] = [trt_spec(plan, OPS, set()), ort_spec(plan, OPS, set(), int8_silu=True)]
        for spec in specs:
            path = quantize_form(model, ranges, spec, out_dir / f"{method}.{spec.name}.onnx")
            variants[f"{method} / {'TensorRT' if spec.name == 'trt' else 'CPU'} form"] = (
                path, {"method": method, "form": spec.name, "calibration_s": calib_s})
        if method == "minmax":
            naive = quantize_form(model, ranges, FormSpec("naive", (), frozenset(), frozenset()), out_dir / "naive.onnx")
            variants["naive full INT8 (MinMax)"] = (naive, {"method": "minmax", "form": "naive", "calibration_s": calib_s})
    if args.built:
        variants.update(built_models(Path(args.built)))
    rows: list[dict[str, Any]] = []
    fp32_map = ground_truth_map(model, eval_dir, gt, args.threads)
    rows.append({"model": "FP32", "map50_95": fp32_map[0], "map50": fp32_map[1], "drop": 0.0, "gate_drop": 0.0})
    for label, (path, meta) in variants.items():
        print(f"evaluating {label} ...", file=sys.stderr)
        m = ground_truth_map(path, eval_dir, gt, args.threads)
        agreement = score_candidate(path, reference, gate)
        rows.append({"model": f"INT8 {label}", **meta, "map50_95": m[0], "map50": m[1],
                     "drop": round(fp32_map[0] - m[0], 2), "gate_drop": drop_points(reference.fp32, agreement),
                     "sqnr_db": agreement.sqnr_db})
    x = preprocess_file(eval_frames[0], size)
    models = {"FP32": model, **{f"INT8 {k}": v[0] for k, v in variants.items()}}
    headers = ["model", "mAP50-95", "mAP50", "drop", "gate drop"]
    for threads in thread_counts:
        tag = f"{threads}T" if threads else "allT"
        lat = block_latency(models, x, args.runs, threads)
        for row in rows:
            row[f"latency_ms_{tag}"] = lat[row["model"]]
            row[f"speedup_{tag}"] = round(lat["FP32"] / lat[row["model"]], 2)
        headers += [f"ms {tag}", f"speedup {tag}"]
    if args.workers:
        tag = f"{args.workers}x1T"
        fps = block_throughput(models, x, max(args.runs, 20) * args.workers, args.workers)
        for row in rows:
            row[f"fps_{tag}"] = fps[row["model"]]
            row[f"speedup_{tag}"] = round(fps[row["model"]] / fps["FP32"], 2)
        headers += [f"fps {tag}", f"speedup {tag}"]
    table = format_table(headers, [[r["model"], r["map50_95"], r["map50"], r["drop"], r["gate_drop"]]
                                   + [v for h in headers[5:] for v in [r[_key(h)]]] for r in rows])
    duel: dict[str, Any] = {}
    if args.rounds:
        shipped = next((k for k, v in variants.items() if v[1].get("built") and v[1]["form"] == "ort"),
                       "percentile / CPU form")
        print(f"head to head: FP32 against INT8 {shipped}, {args.rounds} rounds ...", file=sys.stderr)
        duel = {"model": f"INT8 {shipped}",
                "speedup": head_to_head(model, variants[shipped][0], x, thread_counts, args.workers, args.rounds)}
    import onnxruntime

    here = machine_record()
    cpu, vnni = here["cpu"], here["avx512_vnni"]
    header = (f"INT8 benchmark: {model.name}, {len(calib)} calibration frames (seeds {args.calib_seeds.start}:"
              f"{args.calib_seeds.stop}, 75% split), {len(eval_frames)} held-out frames with ground truth (seeds "
              f"{args.eval_seeds.start}:{args.eval_seeds.stop}); ONNX Runtime {onnxruntime.__version__} CPU, "
              f"threads {thread_counts} (0 = all), {cpu} ({here['isa']}); "
              f"median of {args.runs} runs per model"
              + (f"; throughput with {args.workers} workers x 1 thread" if args.workers else ""))
    print(header)
    print(table)
    if duel:
        print_duel(duel, args.rounds)
    result = {"header": header, "model": str(model), "calibration_frames": len(calib), "eval_frames": len(eval_frames),
              "onnxruntime": onnxruntime.__version__, "cpu": cpu, "avx512_vnni": vnni, "threads": thread_counts,
              "runs": args.runs, "workers": args.workers, "rows": rows, "head_to_head": duel,
              "seconds": round(time.monotonic() - t_start, 1), "machine": machine_record()}
    if args.json:
        write_json_atomic(Path(args.json), result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
