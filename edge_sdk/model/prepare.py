"""The one place a model file is checked and fixed before anything runs it (the pipeline, `edge-sdk build`'s
preflight, the CLI's `model check`): `prepare_model`.

Each problem is either fixed here, where the fix is exact or verified by running the model, or refused in
seconds with what to do, before any calibration or camera is touched:

| found in the model | what happens |
|---|---|
| weights also listed as graph inputs (old exporters) | removed from the inputs (exact) |
| side inputs `orig_target_sizes` (RT-DETR, D-FINE), | baked in as constants for the input size, so boxes |
| `im_shape`/`scale_factor` (PaddleDetection) | come out in input pixels (exact) |
| dynamic height/width | fixed to `model.preprocess.size`, else the size the model states (Ultralytics `imgsz`, |
|  | `infer_cfg.yml`); refused when neither exists |
| dynamic batch | kept when the pipeline batches (`batch` > 1) and each image's outputs are its own (checked: |
|  | two images at once against each alone), else fixed to 1 (said when it was wanted) |
| fixed batch 1, pipeline batches | re-declared dynamic when each image's outputs are its own (checked as above); else |
|  | kept: one frame per inference (said once; re-export with a dynamic batch to batch across cameras) |
| fixed batch N > 1 | pipeline batch 1: re-declared as batch 1 when the outputs for one image are the same (checked |
|  | on a sample input); else, and when the pipeline batches, kept: each inference carries N slots, frames |
|  | in the first ones (up to the pipeline's batch), padding in the rest (logged) |
| fixed size differing from `model.preprocess.size` | re-declared at that size when the model runs there |
| opset below `min_opset` (13: per-channel Q/DQ) | converted with ONNX's version converter, kept when the outputs |
|  | are the same; else the original runs (FP32) or it is refused (`strict_opset`, INT8) |
| opset newer than this ONNX, another input dtype, not 3 channels, other inputs | refused with the fix |

A fixed model is written once to `cache_dir` (content-addressed by the source's sha256 and the request) and
reused; the source file is never changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from edge_sdk.atomic import write_bytes_atomic, write_json_atomic
from edge_sdk.engines.model_info import ModelMetadata, file_sha256, parse_metadata
from edge_sdk.errors import ModelError
from edge_sdk.model import inputs as mi
from edge_sdk.model.verify import run_graph, same_outputs, sample_input
from edge_sdk.preprocess.spec import Layout

log = logging.getLogger(__name__)

PREPARE_VERSION = 2  # bump when what prepare_model writes changes, so cached copies are made again
BATCH = "batch"  # the name of a dynamic batch dimension edge-sdk declares
DEFAULT_MIN_OPSET = 13


@dataclass(frozen=True)
class PrepareRequest:
    """What the caller wants of the prepared model."""

    size: tuple[int, int] | None = None  # model.preprocess.size: for a dynamic input, or to re-shape a fixed one
    size_hint: tuple[int, int] | None = None  # the size the model's metadata states (used for a dynamic input)
    layout: Layout | None = None  # model.preprocess.layout, when the shape is ambiguous
    batch: int = 1  # the most frames per inference the pipeline runs (engine.max_batch, else the camera count)
    min_opset: int = DEFAULT_MIN_OPSET
    strict_opset: bool = False  # refuse (instead of keeping the original) when the conversion fails


@dataclass(frozen=True)
class PreparedModel:
    source: Path
    source_sha256: str
    path: Path  # what engines open: the source itself when nothing needed fixing
    input: mi.InputFacts
    opset: int
    metadata: ModelMetadata
    fixes: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())  # what was kept as it is, and why

    @property
    def batch(self) -> int:
        """The input's fixed batch; 1 for a dynamic one (see `dynamic_batch`)."""
        return self.input.batch or 1

    @property
    def dynamic_batch(self) -> bool:
        """The model takes any number of images per inference (kept dynamic because the pipeline batches)."""
        return self.input.batch is None


def prepare_model(path: str | Path, request: PrepareRequest | None = None, *,
                  cache_dir: str | Path | None = None) -> PreparedModel:
    """Check the model at `path` and fix what can be fixed; see the module docstring. A model needing a fix is
    written to `cache_dir` (refused when none is given)."""
    request = request or PrepareRequest()
    source = Path(path)
    where = str(source)
    model = _load(source)
    sha = file_sha256(source)
    meta = parse_metadata({p.key: p.value for p in model.metadata_props})
    cached = _cached(cache_dir, source, sha, request)
    if cached is not None:
        return PreparedModel(source, sha, cached[0], cached[1], cached[2], meta, cached[3], cached[4])
    fixes: list[str] = []
    notes: list[str] = []
    opset = _check_opset(model, where)
    removed = mi.drop_initializer_inputs(model.graph)
    if removed:
        fixes.append(f"removed {removed} weight(s) listed as graph inputs")
        if model.ir_version < 4:
            model.ir_version = 4  # IR 4 lets initializers be absent from the inputs
    image, side = mi.image_and_side_inputs(model.graph, where)
    facts = mi.read_facts(image, request.layout, where)
    size = _wanted_size(facts, request, where)
    if side:
        fixes.append("side inputs filled in: " + "; ".join(mi.bake_side_inputs(model.graph, side, size)))
    model = _batch(model, facts, size, request, fixes, notes, where)
    facts = mi.read_facts(_image_input(model), request.layout, where)
    if facts.size != size:
        model = _resize(model, facts, size, where)
        fixes.append(f"input size {list(facts.size or ())} re-declared as {list(size)} (the model runs there)")
    if opset < request.min_opset:
        model, message, converted = _convert_opset(model, opset, request, where)
        (fixes if converted else notes).append(message)
        opset = request.min_opset if converted else opset
    facts = mi.read_facts(_image_input(model), request.layout, where)
    if not fixes:
        if request.batch > 1:  # the batch checks ran the model: remember the verdict (no copy of the model)
            _store(None, cache_dir, source, sha, request, facts, opset, fixes, notes)
        return PreparedModel(source, sha, source, facts, opset, meta, (), tuple(notes))
    out = _store(model, cache_dir, source, sha, request, facts, opset, fixes, notes)
    for fix in fixes:
        log.info("model %s: %s", source.name, fix)
    return PreparedModel(source, sha, out, facts, opset, meta, tuple(fixes), tuple(notes))


def _load(source: Path) -> Any:
    import onnx

    if not source.is_file():
        raise ModelError("model file not found", where=str(source),
                         fix="set model.path in the config to an existing ONNX file (relative to the config file)")
    try:
        return onnx.load(str(source))
    except Exception as exc:  # DecodeError, OSError, missing external data ...
        raise ModelError(f"cannot read ONNX model: {str(exc)[:300]}", where=str(source),
                         fix="re-export the model or check that the file (and any external weights file beside "
                             "it) was copied completely") from exc


def _check_opset(model: Any, where: str) -> int:
    import onnx

    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    newest = onnx.defs.onnx_opset_version()
    if opset > newest:
        raise ModelError(f"the model uses opset {opset}; the installed onnx {onnx.__version__} knows up to {newest}",
                         where=where, fix=f"re-export with opset {newest} or lower, or upgrade onnx and onnxruntime")
    if opset < 7:
        raise ModelError(f"the model uses opset {opset}; ONNX Runtime runs opset 7 and newer", where=where,
                         fix="re-export the model with a recent exporter (opset 13 or newer)")
    return opset


def _image_input(model: Any) -> Any:
    return next(i for i in model.graph.input if len(mi.dims_of(i)) == 4)


def _dims(facts: mi.InputFacts, batch: int, size: tuple[int, int]) -> list[int]:
    return [batch, 3, *size] if facts.layout == "nchw" else [batch, *size, 3]


def _batch(model: Any, facts: mi.InputFacts, size: tuple[int, int], request: PrepareRequest, fixes: list[str],
           notes: list[str], where: str) -> Any:
    """Settle the input's batch dimension (and a dynamic size) as the module docstring's table says."""
    wanted = request.batch
    if facts.batch is None:  # dynamic batch
        if wanted > 1:
            trial = _declared(model, facts, None, size)
            differs = _per_image(trial, facts, size)
            if not differs:
                if facts.size is None:
                    dims = [BATCH, 3, *size] if facts.layout == "nchw" else [BATCH, *size, 3]
                    fixes.append(f"dynamic input {list(facts.declared)} fixed to {dims} (batches of up to {wanted} "
                                 "frames)")
                return trial
            notes.append(f"the model's dynamic batch is fixed to 1 ({differs}): one frame per inference")
        model = _declared(model, facts, 1, size)
        fixes.append(f"dynamic input {list(facts.declared)} fixed to {_dims(facts, 1, size)}")
        return model
    if facts.size is None:
        model = _declared(model, facts, facts.batch, size)
        fixes.append(f"dynamic input {list(facts.declared)} fixed to {_dims(facts, facts.batch, size)}")
    if facts.batch == wanted:
        return model
    if facts.batch == 1:  # the pipeline batches; a fixed batch of 1 may only be declared so
        trial = _declared(model, facts, None, size)
        differs = _per_image(trial, facts, size)
        if not differs:
            fixes.append(f"batch 1 re-declared dynamic (each image's outputs its own, checked): batches of up to "
                         f"{wanted} frames")
            return trial
        notes.append(f"the model's fixed batch of 1 is kept ({differs}): one frame per inference, not batches of "
                     f"{wanted} across cameras (re-export with a dynamic batch, e.g. dynamic=True, to batch)")
        return model
    if wanted == 1:
        model, note = _rebatch(model, facts, 1, where)
        (fixes if not note else notes).append(note or f"batch {facts.batch} re-declared as 1 "
                                                      "(the same outputs for one image, checked)")
        return model
    notes.append(f"the model's fixed batch of {facts.batch} is kept: each inference computes {facts.batch} images, "
                 f"up to {min(wanted, facts.batch)} of them frames (re-export with a dynamic batch to choose)")
    return model


def _declared(model: Any, facts: mi.InputFacts, batch: int | None, size: tuple[int, int]) -> Any:
    """A copy of the model with the image input declared [batch, 3, H, W] (NHWC alike); batch None: dynamic."""
    trial = _copy(model)
    mi.set_input_dims(_image_input(trial), facts, batch, size)
    mi.forget_shapes(trial)
    return trial


def _per_image(model: Any, facts: mi.InputFacts, size: tuple[int, int]) -> str:
    """'' when the model (dynamic batch) computes two different images at once as it computes each alone, with a
    leading batch axis on every output; else what differs."""
    x = sample_input(tuple(_dims(facts, 2, size)), facts.dtype)
    try:
        both = run_graph(model, x)
        alone = [run_graph(model, x[i:i + 1]) for i in range(2)]
    except Exception as exc:  # ONNX Runtime refuses the graph at batch 2 (a batch of 1 baked into a Reshape)
        return f"it does not run on 2 images: {str(exc).strip().splitlines()[0][:160]}"
    if not all(o.ndim and o.shape[0] == 2 for o in both):
        return f"an output has no batch axis ({[list(o.shape) for o in both]})"
    for i in range(2):
        differs = same_outputs(alone[i], [o[i:i + 1] for o in both])
        if differs:
            return f"image {i} of 2 differs from the same image alone: {differs}"
    return ""


def _wanted_size(facts: mi.InputFacts, request: PrepareRequest, where: str) -> tuple[int, int]:
    if request.size is not None:
        return request.size
    if facts.size is not None:
        return facts.size
    if request.size_hint is not None:
        return request.size_hint
    raise ModelError(f"input {facts.describe()} has a dynamic height/width and the model does not state its size",
                     where=where, fix="set model.preprocess.size: [height, width] to the size it was trained at "
                                      "(e.g. [640, 640])")


def _rebatch(model: Any, facts: mi.InputFacts, batch: int, where: str) -> tuple[Any, str]:
    """The model declared with `batch` when it computes the same for one image; else the model kept with a
    note saying why and what it costs."""
    size = facts.size or (0, 0)
    original = _dims(facts, facts.batch or 1, size)
    trial = _copy(model)
    mi.set_input_dims(_image_input(trial), facts, batch, size)
    mi.forget_shapes(trial)
    x = sample_input(tuple(original), facts.dtype)
    try:
        full = run_graph(model, x)
        one = run_graph(trial, x[:batch])
        firsts = [o[:batch] if o.ndim and o.shape[0] == facts.batch else o for o in full]
        differs = same_outputs(firsts, one) or ("" if all(o.ndim and o.shape[0] == facts.batch for o in full)
                                                 else "an output has no batch axis")
    except Exception as exc:  # ONNX Runtime refuses the graph at the other batch
        differs = str(exc).strip().splitlines()[0][:200]
    if not differs:
        return trial, ""
    return model, (f"the model's fixed batch of {facts.batch} is kept ({differs}): each inference computes "
                   f"{facts.batch} images and uses the first (re-export with batch 1 or a dynamic batch)")


def _resize(model: Any, facts: mi.InputFacts, size: tuple[int, int], where: str) -> Any:
    trial = _copy(model)
    batch = facts.batch or 1
    mi.set_input_dims(_image_input(trial), facts, batch, size)
    mi.forget_shapes(trial)
    try:
        outs = run_graph(trial, sample_input(tuple(_dims(facts, batch, size)), facts.dtype))
    except Exception as exc:
        raise ModelError(f"the model's input is fixed at {list(facts.size or ())} and it does not run at "
                         f"{list(size)}: {str(exc).strip().splitlines()[0][:200]}", where=where,
                         fix="remove model.preprocess.size to run it at its own size, or re-export it at the size "
                             "you need") from exc
    if any(o.ndim and o.shape[0] != batch for o in outs):
        raise ModelError(f"at input size {list(size)} the outputs lose their batch axis "
                         f"({[list(o.shape) for o in outs]})", where=where,
                         fix="re-export the model at the size you need")
    return trial


def _convert_opset(model: Any, opset: int, request: PrepareRequest, where: str) -> tuple[Any, str, bool]:
    from onnx import version_converter

    facts = mi.read_facts(_image_input(model), request.layout, where)
    try:
        converted = version_converter.convert_version(model, request.min_opset)
        x = sample_input(tuple(_dims(facts, facts.batch or 1, facts.size or (0, 0))), facts.dtype)
        differs = same_outputs(run_graph(model, x), run_graph(converted, x))
    except Exception as exc:  # the converter raises plain RuntimeErrors for unsupported ops
        differs = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    if not differs:
        return converted, f"opset {opset} converted to {request.min_opset} (the same outputs, checked)", True
    message = f"opset {opset} could not be converted to {request.min_opset}: {differs}"
    if request.strict_opset:
        raise ModelError(message, where=where, fix=f"re-export the model with opset {request.min_opset} or newer")
    return model, message + "; the model runs at its own opset", False


def _copy(model: Any) -> Any:
    import onnx

    clone = onnx.ModelProto()
    clone.CopyFrom(model)
    return clone


def _key(sha: str, request: PrepareRequest) -> str:
    text = json.dumps({"sha": sha, "request": asdict(request), "v": PREPARE_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cache_paths(cache_dir: str | Path | None, source: Path, sha: str, request: PrepareRequest
                 ) -> tuple[Path, Path] | None:
    if cache_dir is None:
        return None
    stem = f"{source.stem}.{_key(sha, request)}"
    return Path(cache_dir) / f"{stem}.onnx", Path(cache_dir) / f"{stem}.json"


def _cached(cache_dir: str | Path | None, source: Path, sha: str, request: PrepareRequest
            ) -> tuple[Path, mi.InputFacts, int, tuple[str, ...], tuple[str, ...]] | None:
    paths = _cache_paths(cache_dir, source, sha, request)
    if paths is None or not paths[1].is_file():
        return None
    try:
        info = json.loads(paths[1].read_text(encoding="utf-8"))
        path = source if info.get("unchanged") else paths[0]  # a verdict only: the source runs as it is
        if not path.is_file():
            return None
        facts = mi.InputFacts(**{**info["input"], "declared": tuple(info["input"]["declared"])})
        return path, facts, int(info["opset"]), tuple(info["fixes"]), tuple(info["notes"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # made again below


def _store(model: Any, cache_dir: str | Path | None, source: Path, sha: str, request: PrepareRequest,
           facts: mi.InputFacts, opset: int, fixes: list[str], notes: list[str]) -> Path:
    """The fixed model and what was found, in the cache; `model` None: only the verdict (the source runs as it is,
    and checks that ran it are not run again), where there is a cache folder."""
    paths = _cache_paths(cache_dir, source, sha, request)
    if model is None:
        if paths is not None:
            paths[1].parent.mkdir(parents=True, exist_ok=True)
            write_json_atomic(paths[1], {"source": str(source), "source_sha256": sha, "input": asdict(facts),
                                         "opset": opset, "fixes": fixes, "notes": notes, "unchanged": True})
        return source
    if paths is None:
        raise ModelError("the model needs fixes (" + "; ".join(fixes) + ") and no folder was given to write the "
                         "fixed copy to", where=str(source), fix="pass a cache folder (the pipeline uses "
                                                                 "<state_dir>/models)")
    paths[0].parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(paths[0], model.SerializeToString())
    write_json_atomic(paths[1], {"source": str(source), "source_sha256": sha, "input": asdict(facts),
                                 "opset": opset, "fixes": fixes, "notes": notes})
    return paths[0]
