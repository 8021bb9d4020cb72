"""The steps of `edge-sdk selftest` (selftest.py runs them in order). Each returns (detail, data) or raises
CheckFailed (the check ran and failed) or another EdgeSdkError; data is what a person debugging a first Orin
needs: versions, paths, shapes, figures. `SelftestInput` is what the command gives, `SelftestState` what earlier
steps hand to later ones."""

from __future__ import annotations

import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_sdk.device.profiles import DeviceProfile
from edge_sdk.engines.model_info import ModelMetadata
from edge_sdk.errors import CheckFailed, ModelError

Out = tuple[str, dict[str, object]]


@dataclass
class SelftestInput:
    model: Path
    video: Path
    work_dir: Path
    frames: int = 8
    device: str = "auto"
    qdq_model: Path | None = None
    calib_cache: Path | None = None
    dla: bool = True
    root: Path = Path("/")
    int8_margin: float = 1.1  # INT8 is the choice only when this many times faster than FP16 on the device


@dataclass
class SelftestState:
    """What earlier steps produced for later ones."""

    profile: DeviceProfile | None = None
    metadata: ModelMetadata | None = None
    input_hw: tuple[int, int] = (0, 0)
    frames: list[np.ndarray] = field(default_factory=list)  # the sample frames as read (BGR)
    batches: list[np.ndarray] = field(default_factory=list)
    reference: list[list[np.ndarray]] = field(default_factory=list)
    decoder_name: str = ""
    jetson: bool = False
    tensorrt_dla: bool = True  # the installed TensorRT can use DLA on Orin (not 10.8+ / 11.0-11.3)
    engines: dict[str, Path] = field(default_factory=dict)


def read_frames(video: Path, count: int) -> list[np.ndarray]:
    """`count` frames spread over the first 300 of a video file (BGR uint8)."""
    import cv2

    from edge_sdk.errors import SourceError

    if not video.is_file():
        raise SourceError("sample video not found", where=str(video), fix="pass --video with an existing video file")
    cap = cv2.VideoCapture(str(video))
    try:
        frames: list[np.ndarray] = []
        while len(frames) < 300:
            ok, frame = cap.read()
            if not ok:
                break
            frames.append(frame)
    finally:
        cap.release()
    if not frames:
        raise SourceError("no frame could be read", where=str(video), fix="check the file plays (ffprobe) and OpenCV's FFmpeg")
    idx = np.linspace(0, len(frames) - 1, num=min(count, len(frames))).round().astype(int)
    return [frames[i] for i in idx]


def profile_dla_cores(st: SelftestState) -> int:
    return st.profile.dla_cores if st.profile is not None else 0


def _profile(st: SelftestState) -> DeviceProfile:
    if st.profile is None:
        raise CheckFailed("no device profile (the device step failed)")
    return st.profile


def step_device(inp: SelftestInput, st: SelftestState) -> Out:
    import cv2
    import onnxruntime

    from edge_sdk import __version__
    from edge_sdk.device.jetson import detect_board
    from edge_sdk.device.profiles import resolve_profile

    board = detect_board(inp.root)
    st.jetson = board.is_jetson
    st.profile = resolve_profile(inp.device, root=inp.root, board=board)
    data: dict[str, object] = {
        "board": board.model, "l4t": board.l4t.raw if board.l4t else None, "jetpack": board.jetpack,
        "arch": board.arch, "profile": st.profile.model_dump(), "edge_sdk": __version__,
        "python": sys.version.split()[0], "platform": platform.platform(), "numpy": np.__version__,
        "onnxruntime": onnxruntime.__version__, "opencv": cv2.__version__}
    return f"{board.describe()}; profile {st.profile.name}", data


def step_model(inp: SelftestInput, st: SelftestState) -> Out:
    import onnx

    from edge_sdk.engines.model_info import file_sha256, read_metadata

    if not inp.model.is_file():
        raise ModelError("model not found", where=str(inp.model),
                         fix="pass --model PATH to an FP32 ONNX detector and --video PATH to a video; `pip install` puts "
                             "the demo model and video in <prefix>/share/edge-sdk/ (reinstall if they are missing)")
    st.metadata = read_metadata(inp.model)
    graph = onnx.load(str(inp.model), load_external_data=False).graph
    dims = [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or not all(dims[2:]):
        raise ModelError(f"input shape {dims} is not a fixed [1,3,H,W]", where=str(inp.model))
    st.input_hw = (dims[2], dims[3])
    data: dict[str, object] = {"path": str(inp.model), "sha256": file_sha256(inp.model), "input": dims,
                               "classes": st.metadata.num_classes, "nodes": len(graph.node)}
    return f"{inp.model.name}: input {dims}, {st.metadata.num_classes or '?'} classes", data


def step_frames(inp: SelftestInput, st: SelftestState) -> Out:
    from edge_sdk.preprocess.letterbox import letterbox

    frames = read_frames(inp.video, inp.frames)
    st.frames = frames
    st.batches = [letterbox(f, st.input_hw)[0] for f in frames]
    return f"{len(frames)} frames of {frames[0].shape[1]}x{frames[0].shape[0]} from {inp.video.name}", {
        "video": str(inp.video), "frames": len(frames)}


def _median_ms(run: list[float]) -> float:
    return round(statistics.median(run) * 1000, 2) if run else 0.0


def step_reference(inp: SelftestInput, st: SelftestState) -> Out:
    from edge_sdk.decode.base import DecodeParams
    from edge_sdk.decode.registry import detect_layout, get_decoder
    from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine

    times = []
    with OnnxRuntimeEngine(inp.model) as eng:
        for batch in st.batches:
            t0 = time.perf_counter()
            st.reference.append(eng.infer(batch))
            times.append(time.perf_counter() - t0)
        shapes = [list(o.shape) for o in st.reference[0]]
        num_classes = st.metadata.num_classes if st.metadata else None
        st.decoder_name = detect_layout(st.reference[0][0].shape, num_classes, input_size=st.input_hw)
    if not all(np.isfinite(o).all() for outs in st.reference for o in outs):
        raise CheckFailed("ONNX Runtime produced non-finite outputs", {"shapes": shapes})
    decoder = get_decoder(st.decoder_name)
    counts = [len(decoder(outs, DecodeParams())) for outs in st.reference]
    return (f"outputs {shapes}, decoder {st.decoder_name}, detections per frame {counts}, median {_median_ms(times)} ms",
            {"shapes": shapes, "decoder": st.decoder_name, "detections": counts, "median_ms": _median_ms(times)})


def step_tensorrt(st: SelftestState) -> Out:
    from edge_sdk.engines.trt.version import require_tensorrt

    v = require_tensorrt()
    st.tensorrt_dla = v.dla_supported
    return f"TensorRT {v.text} (API path {v.path})", {"version": v.text, "api_path": v.path,
                                                     "dla_supported": v.dla_supported}


def _engine_key(precision: str, dla_core: int | None) -> str:
    return f"{precision}-{'gpu' if dla_core is None else f'dla{dla_core}'}"


def step_build(inp: SelftestInput, st: SelftestState, precision: str, dla_core: int | None) -> Out:
    from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig
    from edge_sdk.engines.trt.builder import build_engine

    profile = _profile(st)
    model = inp.qdq_model if precision == "int8" and inp.qdq_model else inp.model
    cfg = TensorRtEngineConfig(dla_core=dla_core, workspace_mb=profile.workspace_mb)
    art = build_engine(model, inp.calib_cache if precision == "int8" else None, profile, cfg,
                       inp.work_dir / "engines", precision="int8" if precision == "int8" else "fp16", root=inp.root)
    st.engines[_engine_key(precision, dla_core)] = art.engine_path
    build = art.manifest.get("build", {})
    return art.describe(), {"engine": str(art.engine_path), "reused": art.reused, "reason": art.reason,
                            "seconds": art.build_seconds, "fallback_layers": list(art.fallback_layers),
                            "build": build, "key": art.manifest.get("key")}


def step_run(inp: SelftestInput, st: SelftestState, precision: str, dla_core: int | None) -> Out:
    from edge_sdk.decode.base import DecodeParams
    from edge_sdk.decode.registry import get_decoder
    from edge_sdk.device.compare import TOLERANCES, compare
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    path = st.engines[_engine_key(precision, dla_core)]
    got, times = [], []
    zero_copy = bool(st.profile and st.profile.mapped_memory)
    with TensorRtEngine(path, slots=1, zero_copy=zero_copy) as eng:
        for batch in st.batches:
            t0 = time.perf_counter()
            got.append(eng.infer(batch))
            times.append(time.perf_counter() - t0)
        info = {"device": eng.info.device, "outputs": [list(o.shape) for o in eng.info.outputs], **eng.info.extra}
    result = compare(st.reference, got, get_decoder(st.decoder_name), DecodeParams(), TOLERANCES[precision])
    data: dict[str, object] = {"engine": str(path), "comparison": result.as_dict(), "median_ms": _median_ms(times),
                               "info": info}
    if not result.ok:
        raise CheckFailed(f"outputs differ from ONNX Runtime beyond tolerance: {result.describe()}", data)
    return f"{result.describe()}; median {_median_ms(times)} ms", data


def step_reuse(inp: SelftestInput, st: SelftestState) -> Out:
    from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig
    from edge_sdk.engines.trt.builder import build_engine

    profile = _profile(st)
    cfg = TensorRtEngineConfig(workspace_mb=profile.workspace_mb)
    art = build_engine(inp.model, None, profile, cfg, inp.work_dir / "engines", precision="fp16", root=inp.root)
    if not art.reused:
        raise CheckFailed(f"the second build did not reuse the cached engine: {art.reason}", {"reason": art.reason})
    return art.reason, {"engine": str(art.engine_path)}


DEMO_MODEL = Path("models/demo/yolo-demo.onnx")
SAMPLE_VIDEO = Path("samples/demo.mp4")


def default_paths(cwd: Path) -> tuple[Path, Path]:
    """The demo model and sample video: from the source tree edge-sdk runs from, else where `pip install .` put
    them (<prefix>/share/edge-sdk/), else under `cwd` (where a missing file is then reported)."""
    from edge_sdk.device.profiles import installed_share_dirs, source_tree

    for base in (source_tree(), *installed_share_dirs(), cwd):
        if (base / DEMO_MODEL).is_file():
            return base / DEMO_MODEL, base / SAMPLE_VIDEO
    return cwd / DEMO_MODEL, cwd / SAMPLE_VIDEO
