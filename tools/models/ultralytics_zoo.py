"""Export Ultralytics architectures with random weights to small ONNX files, and Ultralytics' own predictions on
sample frames as the reference, for tests/conformance/test_ultralytics.py. Nothing is downloaded: each model is
built from Ultralytics' YAML at a reduced width.

Runs in its own virtual environment, outside the repository (torch and ultralytics are not edge-sdk's
dependencies):

    python3 -m venv /work/ultra-venv
    /work/ultra-venv/bin/pip install torch==2.14.1 torchvision==0.29.1 ultralytics onnx onnxruntime
    /work/ultra-venv/bin/python tools/models/ultralytics_zoo.py --out tests/data/ultralytics

Writes `<name>.onnx` (Ultralytics' exporter, opset and metadata as a user gets them) and `<name>.json`:
Ultralytics' own `predict` with that file on frames 0, 60 and 120 of samples/demo.mp4 (its LetterBox, ONNX
Runtime, its NMS or end-to-end post-processing), the boxes in frame pixels. Random weights give random boxes: the head's class
convolution is scaled so scores spread over 0..1 instead of sitting near the initial prior, which makes the
comparison meaningful (no near-ties).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NAMES = {0: "alpha", 1: "beta", 2: "gamma"}
FRAMES = (0, 60, 120)
#: name -> Ultralytics YAML; each at width 0.25 with at most 64 channels (the files stay under 1 MB)
ARCHS = {
    "yolov5nu": "yolov5n.yaml",  # Ultralytics' YOLOv5 YAML is the anchor-free "u" head
    "yolov8n": "yolov8n.yaml",
    "yolov10n": "yolov10n.yaml",
    "yolo11n": "yolo11n.yaml",
    "yolo26n": "yolo26n.yaml",
    "rtdetr": "",  # TINY_RTDETR below: Ultralytics' RT-DETR YAMLs have no small scale
}
WIDTH, MAX_CHANNELS = 0.25, 64
#: exported with their one-to-one head (`nms=False`: [1, 300, 6] x1,y1,x2,y2,score,class, no NMS); Ultralytics
#: 8.4 exports the one-to-many head ([1, 4+nc, N]) unless asked
END2END = {"yolov10n", "yolo26n"}
TINY_RTDETR = {
    "nc": 3,
    "backbone": [[-1, 1, "Conv", [16, 3, 2]], [-1, 1, "Conv", [16, 3, 2]], [-1, 1, "Conv", [32, 3, 2]],
                 [-1, 1, "Conv", [32, 3, 2]], [-1, 1, "Conv", [32, 3, 2]], [-1, 1, "Conv", [32, 3, 2]]],
    "head": [[[3, 4, 5], 1, "RTDETRDecoder", [3, 32, 30, 3, 4, 1, 64]]],
}


def _frames() -> list[Any]:
    import cv2

    cap = cv2.VideoCapture(str(ROOT / "samples" / "demo.mp4"))
    out = []
    for i in range(max(FRAMES) + 1):
        ok, frame = cap.read()
        if not ok:
            raise SystemExit("cannot read samples/demo.mp4")
        if i in FRAMES:
            out.append(frame)
    return out


def _yaml(name: str, tmp: Path) -> Path:
    import yaml
    from ultralytics.nn.tasks import yaml_model_load

    path = tmp / ARCHS[name]
    if name == "rtdetr":
        path = tmp / "rtdetr-tiny.yaml"
        cfg: dict[str, Any] = dict(TINY_RTDETR)
    else:
        cfg = yaml_model_load(ARCHS[name])
        cfg.pop("yaml_file", None)
        depth = cfg["scales"]["n"][0]
        cfg["scales"] = {"n": [depth, WIDTH, MAX_CHANNELS]}
        cfg["nc"] = len(NAMES)
    path.write_text(yaml.safe_dump(cfg))
    return path


def _spread_scores(model: Any, nc: int) -> None:
    """Scale the class convolutions (out_channels == nc) so scores spread over 0..1."""
    import torch

    torch.manual_seed(0)
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d) and module.out_channels == nc:
            with torch.no_grad():
                module.weight.mul_(20.0)
                if module.bias is not None:
                    module.bias.uniform_(-1.0, 1.0)
        if isinstance(module, torch.nn.Linear) and module.out_features == nc:
            with torch.no_grad():
                module.weight.mul_(20.0)
                module.bias.uniform_(-1.0, 1.0)


def export(name: str, out: Path, imgsz: int) -> dict[str, Any]:
    import torch
    from ultralytics import RTDETR, YOLO

    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp_dir, contextlib.chdir(tmp_dir):  # the exporter writes into the cwd
        tmp = Path(tmp_dir)
        cfg = _yaml(name, tmp)
        model = RTDETR(str(cfg)) if name == "rtdetr" else YOLO(str(cfg))
        model.model.names = dict(NAMES)
        _spread_scores(model.model, len(NAMES))
        model.model.eval()
        extra = {"nms": False} if name in END2END else {}
        onnx_path = Path(model.export(format="onnx", imgsz=imgsz, simplify=False, verbose=False, **extra))
        shutil.copy(onnx_path, out / f"{name}.onnx")
        # Ultralytics' own predictor on the exported file: its LetterBox (square, as for any fixed-size export),
        # ONNX Runtime, its NMS or end-to-end post-processing
        file = str(out / f"{name}.onnx")
        exported = RTDETR(file) if name == "rtdetr" else YOLO(file, task="detect")
        conf = 0.25
        preds = []
        for frame in _frames():
            r = exported.predict(frame, imgsz=imgsz, conf=conf, iou=0.7, max_det=30, verbose=False)[0]
            preds.append({"boxes": r.boxes.xyxy.tolist(), "scores": r.boxes.conf.tolist(),
                          "classes": [int(c) for c in r.boxes.cls.tolist()]})
    import ultralytics

    ref = {"name": name, "ultralytics": ultralytics.__version__, "torch": torch.__version__, "imgsz": imgsz,
           "frames": list(FRAMES), "conf": conf, "iou": 0.7, "max_det": 30, "predictions": preds}
    (out / f"{name}.json").write_text(json.dumps(ref, indent=1))
    return {"name": name, "bytes": (out / f"{name}.onnx").stat().st_size,
            "detections": [len(p["scores"]) for p in preds]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="example: /work/ultra-venv/bin/"
                                     "python tools/models/ultralytics_zoo.py --out tests/data/ultralytics")
    parser.add_argument("--out", type=Path, default=ROOT / "tests" / "data" / "ultralytics")
    parser.add_argument("--imgsz", type=int, default=128)
    parser.add_argument("--only", nargs="*", choices=sorted(ARCHS), help="these architectures only")
    args = parser.parse_args(argv)
    args.out = args.out.resolve()  # export() works in a temporary folder
    args.out.mkdir(parents=True, exist_ok=True)
    for name in args.only or ARCHS:
        try:
            print(json.dumps(export(name, args.out, args.imgsz)), flush=True)
        except Exception as exc:  # one architecture this Ultralytics lacks does not stop the others
            print(json.dumps({"name": name, "error": f"{type(exc).__name__}: {exc}"}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
