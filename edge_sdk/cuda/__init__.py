"""The CUDA-stream runner: frames flow through N slots on CUDA streams so that uploads, the GPU letterbox
and output copies hide behind inference. pycuda and the engines' GPU libraries are imported only when a
runner opens, so this package imports everywhere.

- `runner.CudaRunner`, `runner.RunnerOptions`: the runner (a context manager owning streams and buffers).
- `api.StreamEngine`: the protocol a GPU engine implements (enqueue on a given stream with given pointers);
  `ort_cuda.OrtCudaStreamEngine` implements it for ONNX Runtime's CUDA provider, TensorRT's runtime in
  edge_sdk/engines/backends/tensorrt.py for TensorRT.
- The pipeline drives the runner through its CUDA executor (edge_sdk/pipeline/executors/cuda.py: runner options
  from a config, memory mode by device profile, slots); an engine's `stream_engine()` is what the runner runs.

Its benchmark instrument, `SpinEngine` (a kernel of set duration, to measure the runner at controlled
copy/compute ratios), is in tools/gpu/spin.py.
"""
