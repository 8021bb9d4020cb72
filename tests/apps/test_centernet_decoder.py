"""The decoder-plugin example (apps/centernet_decoder.py) on the issue's face-detector shape: opset 9, a fixed
batch of 10 at 32x32, weights also listed as graph inputs, four outputs (heatmap, scale, offset, landmarks),
trained on 0..255 input. Through the real pipeline, a bright patch must come back as one box where it is."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from tests.support.run_model import config_for, run_pipeline, write_frames


def centerface_like(path: Path) -> Path:
    """0..255 BGR in; a 4x4 cell whose mean is bright gives a heatmap peak; boxes 16x16 px; zero offsets."""
    inits = {
        "w_heat": np.full((1, 3, 1, 1), 0.1 / 3, np.float32), "b_heat": np.array([-12.8], np.float32),
        "w_zero2": np.zeros((2, 3, 1, 1), np.float32), "b_scale": np.full(2, math.log(4.0), np.float32),
        "b_zero2": np.zeros(2, np.float32), "w_zero10": np.zeros((10, 3, 1, 1), np.float32),
        "b_lm": np.tile(np.array([0.3, 0.3], np.float32), 5),
    }
    nodes = [helper.make_node("AveragePool", ["input.1"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
             helper.make_node("Conv", ["pooled", "w_heat", "b_heat"], ["logit"]),
             helper.make_node("Sigmoid", ["logit"], ["537"]),
             helper.make_node("Conv", ["pooled", "w_zero2", "b_scale"], ["538"]),
             helper.make_node("Conv", ["pooled", "w_zero2", "b_zero2"], ["539"]),
             helper.make_node("Conv", ["pooled", "w_zero10", "b_lm"], ["540"])]
    weights = [numpy_helper.from_array(v, k) for k, v in inits.items()]
    inputs = [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [10, 3, 32, 32])]
    inputs += [helper.make_tensor_value_info(k, TensorProto.FLOAT, list(v.shape)) for k, v in inits.items()]
    outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [10, c, 8, 8])
               for n, c in (("537", 1), ("538", 2), ("539", 2), ("540", 10))]
    model = helper.make_model(helper.make_graph(nodes, "centerface", inputs, outputs, initializer=weights),
                              opset_imports=[helper.make_opsetid("", 9)])
    model.ir_version = 3
    onnx.save(model, str(path))
    return path


def test_the_issues_face_detector_runs_through_the_plugin(tmp_path: Path) -> None:
    model = centerface_like(tmp_path / "centerface.onnx")
    frame = np.zeros((96, 128, 3), np.uint8)
    frame[24:32, 40:48] = 255  # letterboxed to 64x64: scale 0.5, 8 rows of padding on top -> one 4x4 cell
    frames = write_frames(tmp_path / "frames", [frame, np.zeros_like(frame)])
    model_extra = "  labels: [face]\n  preprocess: {size: [64, 64], scale: 1.0, channel_order: bgr, pad_value: 0}\n"
    extra = "decode:\n  type: apps.centernet_decoder:decode\n  conf_thres: 0.5\n"
    bundle, results = run_pipeline(config_for(tmp_path, model, frames, model_extra, extra), tmp_path)
    fixes = " ".join(bundle.resolved.prepared.fixes)
    assert "weight(s) listed as graph inputs" in fixes and "batch 10 re-declared as 1" in fixes
    assert "re-declared as [64, 64]" in fixes and "opset 9 converted to 13" in fixes
    assert bundle.preprocess is not None and bundle.preprocess.scale == 1.0
    assert [len(r.detections) for r in results] == [1, 0]
    det = results[0].detections
    np.testing.assert_allclose(det.boxes[0], [28, 12, 60, 44], atol=0.5)  # 16x16 input px = 32x32 frame px
    assert det.class_ids.tolist() == [0] and det.scores[0] > 0.99
    assert results[0].model is not None and results[0].model.label(0) == "face"


def test_the_plugin_puts_landmarks_into_frame_pixels_with_the_placement() -> None:
    from apps.centernet_decoder import decode, landmarks_in_frame
    from edge_sdk.decode import DecodeContext, DecodeParams
    from edge_sdk.decode.base import DecodeModel
    from edge_sdk.preprocess import PreprocessSpec

    heat = np.zeros((1, 1, 16, 16), np.float32)
    heat[0, 0, 5, 5] = 0.9
    outs = [heat, np.full((1, 2, 16, 16), math.log(4.0), np.float32), np.zeros((1, 2, 16, 16), np.float32),
            np.full((1, 10, 16, 16), 0.5, np.float32)]
    spec = PreprocessSpec((64, 64), align="top-left")
    ctx = DecodeContext(DecodeParams(), DecodeModel((64, 64), ("heatmap", "scale", "offset", "landmarks")),
                        spec.placement(128, 96))
    dets = decode(outs, ctx)
    np.testing.assert_allclose(dets.boxes, [[14, 14, 30, 30]])
    np.testing.assert_allclose(landmarks_in_frame(outs, ctx, dets)[0], [[44, 44]] * 5)  # box centre, x2
