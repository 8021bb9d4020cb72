"""The INT8 step: calibration statistics, explicit Q/DQ quantization (TensorRT and CPU forms), the TensorRT
calibration cache, the accuracy gate with repair, the report, and the build directory.

Heavy modules (onnxruntime.quantization) are imported only when a build runs; `resolve_int8_model` (what
`edge-sdk run` calls for model.precision int8) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from edge_sdk.quant.artifacts import build_dir, resolve_int8_model

if TYPE_CHECKING:
    from edge_sdk.config.app import AppConfig
    from edge_sdk.quant.build import BuildOutcome

__all__ = ["build_dir", "build_int8", "resolve_int8_model"]


def build_int8(cfg: AppConfig, **kwargs: Any) -> BuildOutcome:
    """See edge_sdk.quant.build.build_int8."""
    from edge_sdk.quant.build import build_int8 as _build

    return _build(cfg, **kwargs)
