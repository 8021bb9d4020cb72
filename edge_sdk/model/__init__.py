"""The user's model, understood without ONNX surgery: its inputs and preprocessing, its output layout and
decoder, its labels, and the checks `edge-sdk model check` runs (see the modules of this package)."""
