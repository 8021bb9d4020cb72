"""FP16 conversion of an ONNX model's float parts: `model.precision: fp16` (`fp16_model`, for ONNX Runtime's CUDA
provider and TensorRT alike), and TensorRT 11's strongly typed networks (the builder).

TensorRT 11 has no FP16/INT8 builder flags: each tensor runs in the type the ONNX gives it. To get FP16
compute (and INT8 where Q/DQ nodes are), the float tensors and weights are converted to float16 in the
ONNX itself, keeping the graph inputs and outputs in their original types (Casts are inserted), so the
engine's I/O stays float32 like the ONNX Runtime path.

Converter: onnxconverter-common's `float16.convert_float_to_float16` (pip install onnxconverter-common), else
onnxruntime's copy of it (`onnxruntime.transformers.float16`). Q/DQ nodes keep float32 scales when the
model's opset is below 19 (float16 scales need opset 19), so they are blocked from conversion then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edge_sdk.atomic import write_bytes_atomic
from edge_sdk.errors import BuildError
from edge_sdk.lazy import missing

log = logging.getLogger(__name__)

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
FP16_MAX = 65504.0
FP16_MIN_POSITIVE = 5.96e-08  # smallest float16 subnormal: smaller magnitudes flush to it, not to zero


@dataclass(frozen=True)
class Fp16Result:
    path: Path
    converter: str  # "onnxconverter-common 1.16.0" or "onnxruntime 1.32.0"
    blocked_ops: tuple[str, ...]  # op types left in float32
    float_initializers: int  # float32 initializers before conversion


def _converter() -> tuple[Callable[..., Any], str, list[str]]:
    try:
        import onnxconverter_common
        from onnxconverter_common import float16 as occ

        return occ.convert_float_to_float16, f"onnxconverter-common {onnxconverter_common.__version__}", list(
            occ.DEFAULT_OP_BLOCK_LIST)
    except ImportError:
        pass
    try:
        import onnxruntime
        from onnxruntime.transformers import float16 as ortf

        return ortf.convert_float_to_float16, f"onnxruntime {onnxruntime.__version__}", list(ortf.DEFAULT_OP_BLOCK_LIST)
    except ImportError as exc:
        raise missing("onnxconverter_common",
                      needed_for="TensorRT 11 FP16/INT8 engines (FP16 conversion of the ONNX)") from exc


def default_opset(model: Any) -> int:
    return max((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)


def _name_unnamed_nodes(model: Any) -> None:
    used = {n.name for n in model.graph.node if n.name}
    for i, node in enumerate(model.graph.node):
        if not node.name:
            name = f"{node.op_type}_{i}"
            while name in used:
                name += "_"
            node.name = name
            used.add(name)


def convert_to_fp16(src: Path, dst: Path) -> Fp16Result:
    """Write `dst`: `src` with float tensors in float16 and I/O types unchanged. The write is atomic."""
    import onnx

    fn, name, block = _converter()
    try:
        model = onnx.load(str(src))
    except Exception as exc:  # onnx raises DecodeError, OSError, ...
        raise BuildError(f"cannot read the ONNX model for FP16 conversion: {exc}", where=str(src)) from exc
    _name_unnamed_nodes(model)  # the converters derive Cast names from node names; empty names collide
    has_qdq = any(n.op_type in QDQ_OPS for n in model.graph.node)
    extra = list(QDQ_OPS) if has_qdq and default_opset(model) < 19 else []
    floats = sum(1 for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT)
    try:
        converted = fn(model, keep_io_types=True, op_block_list=block + extra,
                       min_positive_val=FP16_MIN_POSITIVE, max_finite_val=FP16_MAX)
    except Exception as exc:  # converters raise ValueError/RuntimeError on graphs they cannot handle
        raise BuildError(f"FP16 conversion failed ({name}): {exc}", where=str(src),
                         fix="export the model in float16 yourself, or report the model to edge-sdk") from exc
    write_bytes_atomic(dst, converted.SerializeToString())
    log.info("converted %s to FP16 with %s (I/O types kept%s)", src.name, name,
             f"; {', '.join(extra)} left in float32 (opset < 19)" if extra else "")
    return Fp16Result(path=dst, converter=name, blocked_ops=tuple(extra), float_initializers=floats)


def fp16_model(src: Path, cache_dir: Path) -> Path:
    """The FP16 form of `src` in `cache_dir` (`<stem>.<sha256 prefix>.fp16.onnx`), converted once and reused:
    what `model.precision: fp16` runs. I/O types stay float32, so preprocessing and decoding are unchanged."""
    from edge_sdk.engines.model_info import file_sha256

    dst = cache_dir / f"{src.stem}.{file_sha256(src)[:16]}.fp16.onnx"
    if dst.is_file():
        return dst
    return convert_to_fp16(src, dst).path
