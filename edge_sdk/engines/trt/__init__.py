"""TensorRT engines for Jetson Orin: build from the INT8 step's Q/DQ ONNX, cache with a manifest, run.

The engine itself and its config section (`engine.type: tensorrt`) are the backend module
engines/backends/tensorrt.py (TensorRtEngine: infer / enqueue per slot); this package holds its parts.

Thin on purpose; nothing here imports TensorRT until it is used (`version.require_tensorrt`).

    version.py        which TensorRT, which API path ("8.6", "10", "11") and what differs on each
    compat.py         typed accessors for names the 10.13 stubs lack (8.6's bindings, execute_async_v2)
    builder.py        build_engine(): the entry point for `edge-sdk build`, provisioning and selftest
    network.py        network flags, ONNX parsing, parser errors with node names
    builder_config.py precision flags, workspace, optimization level, DLA, calibrator, progress per path
    dla.py            DLA core checks, configuration, layers that fall back to the GPU
    calibrator.py     the INT8 step's calibration cache and the cache-only calibrator (DLA on 8.6/10.x)
    fp16.py           FP16 conversion of the ONNX for 11.x strongly typed networks
    timing_cache.py   timing cache per TensorRT version and device
    key.py            engine_cache_key(): what an engine is bound to (TensorRT, CUDA, GPU, JetPack, model, settings)
    cache.py          engine + manifest, reuse decisions, checksum refusal (atomic writes: atomic.py)
    facts.py          board, L4T/JetPack, CUDA, compute capability of this device (the key's target)
    layers.py         which layer runs in which precision (the engine inspector), for the build report
    plan_file.py      engine files: edge-sdk's (manifest), trtexec's, Ultralytics' (JSON header); load errors
    iospec.py         I/O tensors by name (10/11) or binding (8.6)
    (CUDA: edge-sdk's one CUDA layer, edge_sdk/cuda/pycuda_backend.py and buffers.py, the runner's too)
    trtlog.py, progress.py   TensorRT logger and progress monitor bridged to Python logging
"""
