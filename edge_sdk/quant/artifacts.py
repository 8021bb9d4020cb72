"""The build directory: artifacts, their manifest, reuse, and finding the INT8 model at run time.

The manifest is keyed by the sha256 of the FP32 model, the sha256 of the calibration set (the content of
its calibration and held-out frames), the settings and the library versions. A build writes everything
into a staging folder first; `publish` then removes the old manifest, moves each file into place
(atomic renames) and writes the new manifest last. A crash in between leaves no manifest, so nothing is
reused or run from a half-published folder. A build killed mid-way leaves its staging folder (and perhaps a
`.manifest.json.*.tmp`): the next build removes them first, under a lock that keeps two builds of the same
folder from running at once (`build_lock`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_sdk.atomic import fsync_dir, move_atomic, remove_stale_temps, write_json_atomic
from edge_sdk.errors import BuildError

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
SCHEMA = 1
TRT_QDQ = "model.int8.trt.qdq.onnx"
ORT_QDQ = "model.int8.ort.qdq.onnx"
RANGES = "ranges.json"
REPORT_JSON = "report.json"
REPORT_TXT = "report.txt"
FAILED_JSON = "report.failed.json"
FAILED_TXT = "report.failed.txt"
BUILD_HINT = "run `edge-sdk build --config FILE` (it calibrates, quantizes and checks accuracy)"


def build_dir(cfg: AppConfig) -> Path:
    if cfg.build.dir:
        return cfg.resolve(cfg.build.dir)
    return cfg.resolve(cfg.state_dir) / "build" / cfg.model_name


def library_versions() -> dict[str, str]:
    import cv2
    import numpy
    import onnx
    import onnxruntime

    from edge_sdk import __version__

    return {"edge_sdk": __version__, "onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__,
            "numpy": numpy.__version__, "opencv": cv2.__version__}


def settings_of(cfg: AppConfig) -> dict[str, Any]:
    """Every setting that changes the artifacts (and nothing that does not, like build.dir or threads)."""
    b = cfg.build.model_dump(exclude={"dir", "threads", "speed_runs", "trt_min_speedup"})  # the last: decided later
    c = cfg.calibration.model_dump(include={"holdout_fraction", "min_holdout_frames", "max_calibration_frames",
                                            "max_holdout_frames"})
    d = cfg.decode
    return {"build": b, "calibration": c, "gate_reference": {"conf_thres": d.conf_thres, "iou_thres": d.iou_thres,
                                                             "max_det": d.max_det, "decode": d.type}}


def make_key(model_sha: str, calibration_sha: str, settings: dict[str, Any], versions: dict[str, str]) -> str:
    blob = json.dumps({"model": model_sha, "calibration": calibration_sha, "settings": settings, "versions": versions},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def file_entry(path: Path) -> dict[str, Any]:
    from edge_sdk.engines.model_info import file_sha256

    return {"name": path.name, "sha256": file_sha256(path), "size": path.stat().st_size}


def read_manifest(folder: Path) -> dict[str, Any] | None:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("schema") == SCHEMA else None


def verify_files(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """Problems with the files the manifest lists (missing, or content changed)."""
    from edge_sdk.engines.model_info import file_sha256

    problems = []
    for role, entry in manifest.get("files", {}).items():
        path = folder / entry["name"]
        if not path.is_file():
            problems.append(f"{role} file {entry['name']} is missing")
        elif path.stat().st_size != entry["size"] or file_sha256(path) != entry["sha256"]:
            problems.append(f"{role} file {entry['name']} changed since the build")
    return problems


@dataclass
class Staging:
    """A private folder next to the build directory; `publish` moves its files in, `discard` removes it."""

    path: Path
    target: Path

    @classmethod
    def create(cls, target: Path) -> Staging:
        import tempfile

        target.parent.mkdir(parents=True, exist_ok=True)
        return cls(Path(tempfile.mkdtemp(prefix=f".{target.name}.staging-", dir=target.parent)), target)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def publish(self, roles: dict[str, str], manifest: dict[str, Any]) -> dict[str, Any]:
        """Move the staged files (role -> file name) into the build directory; write the manifest last."""
        for name in roles.values():
            if not (self.path / name).is_file():
                raise BuildError(f"internal: staged artifact {name} is missing", where=str(self.path))
        files = {role: file_entry(self.path / name) for role, name in roles.items()}
        self.target.mkdir(parents=True, exist_ok=True)
        (self.target / MANIFEST).unlink(missing_ok=True)
        fsync_dir(self.target)
        for name in roles.values():
            move_atomic(self.path / name, self.target / name)
        manifest = {**manifest, "files": files}
        write_json_atomic(self.target / MANIFEST, manifest)
        self.discard()
        return manifest


@contextlib.contextmanager
def build_lock(target: Path) -> Iterator[list[Path]]:
    """Hold the build of `target` (an flock on `.<name>.lock` beside it; a second build of the same folder
    fails at once) and first remove what a build killed mid-way left: `.<name>.staging-*` folders beside it and
    `.*.tmp` files in it. Yields what was removed."""
    import fcntl

    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "a+b") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildError("another `edge-sdk build` is building this model now", where=str(target),
                             fix="wait for it to finish (or stop it), then run this build again") from None
        removed = [p for p in target.parent.glob(f".{target.name}.staging-*") if p.is_dir()]
        for path in removed:
            shutil.rmtree(path, ignore_errors=True)
        removed += remove_stale_temps(target)
        if removed:
            log.info("removed what an interrupted build left: %s", ", ".join(p.name for p in removed))
        yield removed


def remove_stale_failure(folder: Path) -> None:
    for name in (FAILED_JSON, FAILED_TXT):
        (folder / name).unlink(missing_ok=True)


def resolve_int8_model(cfg: AppConfig, form: str | None = None) -> Path:
    """The INT8 Q/DQ model `edge-sdk build` made for this config, checked to be current.

    form: "ort" (the CPU-accelerated form), "trt" (the TensorRT form) or None: TensorRT engines get the
    TensorRT form, ONNX Runtime gets `build.cpu_form`. Raises BuildError when there is no build, when the FP32
    model, the settings or the calibration frames changed since it was made, or when the CPU form was built for
    integer instructions this CPU lacks. With form None, the FP32 model is returned (and a warning logged) where
    the build measured the CPU form no faster than `build.cpu_min_speedup` times FP32 (see report.txt).
    """
    from edge_sdk.calibration.dataset import calibration_fingerprint, frames_folder
    from edge_sdk.engines.model_info import file_sha256

    folder = build_dir(cfg)
    manifest = read_manifest(folder)
    if manifest is None:
        raise BuildError("there is no INT8 build for this config (model.precision is int8)", where=str(folder),
                         fix=BUILD_HINT)
    explicit = form is not None
    if form is None:
        form = "trt" if cfg.engine.type == "tensorrt" else cfg.build.cpu_form
    stale = []
    fp32 = cfg.resolve(cfg.model.path)
    if fp32.is_file() and file_sha256(fp32) != manifest.get("model", {}).get("sha256"):
        stale.append("the FP32 model changed")
    if manifest.get("settings") != json.loads(json.dumps(settings_of(cfg))):
        stale.append("the build/calibration settings changed")
    frames = frames_folder(cfg)
    recorded = manifest.get("calibration", {}).get("fingerprint")
    if frames.is_dir() and recorded and calibration_fingerprint(cfg) != recorded:
        stale.append(f"the calibration frames in {frames} changed")
    stale += verify_files(folder, manifest)
    if stale:
        raise BuildError(f"the INT8 build is stale: {'; '.join(stale)}", where=str(folder), fix=BUILD_HINT)
    if form == "ort":
        cpu_form = _cpu_form_here(manifest, folder, fp32, explicit)
        if cpu_form is not None:
            return cpu_form
    if form == "trt" and not explicit:
        fp16 = _fp16_where_it_ships(cfg, manifest, folder)
        if fp16 is not None:
            return fp16
    role = "trt_qdq" if form == "trt" else "ort_qdq"
    entry = manifest.get("files", {}).get(role)
    if entry is None:
        raise BuildError(f"the INT8 build has no {form} model", where=str(folder), fix=BUILD_HINT)
    return folder / str(entry["name"])


def _fp16_where_it_ships(cfg: AppConfig, manifest: dict[str, Any], folder: Path) -> Path | None:
    """The FP16 form of the model where `edge-sdk build` measured the INT8 TensorRT engine no faster than
    `build.trt_min_speedup` times FP16 on this device (or its gate did not pass): what the engine then builds from."""
    from edge_sdk.quant.ships import TARGET_TRT, shipped

    decision = shipped(manifest, TARGET_TRT)
    if decision is None or decision.get("chosen") != "fp16":
        return None
    from edge_sdk.engines.trt.fp16 import fp16_model
    from edge_sdk.model.resolve import model_cache_dir, resolve_model

    log.warning("model.precision int8: running the FP16 engine on this device: %s (see %s)", decision.get("reason"),
                folder / REPORT_TXT)
    cache = model_cache_dir(cfg)
    resolved = resolve_model(cfg.resolve(cfg.model.path), cfg.model, base_dir=cfg.base_dir, cache_dir=cache)
    return fp16_model(resolved.path, cache)


def _cpu_form_here(manifest: dict[str, Any], folder: Path, fp32: Path, explicit: bool) -> Path | None:
    """Refuse a CPU form this CPU would compute wrong; the FP32 model where the build chose FP32 for this CPU."""
    from edge_sdk.quant.cpu_isa import detect, unsafe_here
    from edge_sdk.quant.ships import TARGET_CPU, shipped

    built = manifest.get("cpu") or {}
    here = detect()
    problem = unsafe_here(built, here) if built else None
    if problem:
        raise BuildError(problem, where=str(folder), fix=f"{BUILD_HINT} on this machine: it rebuilds for this CPU")
    if built and built.get("isa") != here.dot:
        log.warning("the INT8 CPU form was built and timed on %s (%s); this CPU is %s (%s): run `edge-sdk build` here "
                    "to measure it on this CPU", built.get("model"), built.get("isa"), here.model, here.dot)
    decision = shipped(manifest, TARGET_CPU)
    if explicit or decision is None or decision.get("chosen") == "int8":
        return None
    log.warning("model.precision int8: running the FP32 model on this CPU: %s (see %s)", decision.get("reason"),
                folder / REPORT_TXT)
    return fp32
