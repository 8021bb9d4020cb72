"""The demo detector's accuracy on generated stills or a video, run the SDK's way (letterbox, engine, YOLOv8
decode); `python -m tools.evaluate --model M.onnx` prints the table. The metrics themselves (COCO mAP, recall)
are in the runtime package, edge_sdk/evaluate/, where the INT8 accuracy gate uses them."""
