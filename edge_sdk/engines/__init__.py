"""Inference engines behind one interface, chosen by `engine.type` in config.

Implementations register in `edge_sdk.engines.registry` under their type key; each lives in its own
module and imports its heavy dependency (onnxruntime, tensorrt, pycuda) only when opened.
"""

from edge_sdk.engines.base import Engine, EngineInfo, TensorSpec
from edge_sdk.engines.registry import available_engines, open_engine

__all__ = ["Engine", "EngineInfo", "TensorSpec", "available_engines", "open_engine"]
