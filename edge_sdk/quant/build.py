"""The INT8 step of `edge-sdk build`: preflight -> frames -> ranges -> Q/DQ models + TensorRT cache -> gate ->
what ships -> artifacts.

    outcome = build_int8(cfg)              # reuses an up-to-date build; force=True rebuilds
    outcome.model("ort"), outcome.report   # GateFailed (a BuildError) carries the report when refused

Every input is checked before anything is written (frames, the model's graph by the preflight, the model on
ONNX Runtime, config patterns), all outputs are staged in a private folder and published together
(artifacts.py), so bad input or a refused gate leaves no partial artifacts. A refused gate writes
report.failed.json/.txt into the build directory. The CPU form is built for this CPU's instruction set
(cpu_isa.py) and ships only when measured faster than FP32 here (ships.py); the report times every phase.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from edge_sdk.atomic import write_json_atomic, write_text_atomic
from edge_sdk.calibration.dataset import FrameSplit, calibration_fingerprint, even_spread, frames_folder, load_split
from edge_sdk.errors import ConfigError, GateFailed, ModelError
from edge_sdk.quant import artifacts as art
from edge_sdk.quant import report as rep
from edge_sdk.quant import ships
from edge_sdk.quant.phases import Phases

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.quant.cpu_isa import CpuIsa
    from edge_sdk.quant.gate import GateSettings
    from edge_sdk.quant.preflight import Preflight
    from edge_sdk.quant.repair import FormResult, RepairJob

log = logging.getLogger(__name__)


@dataclass
class BuildOutcome:
    folder: Path
    report: dict[str, Any]
    manifest: dict[str, Any]
    reused: bool

    @property
    def changed(self) -> bool:
        return not self.reused

    @property
    def summary(self) -> str:
        verb = "reused (inputs unchanged)" if self.reused else "built"
        return f"INT8 {verb}: {self.report['decision']} ({self.report.get('decision_detail', '')}) in {self.folder}"

    def model(self, form: str) -> Path:
        return self.folder / str(self.manifest["files"][f"{form}_qdq"]["name"])


@dataclass
class _Prepared:
    fp32: Path  # the user's model (identity: sha256, manifest)
    pre: Preflight  # the prepared float model every step reads (pre.path)
    isa: CpuIsa
    split: FrameSplit
    key: str
    model_sha: str
    settings: dict[str, Any]
    versions: dict[str, str]
    gate: GateSettings
    input_name: str
    config_float: set[str]


def build_int8(cfg: AppConfig, *, force: bool = False, progress: bool = True) -> BuildOutcome:
    """Build (or reuse) the INT8 artifacts of `cfg`. Raises CalibrationError/ModelError/ConfigError on bad input,
    GateFailed when the accuracy gate refuses the result."""
    phases = Phases()
    folder = art.build_dir(cfg)
    with tempfile.TemporaryDirectory(prefix="edge-sdk-preflight-") as tmp:
        with phases("preflight"):
            prep = _prepare(cfg, Path(tmp))
        with art.build_lock(folder):  # one build at a time; what a killed build left is removed first
            if not force:
                reused = _reusable(folder, prep.key)
                if reused is not None:
                    return reused
            staging = art.Staging.create(folder)
            try:
                return _build(cfg, prep, staging, phases, progress)
            finally:
                staging.discard()


def _prepare(cfg: AppConfig, work: Path) -> _Prepared:
    from edge_sdk.engines.model_info import file_sha256
    from edge_sdk.model.resolve import model_cache_dir, resolve_model
    from edge_sdk.quant.cpu_isa import detect
    from edge_sdk.quant.preflight import prepare

    fp32 = cfg.resolve(cfg.model.path)
    if not fp32.is_file():
        raise ModelError("model file not found", where=str(fp32), fix="set model.path to the FP32 ONNX model")
    # the model's own checks and fixes (edge_sdk.model: weights listed as inputs, batch, size, opset: strict, as
    # per-channel INT8 needs opset 13), then INT8's: refused in seconds, before any frame is read
    resolved = resolve_model(fp32, cfg.model, base_dir=cfg.base_dir, cache_dir=model_cache_dir(cfg), strict_opset=True)
    pre = prepare(fp32, resolved, cfg.build.op_types, work)
    split = load_split(cfg)
    gate, input_name = _check_model(cfg, resolved, pre.path, split)
    config_float = _config_float(cfg, pre.model)
    isa = detect()
    model_sha, settings = file_sha256(fp32), art.settings_of(cfg)
    versions = {**art.library_versions(), "cpu_isa": isa.dot}  # a CPU with other INT8 instructions rebuilds
    key = art.make_key(model_sha, split.digest(), settings, versions)
    return _Prepared(fp32, pre, isa, split, key, model_sha, settings, versions, gate, input_name, config_float)


def _check_model(cfg: AppConfig, resolved: Any, path: Path, split: FrameSplit) -> tuple[GateSettings, str]:
    """Run the prepared FP32 model on a held-out frame in ONNX Runtime (a model that fails there stops the build
    here) and choose its decoder and preprocessing as `edge-sdk run` does (edge_sdk.model.decoding)."""
    from edge_sdk.decode.base import DecodeParams
    from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
    from edge_sdk.model.decoding import choose_decoder, first_image
    from edge_sdk.quant.gate import GateSettings
    from edge_sdk.quant.stats import preprocess_file

    with OnnxRuntimeEngine(path, intra_op_threads=cfg.build.threads) as engine:
        try:
            out = engine.infer(preprocess_file(split.holdout[0], resolved.preprocess))
        except Exception as exc:  # onnxruntime raises its own Fail/RuntimeException types
            raise ModelError(f"the model fails on ONNX Runtime: {str(exc).strip()[:300]}", where=str(path),
                             fix="check the export with `edge-sdk model check`, and run it in fp32 first") from exc
        names = [o.name for o in engine.info.outputs]
        input_name = engine.info.inputs[0].name
    decoder, resolved, _ = choose_decoder(cfg.decode.type, resolved, names, first_image(out, resolved.preprocess.batch))
    spec = resolved.preprocess
    num_classes = len(resolved.labels) or (int(out[0].shape[1]) - 4 if decoder.name == "yolov8" else 1000)
    ref = DecodeParams(conf_thres=cfg.decode.conf_thres, iou_thres=cfg.decode.iou_thres, max_det=cfg.decode.max_det)
    return GateSettings(decoder, ref, spec.size, num_classes, cfg.build.threads, cfg.build.gate_min_class_objects,
                        dict(resolved.labels), spec), input_name


def _config_float(cfg: AppConfig, model: Any) -> set[str]:
    from edge_sdk.quant.placement import match_nodes

    if not cfg.build.exclude_nodes:
        return set()
    names = [n.name for n in model.graph.node]
    matched, unmatched = match_nodes(cfg.build.exclude_nodes, names)
    if unmatched:
        raise ConfigError(f"no node of the model matches {', '.join(map(repr, unmatched))}", where="build.exclude_nodes",
                          fix="use node names as Netron shows them, or fnmatch patterns like '/detect/cv2.0/*'")
    return matched


def _reusable(folder: Path, key: str) -> BuildOutcome | None:
    manifest = art.read_manifest(folder)
    if manifest is None or manifest.get("key") != key:
        return None
    problems = art.verify_files(folder, manifest)
    if problems:
        log.info("rebuilding: %s", "; ".join(problems))
        return None
    report = json.loads((folder / art.REPORT_JSON).read_text(encoding="utf-8"))
    report["reused"] = True
    log.info("INT8 build in %s is up to date (same model, calibration set, settings and library versions): reused", folder)
    return BuildOutcome(folder, report, manifest, reused=True)


def _build(cfg: AppConfig, prep: _Prepared, staging: art.Staging, phases: Phases, progress: bool) -> BuildOutcome:
    from edge_sdk.quant.gate import make_reference
    from edge_sdk.quant.placement import plan_graph
    from edge_sdk.quant.preflight import dry_run
    from edge_sdk.quant.stats import StatsSettings, collect_ranges
    from edge_sdk.quant.trt_cache import write_cache

    b = cfg.build
    model, model_path = prep.pre.model, prep.pre.path
    plan = plan_graph(model, b.op_types, keep_decode_float=b.keep_decode_float)
    job = _repair_job(cfg, prep, model, model_path, plan, staging.path, progress, phases)
    with phases("preflight"):  # quantize and run each form with placeholder ranges: fail now, not after calibrating
        # the CPU form's tensors are measured even when it is not built: the TensorRT cache (DLA) wants them all
        tensors = dry_run(prep.pre, {form: job.spec(form, set()) for form in ("trt", "ort")}, staging.path, b.threads,
                          optional=frozenset({"trt", "ort"} - set(job.forms)))
    stats = StatsSettings(b.method, b.percentile, b.histogram_bins)
    with phases("calibration"):
        ranges = collect_ranges(model_path, prep.split.calibration, prep.input_name, prep.gate.preprocess, stats,
                                progress=progress, tensors=tensors, threads=b.threads)
    job.ranges = ranges
    ranges.save(staging.path / art.RANGES)
    roles = {"ranges": art.RANGES}
    for version in b.trt_versions:
        roles[f"trt_cache_{version}"] = write_cache(ranges, version, staging.path).name
    with phases("placement"):
        low = _low_sqnr_layers(job, plan, b.min_layer_sqnr_db)
    job.config_float, job.float_inputs = job.config_float | set(low), frozenset(low)
    log.info("running FP32 on %d held-out frames for the reference", len(prep.split.holdout))
    with phases("FP32 reference"):
        job.reference = make_reference(model_path, prep.split.holdout, prep.gate)
    results = job.run()  # with no reference objects: one attempt per form for the report; the gate cannot pass
    finals = {form: r.final for form, r in results.items()}
    decision, detail = _decide(results, job.reference.objects, b.max_map_drop, b.accept_over_budget)
    with phases("speed"):
        speed = _speed(prep, {form: a.path for form, a in finals.items()}, b.speed_runs)
    report = _report(cfg, prep, job, results, decision, detail, speed, plan, stats, phases)
    report["layers_in_float"]["low_sqnr"] = low
    if "ort" in finals and decision != rep.FAIL:
        ships.record(report, _cpu_ships(prep, speed, b.cpu_min_speedup))
    report["warnings"] = _warnings(cfg, report)
    for warning in report["warnings"]:
        log.warning("%s", warning)
    if decision == rep.FAIL:
        report["timing"] = phases.as_dict()
        _write_failed(staging.target, report)
        raise GateFailed(f"the INT8 model was refused by the accuracy gate: {detail}", report, where=str(staging.target),
                         fix="capture more varied calibration frames, try another build.method, raise build.max_float_layers, "
                             "or set build.accept_over_budget: true to ship it anyway (see report.failed.txt)")
    for form, final in finals.items():
        name = art.TRT_QDQ if form == "trt" else art.ORT_QDQ
        final.path.rename(staging.path / name)
        roles[f"{form}_qdq"] = name
    report["artifacts"] = dict(roles)
    report["timing"] = phases.as_dict()  # last, so that it covers the whole build
    write_json_atomic(staging.path / art.REPORT_JSON, report)
    write_text_atomic(staging.path / art.REPORT_TXT, rep.render(report) + "\n")
    roles.update(report_json=art.REPORT_JSON, report_txt=art.REPORT_TXT)
    manifest = {"schema": art.SCHEMA, "key": prep.key, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "model": {"path": str(prep.fp32), "sha256": prep.model_sha},
                "calibration": {"sha256": prep.split.digest(), "fingerprint": calibration_fingerprint(cfg),
                                "folder": str(frames_folder(cfg)), "calibration_frames": len(prep.split.calibration),
                                "holdout_frames": len(prep.split.holdout)},
                "settings": prep.settings, "versions": prep.versions, "decision": decision,
                "cpu": report.get("cpu", {}), "ships": report.get("ships", {})}
    art.remove_stale_failure(staging.target)
    manifest = staging.publish(roles, manifest)
    log.info("INT8 build published in %s: %s", staging.target, decision)
    return BuildOutcome(staging.target, report, manifest, reused=False)


def _low_sqnr_layers(job: RepairJob, plan: Any, min_db: float) -> dict[str, float]:
    """{layer: its own INT8 output SQNR} of the layers kept in float by placement (layer_sqnr.py), on the
    sensitivity frames."""
    from edge_sdk.quant.layer_sqnr import below, layer_sqnr

    if min_db <= 0:
        return {}
    candidates = plan.quantizable(frozenset(job.config_float))
    own = layer_sqnr(job.model_path, job.model, job.ranges, candidates, job.sensitivity_frames(), job.gate.threads)
    low = below(own, min_db, candidates)
    if low:
        log.info("%d of %d layers reproduce their own output in INT8 under %g dB (build.min_layer_sqnr_db) and stay "
                 "float: %s", len(low), len(candidates), min_db,
                 ", ".join(f"{n} {db:.1f} dB" for n, db in sorted(low.items(), key=lambda t: t[1])))
    return low


def _cpu_ships(prep: _Prepared, speed: dict[str, Any], min_speedup: float) -> ships.ShipDecision:
    """INT8 CPU form or FP32 on ONNX Runtime's CPU, by the speed this build measured on this machine."""
    return ships.choose_by_speed(ships.TARGET_CPU, "int8", "fp32",
                                 {"int8": speed.get("int8_ort_ms"), "fp32": speed.get("fp32_ms")}, min_speedup,
                                 {"cpu": prep.isa.model, "isa": prep.isa.dot})


def _repair_job(cfg: AppConfig, prep: _Prepared, model: Any, model_path: Path, plan: Any, work: Path, progress: bool,
                phases: Phases) -> RepairJob:
    """The repair job; its ranges and reference are set once calibration and the FP32 run have made them."""
    from edge_sdk.quant.repair import RepairJob
    from edge_sdk.quant.stats import TensorRanges, preprocess_file

    b = cfg.build

    def sens_inputs() -> list[np.ndarray]:
        return [preprocess_file(f, prep.gate.preprocess) for f in even_spread(prep.split.calibration, b.sensitivity_frames)]

    forms = ("trt", "ort") if b.cpu_form == "ort" else ("trt",)
    return RepairJob(model_path, model, TensorRanges(b.method, {}), plan, b.op_types, prep.config_float, forms,
                     b.cpu_int8_silu, b.max_map_drop, None, prep.gate, work, sens_inputs, b.repair,  # type: ignore[arg-type]
                     b.max_float_layers, progress, b.cpu_float_input_layer, b.gate_bootstrap,
                     min_gain=b.repair_min_gain, time_limit_s=b.repair_time_limit_s, cpu_formats=prep.isa.formats(),
                     speed_runs=max(4, b.speed_runs // 2), phases=phases, cpu_format=prep.isa.formats()[0])


def _decide(results: dict[str, FormResult], objects: int, budget: float, accept: bool) -> tuple[str, str]:
    finals = {form: r.final for form, r in results.items()}
    drops = ", ".join(f"{rep.FORM_LABELS[f]} {a.drop if a.drop is not None else '-'}" for f, a in finals.items())
    if objects == 0:
        detail = ("the FP32 model finds no objects in the held-out frames, so INT8 cannot be checked against it "
                  "(use frames that show what the model detects)")
        return (rep.ACCEPTED, detail + "; accepted by config") if accept else (rep.FAIL, detail)
    if all(a.passed for a in finals.values()):
        repaired = {f: a for f, a in finals.items() if a.float_layers}
        if not repaired:
            return rep.PASS, f"mAP50-95 drop {drops} points, within {budget}"
        kept = ", ".join(f"{rep.FORM_LABELS[f]} {len(a.float_layers)}" for f, a in repaired.items())
        return rep.PASS_REPAIRED, f"mAP50-95 drop {drops} points, within {budget}, with layers kept in float ({kept})"
    tried = []
    for form, r in results.items():
        if not r.final.passed:
            most = max(len(a.float_layers) for a in r.attempts)
            tried.append(f"{rep.FORM_LABELS[form]}: repair tried up to {most} layers in float ({r.stopped})"
                         if len(r.attempts) > 1 else f"{rep.FORM_LABELS[form]}: no repair attempted ({r.stopped})")
    detail = f"mAP50-95 drop {drops} points exceeds the budget of {budget}; {'; '.join(tried)}"
    return (rep.ACCEPTED, detail + "; shipped because build.accept_over_budget is true") if accept else (rep.FAIL, detail)


def _speed(prep: _Prepared, int8_paths: dict[str, Path], runs: int) -> dict[str, Any]:
    from edge_sdk.quant.gate import block_latency
    from edge_sdk.quant.stats import preprocess_file

    x = preprocess_file(prep.split.holdout[0], prep.gate.preprocess)
    paths = {"fp32": prep.pre.path, **{f"int8_{f}": p for f, p in int8_paths.items()}}
    lat = block_latency(paths, x, runs, prep.gate.threads)
    speed: dict[str, Any] = {f"{k}_ms": v for k, v in lat.items()}
    for form in int8_paths:
        speed[f"speedup_{form}"] = round(lat["fp32"] / lat[f"int8_{form}"], 2) if lat[f"int8_{form}"] else None
    speed["note"] = (f"latency: ONNX Runtime CPU, median of {runs} runs per model, batch 1; the TensorRT form runs here as "
                     "float convs on dequantized tensors (its speed is TensorRT's, measured when the engine is built)")
    return speed


def _report(cfg: AppConfig, prep: _Prepared, job: RepairJob, results: dict[str, FormResult], decision: str, detail: str,
            speed: dict[str, Any], plan: Any, stats: Any, phases: Phases) -> dict[str, Any]:
    from edge_sdk.quant.gate import per_class_table

    split = prep.split
    sizes: dict[str, int] = {}
    for f in split.calibration + split.holdout:
        sizes[f"{f.width}x{f.height}"] = sizes.get(f"{f.width}x{f.height}", 0) + 1
    tail_compute = sorted(n for n in plan.decode_tail if plan.node_types.get(n) in cfg.build.op_types)
    int8: dict[str, Any] = {}
    for form, r in results.items():
        final = r.final
        int8[form] = {**final.score.as_dict(), "drop": final.drop, "passed": final.passed,
                      "drop_interval90": list(r.drop_interval) if r.drop_interval is not None else None,
                      "layers_in_float": final.float_layers, "int8_layers": r.int8_layers,
                      "eligible_layers": r.eligible_layers, "attempts": [a.as_dict() for a in r.attempts],
                      "sensitivity": [{"layer": x.layer, "sqnr_db": x.sqnr_db} for x in r.sensitivity[:10]],
                      "per_class": per_class_table(job.reference, final.score, prep.gate.names),
                      "repair_stopped": r.stopped}
        if r.weight_format:
            int8[form]["weight_format"] = r.weight_format
            int8[form]["weight_format_choice"] = r.format_choice
    return {
        "schema": 1, "decision": decision, "decision_detail": detail, "reused": False,
        "model": {"path": str(prep.fp32), "sha256": prep.model_sha},
        "method": stats.as_dict(),
        "frames": {"calibration": len(split.calibration), "holdout": len(split.holdout), "holdout_from": split.holdout_from,
                   "skipped": len(split.skipped), "skipped_examples": [f"{s.path.name}: {s.reason}" for s in split.skipped[:5]],
                   "duplicates": split.duplicates, "sizes": sizes, "calibration_set_sha256": split.digest()},
        "budget": {"max_map50_95_drop": cfg.build.max_map_drop, "accept_over_budget": cfg.build.accept_over_budget},
        "reference": {"objects": job.reference.objects, "conf_thres": cfg.decode.conf_thres,
                      "iou_thres": cfg.decode.iou_thres, "gate_rule": job.reference.rule,
                      "min_class_objects": cfg.build.gate_min_class_objects},
        "preflight": prep.pre.as_dict(),
        "input_layer": {"normalization": sorted(plan.normalization), "stem": sorted(plan.input_layer - plan.normalization)},
        "cpu": {**prep.isa.as_dict(), "format": results["ort"].weight_format if "ort" in results else None},
        "fp32": job.reference.fp32.as_dict(),
        "int8": int8,
        "layers_in_float": {"config": sorted(prep.config_float), "decode_tail": tail_compute},
        "speed": speed, "versions": prep.versions, "seconds": phases.as_dict()["wall_s"],
    }


def _warnings(cfg: AppConfig, report: dict[str, Any]) -> list[str]:
    out = []
    cpu = ships.shipped(report, ships.TARGET_CPU)
    if cpu is not None and cpu["chosen"] != "int8":
        out.append(f"model.precision int8 runs FP32 on this CPU: {cpu['reason']} (build.cpu_min_speedup; layers kept in "
                   "float break the integer path, and a CPU without VNNI has no INT8 arithmetic advantage)")
    budget = report["budget"]["max_map50_95_drop"]
    for form, score in report["int8"].items():
        interval = score.get("drop_interval90")
        if interval and interval[0] <= budget <= interval[1]:
            out.append(f"{rep.FORM_LABELS.get(form, form)}: the drop's 90% interval ({interval[0]:.2f} to {interval[1]:.2f} "
                       f"points) straddles the budget of {budget}: {report['frames']['holdout']} held-out frames "
                       f"({report['reference']['objects']} objects) are too few to decide it reliably; capture more "
                       "frames, or raise calibration.holdout_fraction or give calibration.holdout_dir")
    if report["frames"]["holdout"] < 50:
        out.append(f"the gate saw {report['frames']['holdout']} held-out frames; its mAP figures move by about a point "
                   "with so few, capture more frames (200+) for a steadier decision")
    return out


def _write_failed(folder: Path, report: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / art.FAILED_JSON, report)
    write_text_atomic(folder / art.FAILED_TXT, rep.render(report) + "\n")
