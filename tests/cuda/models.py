"""Test inputs for the runner: a small conv net made with onnx.helper (a stand-in for the demo model while
it is absent, and a fast real ONNX Runtime workload), and frames with moving shapes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv_model(path: Path, *, input_hw: tuple[int, int] = (640, 640), widths: tuple[int, ...] = (16, 32, 64),
               seed: int = 0) -> Path:
    """Conv(3x3, stride 2) + Sigmoid layers; output `output0` [1, widths[-1], H/2^n, W/2^n]. IR 10, opset 17."""
    rng = np.random.default_rng(seed)
    h, w = input_hw
    nodes, inits = [], []
    prev, c_in = "images", 3
    for i, c_out in enumerate(widths):
        wt = rng.normal(0, 1.0 / np.sqrt(9 * c_in), (c_out, c_in, 3, 3)).astype(np.float32)
        b = rng.normal(0, 0.1, (c_out,)).astype(np.float32)
        inits += [numpy_helper.from_array(wt, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        out = "output0" if i == len(widths) - 1 else f"a{i}"
        nodes.append(helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], kernel_shape=[3, 3],
                                      strides=[2, 2], pads=[1, 1, 1, 1]))
        nodes.append(helper.make_node("Sigmoid", [f"c{i}"], [out]))
        prev, c_in = out, c_out
        h, w = (h + 1) // 2, (w + 1) // 2
    graph = helper.make_graph(
        nodes, "standin", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, *input_hw])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, widths[-1], h, w])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10  # ONNX Runtime 1.30/1.31 read IR <= 13; the newest onnx writes 14 by default
    onnx.save(model, str(path))
    return path


def moving_frames(n: int, *, hw: tuple[int, int] = (480, 640), seed: int = 0) -> list[np.ndarray]:
    """`n` BGR uint8 frames: a noisy gradient with a few coloured rectangles that move."""
    rng = np.random.default_rng(seed)
    h, w = hw
    base = np.zeros((h, w, 3), np.uint8)
    base[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    base[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]
    boxes = [(rng.integers(0, w // 2), rng.integers(0, h // 2), rng.integers(20, w // 3), rng.integers(20, h // 3),
              tuple(int(c) for c in rng.integers(0, 256, 3)), rng.integers(-9, 10, 2)) for _ in range(4)]
    frames = []
    for t in range(n):
        img = base.copy()
        for x, y, bw, bh, colour, (vx, vy) in boxes:
            x0, y0 = int((x + vx * t) % (w - bw)), int((y + vy * t) % (h - bh))
            img[y0:y0 + bh, x0:x0 + bw] = colour
        img = np.clip(img.astype(np.int16) + rng.integers(-8, 9, img.shape), 0, 255).astype(np.uint8)
        frames.append(img)
    return frames


def yolo_like_model(path: Path, *, input_hw: tuple[int, int] = (640, 640), classes: int = 5, seed: int = 0) -> Path:
    """A stand-in detector with the YOLOv8 output layout [1, 4+nc, N]: three stride-2 convs, a 1x1 head, sigmoid,
    boxes scaled to pixels, class scores biased low so that only a few anchors pass 0.25. Not a trained model."""
    rng = np.random.default_rng(seed)
    h, w = input_hw
    widths = (16, 32, 64)
    nodes, inits = [], []
    prev, c_in = "images", 3
    for i, c_out in enumerate(widths):
        wt = rng.normal(0, 1.0 / np.sqrt(9 * c_in), (c_out, c_in, 3, 3)).astype(np.float32)
        inits += [numpy_helper.from_array(wt, f"w{i}"),
                  numpy_helper.from_array(rng.normal(0, 0.1, (c_out,)).astype(np.float32), f"b{i}")]
        nodes += [helper.make_node("Conv", [prev, f"w{i}", f"b{i}"], [f"c{i}"], kernel_shape=[3, 3], strides=[2, 2],
                                   pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c{i}"], [f"a{i}"])]
        prev, c_in = f"a{i}", c_out
        h, w = (h + 1) // 2, (w + 1) // 2
    ch = 4 + classes
    bias = np.array([0.0] * 4 + [-6.0] * classes, np.float32)
    scale = np.array([input_hw[1], input_hw[0], input_hw[1] / 8, input_hw[0] / 8] + [1.0] * classes, np.float32)
    inits += [numpy_helper.from_array(rng.normal(0, 3.0, (ch, c_in, 1, 1)).astype(np.float32), "wh"),
              numpy_helper.from_array(bias, "bh"),
              numpy_helper.from_array(np.array([1, ch, h * w], np.int64), "shape"),
              numpy_helper.from_array(scale.reshape(1, ch, 1), "scale")]
    nodes += [helper.make_node("Conv", [prev, "wh", "bh"], ["head"], kernel_shape=[1, 1]),
              helper.make_node("Sigmoid", ["head"], ["sig"]),
              helper.make_node("Reshape", ["sig", "shape"], ["flat"]),
              helper.make_node("Mul", ["flat", "scale"], ["output0"])]
    graph = helper.make_graph(
        nodes, "yolo_standin", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, *input_hw])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, ch, h * w])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    onnx.save(model, str(path))
    return path


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    import cv2

    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    for f in frames:
        writer.write(f)
    writer.release()
    return path


if __name__ == "__main__":  # python -m tests.cuda.models DIR: a stand-in model and video for tools/bench_runner.py
    import sys

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    yolo_like_model(out / "standin-yolo.onnx")
    write_video(out / "standin.mp4", moving_frames(250, hw=(480, 640)))
    print(out / "standin-yolo.onnx", out / "standin.mp4")
