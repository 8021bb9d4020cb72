"""Closing line of the demo: frames, detections, and recall at IoU 0.5 against the sample's ground truth.

    python scripts/demo_summary.py MESSAGES.jsonl samples/demo.coco.json
MESSAGES.jsonl holds one detection message per line, as `edge-sdk subscribe --json` prints them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from edge_sdk.evaluate.metrics import recall_at_iou


def main(messages_path: str, gt_path: str) -> int:
    gt = json.loads(Path(gt_path).read_text())
    messages = [json.loads(line) for line in Path(messages_path).read_text().splitlines() if line.strip()]
    cat_by_name = {c["name"]: c["id"] for c in gt["categories"]}
    dets = [{"image_id": m["frame_id"], "category_id": cat_by_name[d["label"]],
             "bbox": [d["box"][0], d["box"][1], d["box"][2] - d["box"][0], d["box"][3] - d["box"][1]],
             "score": d["score"]} for m in messages for d in m["detections"]]
    frames = len({m["frame_id"] for m in messages})
    recall = recall_at_iou(gt, dets, iou=0.5).recall if dets else 0.0
    print(f"demo: {frames}/{len(gt['images'])} frames received, {len(dets)} detections, "
          f"recall@0.5 against ground truth = {recall:.3f}")
    return 0 if frames == len(gt["images"]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
