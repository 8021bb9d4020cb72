"""Inference engines behind one interface, chosen by `engine.type` in config.

Each backend is one module in `edge_sdk/engines/backends/` holding its config section and its `Engine`
subclass (engines/registry.py finds them); it imports its heavy dependency (onnxruntime, tensorrt, pycuda)
only when opened. `Engine.infer` checks the inputs once for all of them (engines/base.py, engines/inputs.py).
"""

from edge_sdk.engines.base import Engine, EngineInfo, TensorSpec
from edge_sdk.engines.registry import available_engines, open_engine

__all__ = ["Engine", "EngineInfo", "TensorSpec", "available_engines", "open_engine"]
