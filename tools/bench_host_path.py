"""What the GPU path costs the CPU per frame, stage by stage, with the GPU's own work taken out.

    python tools/bench_host_path.py [--frames 600] [--model M] [--video V] [--out host_path.json]

On a GPU machine the pipeline can only reach the engine's throughput if every host thread keeps up: the capture
thread (H.264 decoding, colour conversion to BGR, the frame's copies), the frame reader, the runner's thread
(packing frames into the slot's page-locked buffer, its bookkeeping, copying outputs out) and the decode-and-publish
thread (detections from the outputs, the message). Each is timed here in isolation (CPU microseconds of the thread
doing it, and wall time), then all of them together: the real `Pipeline` on the real file source with the CUDA
runner driven through `tools/host_path/standin.py` (a backend whose device work takes no time, outputs of a real
inference in its buffers). Its frames per second is the host's ceiling: what the pipeline would reach on an
infinitely fast GPU. It is not CUDA and proves nothing about the GPU; the driver's and the engine's enqueue costs
are in `edge-sdk bench`'s per-thread CPU table on the GPU machine (tools/gpu/run_all.sh, step bench).

Prints a table and writes JSON naming the CPU and the load average.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from edge_sdk.atomic import write_text_atomic  # noqa: E402
from edge_sdk.bench.cpu import CpuSampler  # noqa: E402
from edge_sdk.bench.machine import machine_record  # noqa: E402
from edge_sdk.bench.table import format_table  # noqa: E402
from edge_sdk.frame import CaptureStatus, Frame, FrameResult  # noqa: E402

log = logging.getLogger("bench_host_path")
Row = dict[str, Any]


def thread_cpu_s(native_id: int | None) -> float:
    """CPU seconds of one thread of this process (Linux /proc), 0 where unknown."""
    if native_id is None:
        return 0.0
    try:
        fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(stage: str, what: str, n: int, fn: Callable[[], None], *, process: bool = False) -> Row:
    """Run `fn` (which does `n` frames' worth of work) and time it: CPU of this thread (`process`: of the whole
    process, for work FFmpeg spreads over its own threads) and wall, in microseconds per frame."""
    clock = time.process_time if process else time.thread_time
    c0, t0 = clock(), time.perf_counter()
    fn()
    wall, cpu = time.perf_counter() - t0, clock() - c0
    return {"stage": stage, "what": what, "frames": n, "cpu_us": round(cpu / n * 1e6, 1),
            "wall_us": round(wall / n * 1e6, 1), "cpu_of": "process" if process else "thread"}


# -- capture ------------------------------------------------------------------------------------------------------
def decode_row(video: Path, frames: int, threads: int) -> Row:
    """H.264 decoding alone (`grab`: no colour conversion), looping the file; CPU of the whole process (FFmpeg's
    frame threads)."""
    got = 0

    def grab_all() -> None:
        nonlocal got
        cap = cv2.VideoCapture(str(video), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, threads])
        while got < frames:
            if not cap.grab():
                cap.release()
                cap = cv2.VideoCapture(str(video), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, threads])
                if not cap.grab():
                    break
            got += 1
        cap.release()
    row = timed("capture", f"H.264 decode (FFmpeg, {threads} thread(s))", frames, grab_all, process=True)
    return {**row, "frames": got}


def capture_rows(video: Path, frames: int, threads: int) -> list[Row]:
    rows: list[Row] = []
    for n_threads in sorted({1, threads}):
        rows.append(decode_row(video, frames, n_threads))
    cap = cv2.VideoCapture(str(video), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, threads])
    ok = cap.grab()
    image = cap.retrieve()[1] if ok else None
    if image is None:
        raise SystemExit(f"{video}: no frame")
    buf = np.empty_like(image)
    reps = max(50, frames // 2)
    held: list[np.ndarray] = []  # frames live a while (source queue, batch, in flight): a few are held

    def into_new() -> None:
        for _ in range(reps):
            held.append(cap.retrieve()[1])
            if len(held) > 8:
                held.pop(0)

    def into_reused() -> None:
        for _ in range(reps):
            cap.retrieve(buf)
    rows.append(timed("capture", "YUV -> BGR + copy into a new array (retrieve)", reps, into_new))
    rows.append(timed("capture", "YUV -> BGR + copy into a reused array (retrieve(buf))", reps, into_reused))
    cap.release()
    return rows


def source_row(video: Path, frames: int, threads: int) -> Row:
    """The real file source as a GPU pipeline opens it, read by a consumer that takes every frame at once: its
    wall time per frame is the capture thread's throughput; CPU is the capture thread's (FFmpeg's threads apart)
    and the whole process's."""
    from edge_sdk.sources.registry import open_source

    src = open_source(f"file://{video}?loop=1", "cam0", deliver_all=True, decoder_threads=threads)
    with src:
        src.read(timeout=10.0)
        tid = src.capture_thread_id
        c_thread, c_proc, t0 = thread_cpu_s(tid), time.process_time(), time.perf_counter()
        got = 0
        while got < frames and src.read(timeout=10.0)[0] is CaptureStatus.OK:
            got += 1
        wall = time.perf_counter() - t0
        c_thread, c_proc = thread_cpu_s(tid) - c_thread, time.process_time() - c_proc
    n = max(1, got)
    return {"stage": "capture", "what": f"file source end to end (decoder threads {threads}); CPU: capture thread",
            "frames": got, "cpu_us": round(c_thread / n * 1e6, 1), "wall_us": round(wall / n * 1e6, 1),
            "cpu_of": "capture thread", "process_cpu_us": round(c_proc / n * 1e6, 1)}


# -- reader, runner, decode, publish --------------------------------------------------------------------------------
class MemoryReader:
    """A reader that hands out the same decoded frame again and again (the decoder taken out)."""

    live = False
    error: str | None = None
    timeout_s = 1.0

    def __init__(self, image: np.ndarray, frames: int) -> None:
        self.image, self.left = image, frames

    def open(self) -> None:
        pass

    def grab(self) -> tuple[CaptureStatus, np.ndarray | None, float | None]:
        if self.left <= 0:
            return CaptureStatus.EOS, None, None
        self.left -= 1
        return CaptureStatus.OK, self.image, None

    def close(self) -> None:
        pass

    def describe(self) -> dict[str, Any]:
        return {"backend": "memory"}

    def probe(self) -> bool | None:
        return None


def reader_row(image: np.ndarray, frames: int) -> Row:
    """A Source (its capture thread pushing, the decoder taken out) and the pipeline's FrameReader taking frames
    one by one: CPU of both threads."""
    from edge_sdk.pipeline.reader import FrameReader
    from edge_sdk.sources.base import Source
    from edge_sdk.sources.uri import parse_uri

    src = Source(MemoryReader(image, frames), parse_uri("file:///memory"), "cam0", deliver_all=True)  # type: ignore[arg-type]
    reader = FrameReader([src], stopped=lambda: False)
    with src:
        tid = src.capture_thread_id
        c_cap, c0, t0 = thread_cpu_s(tid), time.thread_time(), time.perf_counter()
        got = 0
        while reader.take(1, 1.0) is not None:
            got += 1
        wall, c_take = time.perf_counter() - t0, time.thread_time() - c0
        c_cap = thread_cpu_s(tid) - c_cap
    n = max(1, got)
    return {"stage": "reader", "what": "Source queue hand-off + FrameReader.take (batch 1); CPU: both threads",
            "frames": got, "cpu_us": round((c_take + c_cap) / n * 1e6, 1), "wall_us": round(wall / n * 1e6, 1),
            "cpu_of": "capture + reader threads", "take_cpu_us": round(c_take / n * 1e6, 1)}


def runner_rows(info: Any, spec: Any, outputs: list[np.ndarray], frames: list[Frame], n: int) -> list[Row]:
    """The CUDA runner's host side on the no-op backend: submit (pack into the page-locked buffer + bookkeeping),
    collect (outputs copied out), the Inferred record and each frame's outputs sliced."""
    from edge_sdk.cuda.runner import CudaRunner, RunnerOptions
    from edge_sdk.pipeline.executors.base import Inferred
    from edge_sdk.pipeline.reader import Batch
    from tools.host_path.standin import HostOnlyBackend, HostOnlyEngine, page_aligned

    image = frames[0].image
    pinned = page_aligned((image.size,), np.dtype(np.uint8))
    reps = max(200, n)
    def pack_all() -> None:
        dst = pinned.reshape(image.shape)
        for _ in range(reps):
            np.copyto(dst, image)
    pack = timed("submit", "pack: one frame copied into a page-locked buffer (np.copyto)", reps, pack_all)
    backend = HostOnlyBackend(outputs)
    runner = CudaRunner(HostOnlyEngine(info), RunnerOptions(slots=2, memory="copy", preprocess="gpu", spec=spec),
                        backend=backend)
    submit_s = collect_s = slice_s = 0.0
    with runner:
        for i in range(20):  # warm-up: resize tables, buffers
            runner.submit(frames[i % len(frames)])
            runner.results()
        runner.drain()
        for i in range(reps):
            frame = frames[i % len(frames)]
            c0 = time.thread_time()
            runner.submit_batch([frame], tag=Batch(i, [frame]))
            c1 = time.thread_time()
            done = runner.results()
            c2 = time.thread_time()
            for res in done:
                inf = Inferred(res.tag, res.letterboxes, res.outputs, res.rows, None, [0.0], 0.0)  # type: ignore[arg-type]
                inf.outputs_of(0)
            c3 = time.thread_time()
            submit_s, collect_s, slice_s = submit_s + c1 - c0, collect_s + c2 - c1, slice_s + c3 - c2
        runner.drain()
    per = 1e6 / reps
    return [pack,
            {"stage": "submit", "what": "runner.submit_batch (pack + bookkeeping; device calls no-ops)", "frames": reps,
             "cpu_us": round(submit_s * per, 1), "wall_us": None, "cpu_of": "thread"},
            {"stage": "results", "what": "runner.results (outputs copied out of the page-locked buffer)",
             "frames": reps, "cpu_us": round(collect_s * per, 1), "wall_us": None, "cpu_of": "thread"},
            {"stage": "results", "what": "Inferred record + the frame's outputs sliced", "frames": reps,
             "cpu_us": round(slice_s * per, 1), "wall_us": None, "cpu_of": "thread"}]


def decode_publish_rows(bundle: Any, outputs: list[list[np.ndarray]], infos: list[Any], frames: list[Frame],
                        n: int) -> list[Row]:
    """Detections from real outputs (the model's decoder, boxes back to frame pixels), then the detection message
    as the MQTT publisher makes it (JSON; the spool and the socket apart)."""
    from edge_sdk.decode.base import BoundDecoder
    from edge_sdk.frame import ModelTag
    from edge_sdk.publish.message import ModelRef, detections_message, encode

    decoder, params = bundle.decoder, bundle.params
    reps = max(200, n)
    results: list[FrameResult] = []

    def decode_all() -> None:
        for i in range(reps):
            k = i % len(outputs)
            dets = decoder(outputs[k], params, infos[k]) if isinstance(decoder, BoundDecoder) \
                else decoder(outputs[k], params)
            dets.boxes = infos[k].to_original(dets.boxes)
            if len(results) < len(outputs):
                results.append(FrameResult(frames[k], dets, infos[k], {}, ModelTag(bundle.engine.info, bundle.metadata.label)))
    rows = [timed("decode", f"detections from outputs ({bundle.decoder_name}, NMS, to frame pixels)", reps, decode_all)]
    ref = ModelRef("demo", "0" * 64, "fp32", "onnxruntime")
    label = bundle.metadata.label

    def publish_all() -> None:
        for i in range(reps):
            encode(detections_message(results[i % len(results)], device_id="bench", seq=i + 1, model=ref, label=label))
    rows.append(timed("publish", "detection message: snapshot + JSON (mqtt on; spool and socket apart)", reps,
                      publish_all))
    rows[-1]["detections_per_frame"] = round(statistics.mean(len(r.detections) for r in results), 2)
    return rows


# -- the whole host path ----------------------------------------------------------------------------------------------
def whole_path(bundle: Any, outputs: list[np.ndarray], video: Path, frames: int, threads: int) -> Row:
    """The real Pipeline on the real file source (looping) with the CUDA executor's runner on the no-op backend:
    frames per second with an infinitely fast GPU, and CPU per frame of each thread."""
    from edge_sdk.cuda.runner import CudaRunner, RunnerOptions
    from edge_sdk.pipeline.executors.cuda import CudaExecutor
    from edge_sdk.pipeline.pipeline import Pipeline, PipelineParts
    from edge_sdk.sources.registry import open_source
    from tools.host_path.standin import HostOnlyBackend, HostOnlyEngine

    spec = bundle.spec
    options = RunnerOptions(slots=2, memory="copy", preprocess="gpu", spec=spec)
    executor = CudaExecutor(lambda: CudaRunner(HostOnlyEngine(bundle.engine.info), options,
                                               backend=HostOnlyBackend(outputs)))
    src = open_source(f"file://{video}?loop=1", "cam0", deliver_all=True, decoder_threads=threads)
    sampler = CpuSampler(interval_s=0.2)
    seen = [0]
    warm = 30

    def on_result(_r: FrameResult) -> None:
        seen[0] += 1
        if seen[0] == warm:
            sampler.start()

    with src:
        parts = PipelineParts(bundle.engine, bundle.decoder, bundle.params, bundle.metadata, [src],
                              on_result=on_result, executor=executor, preprocess=spec)
        pipe = Pipeline(parts, max_frames=frames + warm).start()
        if not pipe.wait(300):
            raise SystemExit("the host-path pipeline did not finish within 300 s")
        sampler.stop()
        pipe.join()
        if pipe.error is not None:
            raise pipe.error
    per_thread = sampler.per_frame_ms(max(1, pipe.results - warm))
    return {"stage": "pipeline", "what": f"whole host path, no GPU work (decoder threads {threads})",
            "frames": pipe.results, "cpu_us": round(per_thread.get("total machine", 0.0) * 1000, 1),
            "wall_us": round(1e6 / pipe.steady_fps(), 1) if pipe.steady_fps() else None, "cpu_of": "machine",
            "fps": round(pipe.steady_fps(), 1), "cpu_ms_per_frame_by_thread": per_thread}


# -- main ---------------------------------------------------------------------------------------------------------------
def real_outputs(bundle: Any, images: list[np.ndarray]) -> tuple[list[list[np.ndarray]], list[Any]]:
    """The model's outputs (ONNX Runtime on this CPU, batch of one) and letterboxes of the first frames."""
    from edge_sdk.preprocess.apply import preprocess_into

    spec = bundle.spec.with_changes(batch=1)
    outs, infos = [], []
    for img in images:
        x = spec.blank()
        infos.append(preprocess_into(img, x, spec, slot=0))
        outs.append([np.asarray(o) for o in bundle.engine.infer(x)])
    return outs, infos


def first_images(video: Path, n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(video))
    images: list[np.ndarray] = []
    while len(images) < n:
        ok, img = cap.read()
        if not ok:
            break
        images.append(img)
    cap.release()
    return images


def main(argv: list[str] | None = None) -> int:
    from edge_sdk.pipeline.build import GPU_DECODER_THREADS

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models/demo/yolo-demo.onnx")
    ap.add_argument("--video", type=Path, default=ROOT / "samples/demo.mp4")
    ap.add_argument("--frames", type=int, default=600, help="frames per measurement (default 600)")
    ap.add_argument("--outputs", type=int, default=20, help="frames inferred on the CPU for real outputs (default 20)")
    ap.add_argument("--decoder-threads", type=int, default=GPU_DECODER_THREADS,
                    help=f"FFmpeg threads of the file source, as a GPU pipeline opens it (default {GPU_DECODER_THREADS})")
    ap.add_argument("--out", type=Path, default=Path("host_path.json"), help="where to write the JSON")
    ap.add_argument("--skip-pipeline", action="store_true", help="the stages only, not the whole host path")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    machine = machine_record()
    from edge_sdk.config.loader import load_config_text
    from edge_sdk.pipeline.build import open_model

    with tempfile.TemporaryDirectory(prefix="host-path-") as tmp:
        cfg = load_config_text(json.dumps({
            "device": "cpu", "device_id": "bench", "state_dir": tmp, "mqtt": {"enabled": False},
            "model": {"path": str(args.model.resolve())},
            "sources": [{"name": "cam0", "uri": f"file://{args.video.resolve()}"}]}), "<bench_host_path>", ROOT)
        bundle = open_model(cfg)
        try:
            images = first_images(args.video, max(1, args.outputs))
            outputs, infos = real_outputs(bundle, images)
            now = time.monotonic()
            frames = [Frame(i, "cam0", img, now, time.time()) for i, img in enumerate(images)]
            rows = capture_rows(args.video, args.frames, args.decoder_threads)
            rows.append(source_row(args.video.resolve(), args.frames, args.decoder_threads))
            rows.append(reader_row(images[0], args.frames))
            rows += runner_rows(bundle.engine.info, bundle.spec, outputs[0], frames, args.frames)
            rows += decode_publish_rows(bundle, outputs, infos, frames, args.frames)
            if not args.skip_pipeline:
                rows.append(whole_path(bundle, outputs[0], args.video.resolve(), args.frames, args.decoder_threads))
        finally:
            bundle.engine.close()
    headers = ["stage", "what", "frames", "cpu_us", "wall_us", "cpu_of"]
    print(f"host path of the GPU pipeline, per frame, on {machine['cpu']} ({machine['isa']}, {machine['cores']} logical CPUs, "
          f"load {machine['load_average'][0]:.2f}); GPU work stood in (tools/host_path/standin.py)")
    print(format_table(headers, [[r.get(h) for h in headers] for r in rows]))
    pipe = next((r for r in rows if r["stage"] == "pipeline"), None)
    if pipe is not None:
        print(f"whole host path: {pipe['fps']} fps with no GPU work; CPU ms per frame by thread: "
              + ", ".join(f"{k} {v}" for k, v in pipe["cpu_ms_per_frame_by_thread"].items()))
    machine["load_average_end"] = list(os.getloadavg())
    report = {"machine": machine, "python": platform.python_version(), "opencv": cv2.__version__,
              "model": str(args.model), "video": str(args.video), "decoder_threads": args.decoder_threads,
              "rows": rows, "host_ceiling_fps": pipe["fps"] if pipe else None,
              "note": "GPU work stood in by a no-op backend (tools/host_path/standin.py): host costs only"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(args.out, json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
