"""Detector accuracy: COCO mAP (overall and per class) and recall at an IoU, through pycocotools or
faster-coco-eval; and running a model the SDK's way over generated stills or a video.

`python -m edge_sdk.evaluate --model M.onnx` prints the accuracy table on the held-out generated set.
"""

from edge_sdk.evaluate.metrics import BACKENDS, ClassAP, MapResult, RecallResult, coco_map, recall_at_iou

__all__ = ["BACKENDS", "ClassAP", "MapResult", "RecallResult", "coco_map", "recall_at_iou"]
