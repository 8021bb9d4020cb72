"""`edge-sdk selftest`'s GPU steps: what a first real Orin is checked for beyond building and running engines.

- versions: JetPack/L4T, TensorRT, CUDA (toolkit, runtime, driver), a container's stack against the host's
  driver (doctor's checks: a FAIL there fails the step, a WARN is said in the detail);
- GPU kernels: the preprocess kernels loaded both ways (the prebuilt fatbin, NVRTC) without nvcc, each run on a
  sample frame and compared with the kernel's reference arithmetic (exact) and the CPU letterbox;
- engine key: the FP16 engine's cache key names this device's TensorRT, CUDA, GPU and JetPack (key.py);
- int8 vs fp16: both engines timed on the device; INT8 is chosen only when at least `int8_margin` times faster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from edge_sdk.device.steps import Out, SelftestInput, SelftestState
from edge_sdk.errors import CheckFailed, DeviceError, EdgeSdkError

if TYPE_CHECKING:
    from edge_sdk.cuda.kernels import KernelMode


def step_versions(inp: SelftestInput, st: SelftestState) -> Out:
    from edge_sdk.device.checks import DoctorInput, gather_stack
    from edge_sdk.device.doctor_gpu import check_cuda, check_driver_stack, check_tensorrt, tensorrt_seen
    from edge_sdk.device.jetson import detect_board

    board = detect_board(inp.root)
    stack = gather_stack(inp.root)
    seen = tensorrt_seen(DoctorInput(root=inp.root))
    checks = [check_tensorrt(seen, board, st.profile), check_cuda(stack, board), check_driver_stack(stack, seen, board)]
    data: dict[str, object] = {"jetpack": board.jetpack, "l4t": board.l4t.text if board.l4t else None,
                               "tensorrt": seen.text, "cuda": {"toolkit": stack.toolkit_cuda,
                                                               "runtime": stack.runtime_cuda,
                                                               "driver": stack.driver_cuda},
                               "container": stack.in_container, "checks": [c.as_dict() for c in checks]}
    failed = [c for c in checks if c.status == "FAIL"]
    if failed:
        raise CheckFailed("; ".join(f"{c.name}: {c.detail}" for c in failed), data=data)
    warned = [f"{c.name}: {c.detail}" for c in checks if c.status == "WARN"]
    detail = (f"JetPack {board.jetpack or '-'} ({data['l4t'] or 'no L4T'}), TensorRT {seen.text or 'none'}, "
              f"CUDA runtime {stack.runtime_cuda or '-'} / driver {stack.driver_cuda or '-'}"
              + (" in a container" if stack.in_container else ""))
    return detail + (f"; warnings: {'; '.join(warned)}" if warned else ""), data


def step_kernels(inp: SelftestInput, st: SelftestState) -> Out:
    """Each way of loading the kernels, on a sample frame: equal to the reference arithmetic, near the CPU's."""
    from edge_sdk.cuda.check import query_gpu

    gpu = query_gpu(0)
    if not gpu.available:
        raise DeviceError(f"no GPU to load the kernels on: {gpu.detail}", where="pycuda",
                          fix="pip install '.[jetson]' (pycuda), and run as a user in group video")
    frame = st.frames[0] if st.frames else np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)
    hw = st.input_hw if st.input_hw != (0, 0) else (640, 640)
    ways: dict[str, Any] = {}
    modes: tuple[KernelMode, ...] = ("prebuilt", "nvrtc")
    for mode in modes:
        try:
            ways[mode] = _run_kernel(mode, frame, hw)
        except EdgeSdkError as exc:
            ways[mode] = {"ok": False, "error": exc.message}
    data: dict[str, object] = {"gpu": gpu.name, "compute_capability": gpu.compute_capability, "ways": ways}
    loaded = [m for m, r in ways.items() if r.get("ok")]
    if not loaded:
        raise CheckFailed("no way of loading the preprocess kernels works: "
                          + "; ".join(f"{m}: {r.get('error') or r.get('problem')}" for m, r in ways.items()), data=data)
    wrong = [m for m, r in ways.items() if r.get("loaded") and not r.get("ok")]
    if wrong:
        raise CheckFailed(f"the kernels loaded by {', '.join(wrong)} compute wrong values: "
                          + "; ".join(str(ways[m].get("problem")) for m in wrong), data=data)
    return "; ".join(f"{m}: {ways[m]['detail']}" for m in loaded), data


def _run_kernel(mode: KernelMode, frame: np.ndarray, hw: tuple[int, int]) -> dict[str, Any]:
    from edge_sdk.cuda.letterbox_plan import letterbox_reference, make_plan
    from edge_sdk.cuda.pycuda_backend import PycudaBackend
    from edge_sdk.preprocess import letterbox

    h, w = frame.shape[:2]
    expected = np.empty((1, 3, *hw), np.float32)
    letterbox_reference(frame, expected)
    with PycudaBackend(0, kernel_mode=mode) as backend, backend.activate():
        loaded = backend.load_kernels()
        stream = backend.stream()
        raw, out = backend.device_alloc(frame.nbytes), backend.device_alloc(expected.nbytes)
        host_raw = backend.pinned((frame.nbytes,), np.dtype(np.uint8), mapped=False)
        host_out = backend.pinned(expected.shape, np.dtype(np.float32), mapped=False)
        try:
            host_raw[:] = frame.reshape(-1)
            backend.htod(raw.ptr, host_raw, stream)
            backend.letterbox(stream, make_plan(h, w, hw), raw.ptr, w * 3, out.ptr, np.dtype(np.float32))
            backend.dtoh(host_out, out.ptr, stream)
            backend.synchronize_stream(stream)
            got = np.array(host_out, copy=True)
        finally:
            for mem in (raw, out):
                backend.free_device(mem)
            for host in (host_raw, host_out):
                backend.free_pinned(host)
    cpu, _ = letterbox(frame, hw)
    exact = bool(np.array_equal(got, expected))
    cpu_diff = float(np.abs(got - cpu).max())
    ok = exact and cpu_diff <= 1 / 255 + 1e-6
    result: dict[str, Any] = {"loaded": True, "ok": ok, "detail": loaded.detail, "skipped": list(loaded.skipped),
                              "equals_reference": exact, "max_diff_vs_cpu": cpu_diff}
    if not ok:
        result["problem"] = f"reference equal: {exact}, largest difference to the CPU letterbox {cpu_diff:.4g}"
    return result


def step_engine_key(inp: SelftestInput, st: SelftestState) -> Out:
    """The FP16 engine's cache key is this device's (TensorRT, CUDA, GPU, JetPack), and its digest."""
    from edge_sdk.cuda.check import query_gpu
    from edge_sdk.engines.trt import cache
    from edge_sdk.engines.trt.facts import current_target
    from edge_sdk.engines.trt.key import key_digest, key_target
    from edge_sdk.engines.trt.version import require_tensorrt

    path = st.engines.get("fp16-gpu")
    if path is None:
        raise CheckFailed("no FP16 engine was built")
    key = cache.read_manifest(cache.manifest_path_for(path))["key"]
    if not isinstance(key, dict):
        raise CheckFailed("the engine's manifest has no key")
    cc = query_gpu(0).compute_capability or (st.profile.compute_capability if st.profile else None)
    here = current_target(require_tensorrt(), inp.root, cc)
    differences = key_target(key).differences(here)
    data: dict[str, object] = {"key": key, "digest": key_digest(key), "here": here.as_dict()}
    if differences:
        raise CheckFailed("the engine's key does not match this device: " + "; ".join(differences), data=data)
    t = here
    return (f"key {key_digest(key)}: TensorRT {t.tensorrt_version}, CUDA {t.cuda_version}, compute capability "
            f"{t.compute_capability}, JetPack {t.jetpack or '-'}"), data


def step_int8_vs_fp16(inp: SelftestInput, st: SelftestState) -> Out:
    """Both engines timed on the device; INT8 is the choice only when at least `int8_margin` times faster."""
    from edge_sdk.engines.trt.measure import time_engines

    timings = time_engines({"int8": st.engines["int8-gpu"], "fp16": st.engines["fp16-gpu"]}, root=inp.root)
    int8, fp16 = timings["int8"].median_ms, timings["fp16"].median_ms
    speedup = fp16 / int8 if int8 > 0 else 0.0
    chosen = "int8" if speedup >= inp.int8_margin else "fp16"
    data: dict[str, object] = {"timings": {k: v.as_dict() for k, v in timings.items()}, "speedup": round(speedup, 3),
                               "margin": inp.int8_margin, "chosen": chosen}
    verb = "at least" if chosen == "int8" else "below"
    return (f"INT8 {int8:.3f} ms, FP16 {fp16:.3f} ms on the device: {speedup:.2f}x, {verb} the "
            f"{inp.int8_margin:.2f}x required: {chosen.upper()} would ship"), data
