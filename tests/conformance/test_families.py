"""Conformance over detector families (FP32 side of #26): each graph of tests/conformance/builders.py goes
through the real pipeline (loader, ONNX Runtime, probe, auto-detected decoder, threaded pipeline) on frames with
a bright patch; the patch must come back as one box where it is, and a black frame as nothing. The graphs see
the image only through the family's preprocessing, so a wrong spec, decoder or mapping fails the test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from edge_sdk.errors import ModelError
from edge_sdk.preprocess import PreprocessSpec
from tests.conformance import builders as b
from tests.support.run_model import config_for, run_pipeline, write_frames

SIZE = (64, 64)
CELL = np.array([[16, 16, 24, 24]], np.float32)  # the bright stride-8 cell, input pixels
BOX = np.array([[12, 12, 28, 28]], np.float32)  # what every family reports for it (16 x 16, centred)
IMAGENET = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
PICODET_CFG = """Preprocess:
- {interp: 2, keep_ratio: false, target_size: [64, 64], type: Resize}
- {is_scale: true, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], type: NormalizeImage}
- {type: Permute}
label_list: [bright, other]
"""


@dataclass(frozen=True)
class Case:
    build: Callable[[Path, PreprocessSpec], Path]
    spec: PreprocessSpec  # what the graph was built for: the pipeline must find it out
    layout: str
    model_yaml: str = ""  # lines under model:
    sidecar: str = ""  # infer_cfg.yml beside the model


ULTRA = PreprocessSpec(SIZE)
YOLOX = PreprocessSpec(SIZE, channel_order="bgr", scale=1.0, align="top-left")
PADDLE = PreprocessSpec(SIZE, resize="stretch", **IMAGENET)
LABELS = "  labels: [bright, other]\n"
CASES = {
    "yolov8": Case(b.yolov8, ULTRA, "yolov8"),
    "yolov8-dynamic": Case(lambda p, s: b.yolov8(p, s, dynamic=True), ULTRA, "yolov8"),
    "yolov8-nhwc-uint8": Case(b.yolov8, PreprocessSpec(SIZE, layout="nhwc", dtype="uint8", scale=1.0), "yolov8"),
    "yolov5-anchors": Case(b.yolov5, ULTRA, "yolov5", LABELS),
    "yolox-raw": Case(b.yolox, YOLOX, "yolox", LABELS),
    "end2end": Case(lambda p, s: b.end2end(p, s, BOX[0].tolist()), ULTRA, "end2end"),
    "rtdetr-ultralytics": Case(lambda p, s: b.end2end(p, s, BOX[0].tolist(), rtdetr=True),
                               PreprocessSpec(SIZE, resize="stretch"), "rtdetr"),  # Ultralytics stretches for RT-DETR
    "detr-official": Case(lambda p, s: b.detr_official(p, s, (BOX[0] / 64).tolist()),
                          PreprocessSpec(SIZE, resize="stretch"), "end2end-split", LABELS),
    "picodet-levels": Case(b.picodet, PADDLE, "ppyoloe", sidecar=PICODET_CFG),
    "ppyoloe-joined": Case(lambda p, s: b.picodet(p, s, joined=True), PADDLE, "ppyoloe", LABELS),
    "ppyoloe-boxes": Case(lambda p, s: b.picodet(p, s, boxes_out=True), PADDLE, "ppyoloe", LABELS),
    "mmdet-style-bgr-255": Case(b.yolov5, PreprocessSpec(SIZE, channel_order="bgr", scale=1.0,
                                                          mean=(103.53, 116.28, 123.675), std=(57.375, 57.12, 58.395)),
                                "yolov5", LABELS + "  preprocess: {channel_order: bgr, scale: 1, "
                                "mean: [103.53, 116.28, 123.675], std: [57.375, 57.12, 58.395]}\n"),
}


def frames_for(spec: PreprocessSpec, folder: Path) -> tuple[Path, np.ndarray]:
    """A 128x96 frame with a white patch exactly over the input's cell, and a black frame; the box expected."""
    place = spec.placement(128, 96)
    x1, y1, x2, y2 = (int(round(v)) for v in place.to_original(CELL)[0])
    frame = np.zeros((96, 128, 3), np.uint8)
    frame[y1:y2, x1:x2] = 255
    return write_frames(folder, [frame, np.zeros_like(frame)]), place.to_original(BOX)[0]


@pytest.mark.parametrize("name", list(CASES))
def test_family_runs_and_decodes_the_right_box(tmp_path: Path, name: str) -> None:
    case = CASES[name]
    model = case.build(tmp_path / f"{name}.onnx", case.spec)
    if case.sidecar:
        (tmp_path / "infer_cfg.yml").write_text(case.sidecar)
    frames, expected = frames_for(case.spec, tmp_path / "frames")
    bundle, results = run_pipeline(config_for(tmp_path, model, frames, case.model_yaml), tmp_path)
    assert bundle.decoder_name == case.layout
    assert bundle.preprocess == case.spec, bundle.preprocess
    assert [len(r.detections) for r in results] == [1, 0], [r.detections.boxes for r in results]
    det = results[0].detections
    np.testing.assert_allclose(det.boxes[0], expected, atol=1.0)
    assert det.class_ids.tolist() == [0] and det.scores[0] > 0.9
    assert results[0].model is not None and results[0].model.label(0) == "bright"


def test_a_layout_no_built_in_knows_is_refused_with_the_list_and_the_plugin_howto(tmp_path: Path) -> None:
    from onnx import TensorProto

    g = b.Graph(ULTRA)
    out = g.op("Reshape", [g.brightness(8), g.const(np.array([1, 4, 4, 4], np.int64))])
    model = g.save(tmp_path / "odd.onnx", [(out, "heat", TensorProto.FLOAT)])
    frames, _ = frames_for(ULTRA, tmp_path / "frames")
    with pytest.raises(ModelError, match="cannot tell how to decode") as err:
        run_pipeline(config_for(tmp_path, model, frames), tmp_path)
    assert "yolov8:" in str(err.value) and "ppyoloe:" in str(err.value) and "decode.type" in (err.value.fix or "")


def test_one_output_that_fits_two_layouts_is_refused_not_guessed(tmp_path: Path) -> None:
    """[1, 10, 6] is end2end, or RT-DETR with two classes: with two labels, the pipeline asks."""
    model = b.end2end(tmp_path / "amb.onnx", ULTRA, BOX[0].tolist(), one_to_one=False)  # names two classes
    frames, _ = frames_for(ULTRA, tmp_path / "frames")
    with pytest.raises(ModelError, match="fit several layouts") as err:
        run_pipeline(config_for(tmp_path, model, frames, "  labels: [a, b]\n"), tmp_path)
    assert "end2end" in str(err.value) and "rtdetr" in str(err.value)


def test_pixel_boxes_that_look_normalised_are_refused_not_published(tmp_path: Path) -> None:
    """An RT-DETR-style [1, K, 6] of normalised cx,cy,w,h whose metadata does not say so would decode as end2end
    boxes under one pixel wide: refused, naming both readings."""
    model = b.end2end(tmp_path / "norm.onnx", ULTRA, (BOX[0] / 64).tolist())
    frames, _ = frames_for(ULTRA, tmp_path / "frames")
    with pytest.raises(ModelError, match=r"all within 0\.\.1") as err:
        run_pipeline(config_for(tmp_path, model, frames), tmp_path)
    assert "rtdetr-topk" in (err.value.fix or "")


def test_tensorflow_style_normalised_boxes_are_refused_not_published(tmp_path: Path) -> None:
    """A TensorFlow Object Detection API export (uint8 NHWC input; detection_boxes normalised ymin,xmin,ymax,xmax,
    detection_scores, detection_classes as floats, num_detections) has the shapes of end2end-split."""
    from onnx import TensorProto

    g = b.Graph(PreprocessSpec(SIZE, layout="nhwc", dtype="uint8", scale=1.0))
    best = g.op("ReduceMax", [g.flat(g.brightness(8), 1)], axes=[1, 2], keepdims=0)
    scores = g.op("Concat", [g.op("Unsqueeze", [best, g.const(np.array([1], np.int64))]),
                             g.const(np.zeros((1, 9), np.float32))], axis=1)
    boxes = np.zeros((1, 10, 4), np.float32)
    boxes[0, 0] = [0.2, 0.2, 0.4, 0.4]
    outs = [(g.const(boxes), "detection_boxes", TensorProto.FLOAT), (scores, "detection_scores", TensorProto.FLOAT),
            (g.const(np.ones((1, 10), np.float32)), "detection_classes", TensorProto.FLOAT),
            (g.const(np.array([1.0], np.float32)), "num_detections", TensorProto.FLOAT)]
    model = g.save(tmp_path / "tf.onnx", outs)
    frames, _ = frames_for(ULTRA, tmp_path / "frames")
    with pytest.raises(ModelError, match="TensorFlow") as err:
        run_pipeline(config_for(tmp_path, model, frames, LABELS), tmp_path)
    assert "all within 0..1" in str(err.value) and "plugin" in (err.value.fix or "")


def _gpu_engine(engine: str) -> str:
    """The engine section for `engine`, or skip saying what is missing."""
    if engine == "onnxruntime-cuda":
        import onnxruntime as ort

        if "CUDAExecutionProvider" not in ort.get_available_providers():
            pytest.skip(f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (install onnxruntime-gpu)")
        return "engine: {type: onnxruntime, providers: [CUDAExecutionProvider]}\n"
    for module in ("tensorrt", "pycuda.driver"):
        pytest.importorskip(module, reason=f"{module} is not installed: TensorRT tests need a GPU machine")
    return "engine: {type: tensorrt}\n"


@pytest.mark.gpu
@pytest.mark.parametrize("engine", ["onnxruntime-cuda", "tensorrt"])
@pytest.mark.parametrize("name", list(CASES))
def test_family_on_the_gpu(tmp_path: Path, name: str, engine: str) -> None:
    """The same families on the GPU path: the CUDA-stream runner, its preprocess kernel honouring each family's
    spec (or the CPU reference where the kernel lacks an option), ONNX Runtime CUDA or a TensorRT engine built
    from the fixed model. Run on the GPU machine: python3 -m pytest -q tests/conformance -m gpu -rs"""
    section = _gpu_engine(engine)
    case = CASES[name]
    model = case.build(tmp_path / f"{name}.onnx", case.spec)
    if case.sidecar:
        (tmp_path / "infer_cfg.yml").write_text(case.sidecar)
    frames, expected = frames_for(case.spec, tmp_path / "frames")
    bundle, results = run_pipeline(config_for(tmp_path, model, frames, case.model_yaml, section), tmp_path)
    assert bundle.decoder_name == case.layout and bundle.preprocess == case.spec
    assert [len(r.detections) for r in results] == [1, 0]
    np.testing.assert_allclose(results[0].detections.boxes[0], expected, atol=1.0)


def test_a_fixed_batch_that_cannot_be_redeclared_runs_with_the_frame_in_the_first_slot(tmp_path: Path) -> None:
    """A batch of 4 baked into the graph's Reshapes: the loader keeps it (and says so); every inference carries
    four slots, the frame in the first and padding in the others; the first slot's outputs are decoded."""
    model = b.yolov8(tmp_path / "b4.onnx", ULTRA, batch=4)
    frames, expected = frames_for(ULTRA, tmp_path / "frames")
    bundle, results = run_pipeline(config_for(tmp_path, model, frames), tmp_path)
    assert bundle.preprocess is not None and bundle.preprocess.batch == 4
    assert any("fixed batch of 4 is kept" in n for n in bundle.resolved.prepared.notes)
    assert [len(r.detections) for r in results] == [1, 0]
    np.testing.assert_allclose(results[0].detections.boxes[0], expected, atol=1.0)
