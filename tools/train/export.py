"""Export the trained detector (EMA weights) to ONNX in the Ultralytics YOLOv8 layout.

    PYTHONPATH=.:tools/train python tools/train/export.py --ckpt .train/run --out models/demo/yolo-demo.onnx

Input `images` float32 [1,3,640,640] RGB 0..1; output `output0` [1, 4+nc, 8400]: cx, cy, w, h in
input pixels, then sigmoid class scores; no NMS. Conv+BN pairs are fused first. metadata_props carry
`names` (JSON dict), `imgsz`, `stride` (JSON lists), `task`, `description`, `version`, ...
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

import onnx
import torch
from torch import nn

from model import STRIDES, Conv, YoloV8, count_params, gflops
from train import load_checkpoint

from edge_sdk.atomic import write_bytes_atomic
from tools.scenes import CLASS_NAMES

IR_VERSION = 9  # ONNX Runtime 1.17+ (and 1.30) read IR 9


def fuse(model: nn.Module) -> nn.Module:
    """Fold every Conv's BatchNorm into its conv weights and bias (inference only)."""
    for m in model.modules():
        if isinstance(m, Conv) and isinstance(m.bn, nn.BatchNorm2d):
            conv, bn = m.conv, m.bn
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                              conv.dilation, conv.groups, bias=True).to(conv.weight.device)
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            fused.weight.data = conv.weight.data * scale.view(-1, 1, 1, 1)
            fused.bias.data = bn.bias.data - bn.running_mean * scale
            m.conv, m.bn = fused, nn.Identity()
    return model


def export(model: YoloV8, out: Path, version: str, description: str, extra_meta: dict[str, str] | None = None) -> Path:
    model = fuse(model.float().eval().cpu())
    model.detect.export = True
    dummy = torch.zeros(1, 3, 640, 640)
    tmp = out.with_name(f".{out.name}.tmp")
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (dummy,), str(tmp), input_names=["images"], output_names=["output0"], opset_version=17,
                      do_constant_folding=True, dynamo=False)
    m = onnx.load(str(tmp))
    tmp.unlink()
    m.ir_version = IR_VERSION
    m.producer_name = "edge-sdk tools/train"
    meta = {
        "description": description,
        "author": "edge-sdk",
        "date": datetime.date.today().isoformat(),
        "version": version,
        "license": "Apache-2.0",
        "task": "detect",
        "batch": "1",
        "imgsz": json.dumps([640, 640]),
        "stride": json.dumps(list(STRIDES)),
        "names": json.dumps({str(i): n for i, n in enumerate(CLASS_NAMES)}),
        "channels": "3",
        "input": "RGB, 0..1, letterboxed with pad 114 (Ultralytics letterbox)",
        **(extra_meta or {}),
    }
    del m.metadata_props[:]
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    onnx.checker.check_model(m)
    write_bytes_atomic(out, m.SerializeToString())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=".train/run", help="folder holding ckpt.json and ckpt.part*")
    ap.add_argument("--out", default="models/demo/yolo-demo.onnx")
    ap.add_argument("--weights", choices=("ema", "model"), default="ema")
    ap.add_argument("--version", default="1.0")
    args = ap.parse_args()
    ckpt = load_checkpoint(Path(args.ckpt))
    if ckpt is None:
        raise SystemExit(f"no checkpoint in {args.ckpt}")
    model = YoloV8(len(CLASS_NAMES))
    model.load_state_dict(ckpt[args.weights])
    params, flops = count_params(model), gflops(model)
    desc = f"edge-sdk demo detector (YOLOv8n-style, {len(CLASS_NAMES)} classes, trained on generated scenes)"
    path = export(model, Path(args.out), args.version, desc, {"train_iterations": str(ckpt["iteration"])})
    print(f"exported {path} ({path.stat().st_size / 1e6:.2f} MB) from iteration {ckpt['iteration']}; "
          f"{params / 1e6:.3f} M params, {flops:.2f} GFLOPs")


if __name__ == "__main__":
    main()
