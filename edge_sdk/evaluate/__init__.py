"""Detector accuracy: COCO mAP (overall and per class) and recall at an IoU, through pycocotools or
faster-coco-eval. The INT8 accuracy gate uses them on the device; `python -m tools.evaluate` (not installed)
runs the demo model over generated scenes or a video and prints them.
"""

from edge_sdk.evaluate.metrics import BACKENDS, ClassAP, MapResult, RecallResult, coco_map, recall_at_iou

__all__ = ["BACKENDS", "ClassAP", "MapResult", "RecallResult", "coco_map", "recall_at_iou"]
