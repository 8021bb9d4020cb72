"""Which ways of running a model on ONNX Runtime's CUDA provider survive, each in its own process (a crash
in ONNX Runtime aborts the process): prints one line per variant and writes ort_probe.json.

    python tools/gpu/ort_probe.py --model models/demo/yolo-demo.onnx --out $OUT

Variants: `naive` (a default CUDA session, numpy in and out: what OnnxRuntimeEngine does), and sessions on
a stream of ours with IOBinding on device buffers: `stream_sync` (ORT synchronizes at the end of each run),
`stream_nosync` (disable_synchronize_execution_providers=1), `stream_graph` (enable_cuda_graph=1, no sync).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

VARIANTS = ("naive", "stream_sync", "stream_nosync", "stream_graph")


def run_variant(variant: str, model: str) -> dict[str, object]:
    import onnxruntime as ort

    x = np.random.default_rng(0).random((1, 3, 640, 640), dtype=np.float32)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    if variant == "naive":
        sess = ort.InferenceSession(model, sess_options=opts, providers=["CUDAExecutionProvider"])
        name = sess.get_inputs()[0].name
        t0 = time.perf_counter()
        for _ in range(20):
            out = sess.run(None, {name: x})[0]
        return {"providers": sess.get_providers(), "ms": (time.perf_counter() - t0) / 20 * 1000,
                "checksum": float(np.abs(out).sum())}
    import pycuda.driver as cuda

    cuda.init()
    ctx = cuda.Device(0).retain_primary_context()
    ctx.push()
    try:
        stream = cuda.Stream(flags=1)
        cuda_opts = {"device_id": "0", "user_compute_stream": str(stream.handle)}
        if variant == "stream_graph":
            cuda_opts["enable_cuda_graph"] = "1"
        sess = ort.InferenceSession(model, sess_options=opts, providers=[("CUDAExecutionProvider", cuda_opts)])
        inp, out_spec = sess.get_inputs()[0], sess.get_outputs()[0]
        out = np.empty([int(d) for d in out_spec.shape], np.float32)
        d_in, d_out = cuda.mem_alloc(x.nbytes), cuda.mem_alloc(out.nbytes)
        cuda.memcpy_htod(d_in, x)
        binding = sess.io_binding()
        binding.bind_input(inp.name, "cuda", 0, np.float32, list(x.shape), int(d_in))
        binding.bind_output(out_spec.name, "cuda", 0, np.float32, list(out.shape), int(d_out))
        run_options = ort.RunOptions()
        if variant != "stream_sync":
            run_options.add_run_config_entry("disable_synchronize_execution_providers", "1")
        for _ in range(3):
            sess.run_with_iobinding(binding, run_options)
        stream.synchronize()
        t0 = time.perf_counter()
        for _ in range(20):
            sess.run_with_iobinding(binding, run_options)
            stream.synchronize()
        ms = (time.perf_counter() - t0) / 20 * 1000
        cuda.memcpy_dtoh(out, d_out)
        del sess, binding
        return {"providers": ["CUDAExecutionProvider"], "ms": ms, "checksum": float(np.abs(out).sum())}
    finally:
        cuda.Context.pop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True)
    p.add_argument("--out", type=Path, default=Path("out"))
    p.add_argument("--variant", choices=VARIANTS, help="(internal) run one variant in this process")
    args = p.parse_args()
    if args.variant:
        print("RESULT " + json.dumps(run_variant(args.variant, args.model)), flush=True)
        return 0
    report = {}
    for v in VARIANTS:
        proc = subprocess.run([sys.executable, __file__, "--model", args.model, "--variant", v], capture_output=True,
                              text=True, timeout=240)
        line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
        report[v] = {"rc": proc.returncode, **(json.loads(line[7:]) if line else {}),
                     "stderr_tail": proc.stderr[-600:] if proc.returncode else ""}
        print(f"ort probe {v}: rc={proc.returncode} {json.dumps({k: x for k, x in report[v].items() if k != 'stderr_tail'})}",
              flush=True)
        if proc.returncode:
            print(proc.stderr[-600:], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ort_probe.json").write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
