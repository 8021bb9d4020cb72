"""Accuracy of a YOLOv8-layout ONNX detector on generated held-out stills or on a video with COCO truth.

    python -m tools.evaluate --model models/demo/yolo-demo.onnx                 # seeds 1000000:1000500
    python -m tools.evaluate --model models/demo/yolo-demo.onnx --video samples/demo.mp4

Frames go through the SDK's letterbox, ONNX Runtime (CPU), YOLOv8 decode and NMS. mAP uses
conf 0.001 / NMS IoU 0.7 / 300 detections (as COCO evaluation expects); recall uses the SDK's
deployment defaults (conf 0.25, NMS IoU 0.45).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from edge_sdk.errors import EdgeSdkError
from edge_sdk.evaluate.metrics import BACKENDS, coco_map, recall_at_iou
from tools.evaluate.detector import DEPLOY_PARAMS, MAP_PARAMS, detect_all, load_coco, still_frames, video_frames
from tools.evaluate.report import accuracy_json, accuracy_table

HELDOUT_SEEDS = range(1_000_000, 1_000_500)


def _seeds(text: str) -> range:
    from tools.scenes.__main__ import parse_seeds

    return parse_seeds(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--model", required=True, help="ONNX model in YOLOv8 layout")
    p.add_argument("--seeds", type=_seeds, default=HELDOUT_SEEDS, help="generated still seeds A:B (default 1000000:1000500)")
    p.add_argument("--video", help="evaluate on this video instead of generated stills")
    p.add_argument("--gt", help="COCO ground truth of --video (default: <video>.coco.json beside it)")
    p.add_argument("--step", type=int, default=1, help="use every N-th video frame")
    p.add_argument("--backend", choices=BACKENDS, default="pycocotools")
    p.add_argument("--json", help="also write the figures to this JSON file")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads (0: all cores)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from edge_sdk.atomic import write_json_atomic
    from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
    from tools.scenes.video import video_coco_path

    t0 = time.perf_counter()
    try:
        with OnnxRuntimeEngine(args.model, intra_op_threads=args.threads) as engine:
            if args.video:
                frames = list(video_frames(args.video, max(1, args.step)))
                gt_path = args.gt or video_coco_path(args.video)
                gt = load_coco(gt_path, [i for i, _ in frames])
                title = f"{args.video}: {len(frames)} frames (every {args.step}), ground truth {gt_path}"
                meta = {"video": str(args.video), "step": args.step}
                dets_map, dets_deploy = detect_all(engine, frames, [MAP_PARAMS, DEPLOY_PARAMS])
            else:
                gt, lazy = still_frames(args.seeds)
                dets_map, dets_deploy = detect_all(engine, lazy, [MAP_PARAMS, DEPLOY_PARAMS])
                first, last = args.seeds.start, args.seeds.stop - 1
                title = f"held-out generated stills: {len(args.seeds)} images, seeds {first}..{last} (640x480)"
                meta = {"seeds": [args.seeds.start, args.seeds.stop - 1]}
    except (EdgeSdkError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    m = coco_map(gt, dets_map, args.backend)
    r = recall_at_iou(gt, dets_deploy, 0.5, DEPLOY_PARAMS.conf_thres, args.backend)
    print(accuracy_table(f"{title}\nmodel {args.model}", m, r, DEPLOY_PARAMS.conf_thres))
    print(f"({time.perf_counter() - t0:.1f} s)")
    if args.json:
        meta.update(
            {
                "model": str(args.model),
                "map_decode": vars(MAP_PARAMS) | {"classes": None},
                "recall_decode": vars(DEPLOY_PARAMS) | {"classes": None},
            }
        )
        write_json_atomic(Path(args.json), accuracy_json(meta, m, r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
