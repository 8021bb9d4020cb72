"""Benchmark of the CUDA-stream runner on a GPU: prints a table last and writes JSON.

    python tools/bench_runner.py --model models/demo/yolo-demo.onnx --video samples/demo.mp4 --out out/

Parts:
- preprocess: the CPU letterbox against the GPU kernel per 1080p frame, and what crosses the bus each way.
- sweep: `SpinEngine` (a real kernel of set duration) at compute/upload ratios 0.25..4: engine alone,
  the sequential loop (upload, compute, download, synchronize), and the runner with 1, 2 and 3 slots.
  bound = 1 / max(upload, compute, download), each timed alone with CUDA events (median);
  efficiency = runner throughput / bound; speedup = runner / sequential.
- demo: the model on ONNX Runtime's CUDA provider: engine alone (input resident on the GPU), the naive
  sequential loop (CPU letterbox, ORT copies in and out, synchronous), the runner with GPU preprocessing
  for 1, 2 and 3 slots on the decoded sample video, and the whole pipeline in threads (video decode ->
  runner -> YOLO decode and NMS), with its ratio to the engine-only throughput.
Throughputs are wall-clock over many frames after a warm-up, the median of `--repeats` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import statistics
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge_sdk.atomic import write_json_atomic
from edge_sdk.bench.table import format_table
from edge_sdk.cuda.api import SlotBinding
from edge_sdk.cuda.letterbox_plan import make_plan
from edge_sdk.cuda.pycuda_backend import PycudaBackend
from edge_sdk.cuda.runner import CudaRunner, RunnerOptions
from edge_sdk.decode.base import DecodeParams
from edge_sdk.decode.yolov8 import decode_yolov8
from edge_sdk.frame import Frame
from edge_sdk.preprocess import letterbox, letterbox_into
from tools.gpu.spin import SpinEngine, measure_cycles_per_ms

RATIOS = (0.25, 0.5, 1.0, 2.0, 4.0)
SWEEP_INPUT_HW = (2048, 2048)  # 50 MB float32 input, about 1 ms over PCIe 5: the "upload"
SWEEP_OUTPUTS = ((1, 84, 8400),)  # 2.8 MB: a YOLOv8 COCO output, the "download"
# Stages of ~1 ms keep the runner's own host work per frame (Python, pycuda calls, the copy of the outputs
# into arrays the caller owns: ~0.1 ms + ~0.1 ms/MB) below the GPU stages; `host_cost` measures it.


class Timer:
    """CUDA-event timing of work enqueued on one stream: median milliseconds over `repeats` after a warm-up."""

    def __init__(self, backend: PycudaBackend, stream: Any) -> None:
        self.cuda, self.stream = backend.cuda, stream
        self.start, self.stop = self.cuda.Event(), self.cuda.Event()

    def ms(self, work: Callable[[], None], repeats: int = 20) -> float:
        times = []
        for i in range(repeats + 2):
            self.start.record(self.stream)
            work()
            self.stop.record(self.stream)
            self.stop.synchronize()
            if i >= 2:
                times.append(self.stop.time_since(self.start))
        return float(statistics.median(times))


def throughput(run: Callable[[int], None], frames: int, repeats: int) -> float:
    """Frames per second of `run(frames)` (wall clock), the median of `repeats` runs after one warm-up run."""
    run(min(frames, 20))
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(frames)
        rates.append(frames / (time.perf_counter() - t0))
    return float(statistics.median(rates))


# -- preprocess -----------------------------------------------------------------------------------
def bench_preprocess(be: PycudaBackend) -> dict[str, float]:
    img = np.random.default_rng(0).integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    out = np.empty((1, 3, 640, 640), np.float32)
    cpu = []
    for _ in range(30):
        t0 = time.perf_counter()
        letterbox_into(img, out)
        cpu.append((time.perf_counter() - t0) * 1000)
    with be.activate():
        stream = be.stream()
        timer = Timer(be, stream)
        raw_h = be.pinned((img.nbytes,), np.dtype(np.uint8), mapped=False)
        ten_h = be.pinned(out.shape, np.dtype(np.float32), mapped=False)
        raw_d, ten_d = be.device_alloc(img.nbytes), be.device_alloc(out.nbytes)
        try:
            t_stage = []
            for _ in range(30):
                t0 = time.perf_counter()
                np.copyto(raw_h.reshape(img.shape), img)
                t_stage.append((time.perf_counter() - t0) * 1000)
            plan = make_plan(1080, 1920, (640, 640))
            kernel = timer.ms(lambda: be.letterbox(stream, plan, raw_d.ptr, 1920 * 3, ten_d.ptr, np.dtype(np.float32)))
            up_raw = timer.ms(lambda: be.htod(raw_d.ptr, raw_h, stream))
            up_tensor = timer.ms(lambda: be.htod(ten_d.ptr, ten_h, stream))
        finally:
            for mem in (raw_d, ten_d):
                be.free_device(mem)
            for host in (raw_h, ten_h):
                be.free_pinned(host)
    return {"cpu_letterbox_ms": float(np.median(cpu)), "gpu_kernel_ms": kernel, "host_staging_copy_ms":
            float(np.median(t_stage)), "upload_raw_1080p_ms": up_raw, "upload_float_tensor_ms": up_tensor,
            "raw_bytes": img.nbytes, "tensor_bytes": out.nbytes}


# -- sweep ----------------------------------------------------------------------------------------
def stage_times(be: PycudaBackend, engine: SpinEngine) -> dict[str, float]:
    """Upload, compute and download of one frame, each alone on one stream."""
    in_shape = tuple(int(d) for d in engine.info.inputs[0].shape)  # type: ignore[arg-type]
    out_shape = tuple(int(d) for d in engine.info.outputs[0].shape)  # type: ignore[arg-type]
    with be.activate():
        stream = be.stream()
        timer = Timer(be, stream)
        h_in, h_out = be.pinned(in_shape, np.dtype(np.float32), mapped=False), be.pinned(out_shape, np.dtype(np.float32),
                                                                                        mapped=False)
        d_in, d_out = be.device_alloc(h_in.nbytes), be.device_alloc(h_out.nbytes)
        try:
            engine.prepare_slots([SlotBinding(0, be.stream_handle(stream), d_in.ptr, (d_out.ptr,), stream)])
            h_in.fill(1.0)
            up = timer.ms(lambda: be.htod(d_in.ptr, h_in, stream))
            comp = timer.ms(lambda: engine.enqueue(0, be.stream_handle(stream), d_in.ptr, (d_out.ptr,)))
            down = timer.ms(lambda: be.dtoh(h_out, d_out.ptr, stream))

            def engine_only(n: int) -> None:
                for _ in range(n):
                    engine.enqueue(0, be.stream_handle(stream), d_in.ptr, (d_out.ptr,))
                stream.synchronize()

            def sequential(n: int) -> None:
                for _ in range(n):
                    be.htod(d_in.ptr, h_in, stream)
                    engine.enqueue(0, be.stream_handle(stream), d_in.ptr, (d_out.ptr,))
                    be.dtoh(h_out, d_out.ptr, stream)
                    stream.synchronize()
                    np.array(h_out, copy=True)  # the same host work as the runner: outputs the caller owns

            n = 200
            fps_engine = throughput(engine_only, n, 3)
            fps_seq = throughput(sequential, n, 3)
        finally:
            engine.release_slots()
            for mem in (d_in, d_out):
                be.free_device(mem)
            for host in (h_in, h_out):
                be.free_pinned(host)
    return {"upload_ms": up, "compute_ms": comp, "download_ms": down, "engine_only_fps": fps_engine,
            "sequential_fps": fps_seq}


def runner_fps(be: PycudaBackend, engine: Any, slots: int, frames: int, repeats: int) -> float:
    with CudaRunner(engine, RunnerOptions(slots=slots, preprocess="cpu"), backend=be) as runner:
        def run(n: int) -> None:
            for _ in range(n):
                runner.submit_tensor(runner.next_input())  # the source wrote into the page-locked buffer
                runner.results()
            runner.drain()

        return throughput(run, frames, repeats)


def bench_sweep(be: PycudaBackend, repeats: int) -> dict[str, Any]:
    cycles_per_ms = measure_cycles_per_ms(be)
    probe = SpinEngine(be, cycles=0, input_hw=SWEEP_INPUT_HW, output_shapes=SWEEP_OUTPUTS)
    upload_ms = stage_times(be, probe)["upload_ms"]
    rows = []
    for ratio in RATIOS:
        engine = SpinEngine(be, cycles=int(ratio * upload_ms * cycles_per_ms), input_hw=SWEEP_INPUT_HW,
                            output_shapes=SWEEP_OUTPUTS)
        row: dict[str, Any] = {"ratio_compute_to_upload": ratio, **stage_times(be, engine)}
        bound = 1000.0 / max(row["upload_ms"], row["compute_ms"], row["download_ms"])
        row["bound_fps"] = bound
        for slots in (1, 2, 3):
            fps = runner_fps(be, engine, slots, 200, repeats)
            row[f"runner{slots}_fps"] = fps
            row[f"runner{slots}_efficiency"] = fps / bound
            row[f"runner{slots}_speedup"] = fps / row["sequential_fps"]
        rows.append(row)
        print(f"sweep ratio {ratio}: {json.dumps({k: round(v, 3) for k, v in row.items()})}", flush=True)
    return {"cycles_per_ms": cycles_per_ms, "input_bytes": 3 * SWEEP_INPUT_HW[0] * SWEEP_INPUT_HW[1] * 4,
            "output_bytes": int(np.prod(SWEEP_OUTPUTS[0])) * 4, "rows": rows, "host_cost": host_cost(be, repeats)}


def host_cost(be: PycudaBackend, repeats: int) -> dict[str, float]:
    """The runner's host time per frame when the GPU does (almost) nothing: tiny tensors, an empty kernel."""
    out: dict[str, float] = {}
    for label, shapes in (("tiny_output", ((1, 64),)), ("yolov8_output_2.8MB", SWEEP_OUTPUTS)):
        engine = SpinEngine(be, cycles=0, input_hw=(32, 32), output_shapes=shapes)
        fps = runner_fps(be, engine, 2, 2000, repeats)
        out[f"{label}_us_per_frame"] = 1e6 / fps
    return out


# -- demo model -----------------------------------------------------------------------------------
def read_video(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    if not frames:
        raise SystemExit(f"no frames in {path}")
    return frames


def as_frames(images: list[np.ndarray], n: int) -> Iterator[Frame]:
    for i in range(n):
        yield Frame(i, "bench", images[i % len(images)], time.monotonic(), time.time())


def bench_demo(be: PycudaBackend, model: Path, video: Path, repeats: int) -> dict[str, Any]:
    from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine

    images = read_video(video)
    n = max(300, len(images))
    graph = os.environ.get("ORT_CUDA_GRAPH", "1") == "1"
    engine = OnnxRuntimeEngine.cuda_stream_engine(str(model), cuda_graph=graph)
    in_hw = engine.info.input_hw
    out: dict[str, Any] = {"model": str(model), "video": str(video), "video_frames": len(images),
                           "frame_hw": list(images[0].shape[:2]), "frames_per_run": n, "ort_cuda_graph": graph}
    tensor, _ = letterbox(images[0], in_hw)
    out_shape = tuple(int(d) for d in engine.info.outputs[0].shape)  # type: ignore[arg-type]
    with be.activate():
        stream = be.stream()
        timer = Timer(be, stream)
        h_in, h_out = be.pinned(tensor.shape, np.dtype(np.float32), mapped=False), be.pinned(
            out_shape, np.dtype(np.float32), mapped=False)
        d_in, d_out = be.device_alloc(h_in.nbytes), be.device_alloc(h_out.nbytes)
        h_raw = be.pinned((images[0].nbytes,), np.dtype(np.uint8), mapped=False)
        d_raw = be.device_alloc(images[0].nbytes)
        try:
            engine.prepare_slots([SlotBinding(0, be.stream_handle(stream), d_in.ptr, (d_out.ptr,), stream)])
            h_in[:] = tensor
            be.htod(d_in.ptr, h_in, stream)

            def enqueue() -> None:
                engine.enqueue(0, be.stream_handle(stream), d_in.ptr, (d_out.ptr,))

            def engine_only(k: int) -> None:
                for _ in range(k):
                    enqueue()
                    stream.synchronize()

            def engine_back_to_back(k: int) -> None:
                for _ in range(k):
                    enqueue()
                stream.synchronize()

            h, w = images[0].shape[:2]
            plan = make_plan(h, w, in_hw)
            out["stage_ms"] = {
                "upload_raw": timer.ms(lambda: be.htod(d_raw.ptr, h_raw, stream)),
                "preprocess_kernel": timer.ms(lambda: be.letterbox(stream, plan, d_raw.ptr, w * 3, d_in.ptr,
                                                                   np.dtype(np.float32))),
                "inference": timer.ms(enqueue, repeats=50),
                "download": timer.ms(lambda: be.dtoh(h_out, d_out.ptr, stream)),
            }
            def sequential_cpu_pre(k: int) -> None:
                for i in range(k):
                    letterbox_into(images[i % len(images)], h_in)
                    be.htod(d_in.ptr, h_in, stream)
                    enqueue()
                    be.dtoh(h_out, d_out.ptr, stream)
                    stream.synchronize()
                    np.array(h_out, copy=True)

            out["sequential_cpu_preprocess_fps"] = throughput(sequential_cpu_pre, n, repeats)
            be.htod(d_in.ptr, h_in, stream)
            out["engine_only_fps"] = throughput(engine_only, n, repeats)
            out["engine_back_to_back_fps"] = throughput(engine_back_to_back, n, repeats)
        finally:
            engine.release_slots()
            for mem in (d_in, d_out, d_raw):
                be.free_device(mem)
            for host in (h_in, h_out, h_raw):
                be.free_pinned(host)
    st = out["stage_ms"]
    out["bound_fps"] = 1000.0 / max(st["upload_raw"], st["inference"], st["download"])

    if os.environ.get("ORT_NAIVE_OK", "1") == "1":  # tools/gpu/ort_probe.py found plain CUDA sessions working
        with OnnxRuntimeEngine(model, providers=["CUDAExecutionProvider"]) as naive:
            def sequential_naive(k: int) -> None:
                for i in range(k):
                    naive.infer(letterbox(images[i % len(images)], in_hw)[0])

            out["sequential_naive_fps"] = throughput(sequential_naive, n, repeats)

    for slots in (1, 2, 3):
        with CudaRunner(engine, RunnerOptions(slots=slots), backend=be) as runner:
            def run(k: int) -> None:
                for _ in runner.run(as_frames(images, k)):
                    pass

            out[f"runner{slots}_fps"] = throughput(run, n, repeats)

            if slots == 1:
                def sequential_gpu_pre(k: int) -> None:
                    for f in as_frames(images, k):
                        runner.submit(f)
                        runner.drain()

                out["sequential_gpu_preprocess_fps"] = throughput(sequential_gpu_pre, n, repeats)
        out[f"runner{slots}_efficiency"] = out[f"runner{slots}_fps"] / out["bound_fps"]
    with CudaRunner(engine, RunnerOptions(slots=2, preprocess="cpu"), backend=be) as runner:
        def run_cpu_pre(k: int) -> None:
            for _ in runner.run(as_frames(images, k)):
                pass

        out["runner2_cpu_preprocess_fps"] = throughput(run_cpu_pre, n, repeats)

    for source in ("memory", "video"):
        rates = [pipeline_fps(be, engine, images, video, n, source) for _ in range(repeats)]
        out[f"pipeline_{source}_fps"] = float(statistics.median(rates))
        out[f"pipeline_{source}_vs_engine_only"] = out[f"pipeline_{source}_fps"] / out["engine_only_fps"]
    return out


def pipeline_fps(be: PycudaBackend, engine: Any, images: list[np.ndarray], video: Path, n: int, source: str) -> float:
    """Threads as in the pipeline: frames (decoded from the video, or from memory) -> runner -> YOLO decode."""
    frames_q: queue.Queue[Frame | None] = queue.Queue(maxsize=8)
    results_q: queue.Queue[Any] = queue.Queue(maxsize=8)
    params = DecodeParams()
    detections = [0]

    def produce() -> None:
        if source == "memory":
            for f in as_frames(images, n):
                frames_q.put(f)
        else:
            i = 0
            while i < n:
                cap = cv2.VideoCapture(str(video))
                while i < n:
                    ok, img = cap.read()
                    if not ok:
                        break
                    frames_q.put(Frame(i, "bench", img, time.monotonic(), time.time()))
                    i += 1
                cap.release()
        frames_q.put(None)

    def consume() -> None:
        while (r := results_q.get()) is not None:
            dets = decode_yolov8(r.outputs, params)
            dets.boxes = r.letterbox.to_original(dets.boxes)
            detections[0] += len(dets)

    def frames() -> Iterator[Frame | None]:
        while True:
            try:
                f = frames_q.get(timeout=0.002)
            except queue.Empty:
                yield None
                continue
            if f is None:
                return
            yield f

    with CudaRunner(engine, RunnerOptions(slots=2), backend=be) as runner:
        for _ in runner.run(as_frames(images, 20)):  # warm-up
            pass
        threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for r in runner.run(frames()):
            results_q.put(r)
        results_q.put(None)
        for t in threads:
            t.join()
        return n / (time.perf_counter() - t0)


# -- report ---------------------------------------------------------------------------------------
def environment(be: PycudaBackend) -> dict[str, Any]:
    import onnxruntime as ort
    import pycuda

    cuda = be.cuda
    return {"gpu": be.device_name, "driver_cuda": cuda.get_driver_version(), "pycuda": pycuda.VERSION_TEXT,
            "onnxruntime": ort.__version__, "providers": ort.get_available_providers(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "opencv": cv2.__version__}


def table(report: dict[str, Any]) -> str:
    lines = [f"FAILED parts: {', '.join(report['errors'])}"] if report["errors"] else []
    pre = report.get("preprocess")
    if pre:
        lines.append(format_table(["preprocess per 1080p frame", "ms"], [
            ["CPU letterbox (edge_sdk.preprocess)", pre["cpu_letterbox_ms"]],
            ["GPU letterbox kernel", pre["gpu_kernel_ms"]],
            ["host copy into page-locked buffer", pre["host_staging_copy_ms"]],
            ["upload raw uint8 frame (6.2 MB)", pre["upload_raw_1080p_ms"]],
            ["upload float tensor instead (4.9 MB)", pre["upload_float_tensor_ms"]]]))
    rows = []
    for r in report.get("sweep", {}).get("rows", []):
        rows.append([r["ratio_compute_to_upload"], r["upload_ms"], r["compute_ms"], r["download_ms"], r["bound_fps"],
                     r["engine_only_fps"], r["sequential_fps"], r["runner1_fps"], r["runner2_fps"], r["runner3_fps"],
                     r["runner2_efficiency"], r["runner3_efficiency"], r["runner2_speedup"]])
    lines.append(format_table(["compute/upload", "up ms", "comp ms", "down ms", "bound fps", "engine fps", "seq fps",
                               "1 slot", "2 slots", "3 slots", "eff 2", "eff 3", "2 vs seq"], rows))
    d = report.get("demo")
    if d:
        st = d["stage_ms"]
        lines.append(f"demo model {Path(d['model']).name} on ORT CUDA, {d['frame_hw'][1]}x{d['frame_hw'][0]} frames: "
                     f"upload {st['upload_raw']:.3f} ms, preprocess {st['preprocess_kernel']:.3f} ms, "
                     f"inference {st['inference']:.3f} ms, download {st['download']:.3f} ms")
        lines.append(format_table(["demo model", "fps", "vs engine-only", "vs bound"], [
            [name, d[key], d[key] / d["engine_only_fps"], d[key] / d["bound_fps"]] if key in d else [name, None, None, None]
            for name, key in [
                ("engine only (resident input, sync each)", "engine_only_fps"),
                ("engine back-to-back (no sync)", "engine_back_to_back_fps"),
                ("sequential: CPU letterbox + ORT infer()", "sequential_naive_fps"),
                ("sequential: CPU letterbox, pinned, sync each", "sequential_cpu_preprocess_fps"),
                ("sequential: GPU preprocess, sync each", "sequential_gpu_preprocess_fps"),
                ("runner 1 slot", "runner1_fps"), ("runner 2 slots", "runner2_fps"), ("runner 3 slots", "runner3_fps"),
                ("runner 2 slots, CPU preprocess", "runner2_cpu_preprocess_fps"),
                ("pipeline from memory (threads + decode)", "pipeline_memory_fps"),
                ("pipeline from video file (threads + decode)", "pipeline_video_fps")]]))
    hc = report.get("sweep", {}).get("host_cost")
    if hc:
        lines.append("runner host time per frame (GPU idle): " + ", ".join(f"{k} {v:.0f}" for k, v in hc.items()))
    return "\n\n".join(lines)


def save(report: dict[str, Any], out: Path) -> None:
    write_json_atomic(out / "runner_bench.json", report)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=None, help="ONNX model for the demo part (skipped without one)")
    p.add_argument("--video", type=Path, default=None, help="video for the demo part")
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "out")), help="where runner_bench.json goes")
    p.add_argument("--repeats", type=int, default=3, help="runs per throughput figure (median)")
    args = p.parse_args(argv)
    report: dict[str, Any] = {"errors": {}}
    with PycudaBackend(0) as be:
        parts: list[tuple[str, Callable[[], Any]]] = [
            ("environment", lambda: environment(be)), ("preprocess", lambda: bench_preprocess(be)),
            ("sweep", lambda: bench_sweep(be, args.repeats))]
        if args.model is not None and args.video is not None:
            parts.append(("demo", lambda: bench_demo(be, args.model, args.video, args.repeats)))
        for name, part in parts:
            try:  # one failing part still leaves the others' figures
                report[name] = part()
            except Exception:
                report["errors"][name] = traceback.format_exc()
                print(f"bench part {name} failed:\n{report['errors'][name]}", file=sys.stderr, flush=True)
            save(report, args.out)  # after every part: a crash in a library later keeps what was measured
    print(f"\nwrote {args.out / 'runner_bench.json'}\n")
    print(table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
