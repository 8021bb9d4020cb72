"""edge-sdk: ONNX detection models to supervised services on NVIDIA Jetson Orin (and any Linux CPU).

The pipeline stages each live in their own package:
source (`edge_sdk.sources`) -> preprocess (`edge_sdk.preprocess`) -> engine (`edge_sdk.engines`)
-> decode (`edge_sdk.decode`) -> publish (`edge_sdk.publish`); `edge_sdk.pipeline` wires them.
Heavy dependencies (onnxruntime, tensorrt, pycuda, paho-mqtt) are imported where they are used.
"""

__version__ = "0.1.0"
