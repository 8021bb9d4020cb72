#!/usr/bin/env bash
# Many cameras, batched, on this machine's CPU (issue #23): edge-sdk bench --cameras x --batch on the demo's weights
# with a batch dimension (tools/models/batchable.py), N file sources of the sample video, each its own decoder.
#
#   bash tools/bench_cameras.sh                                   # the grid below -> benchmarks/results/cameras_cpu.json
#   CAMERAS=1,4 BATCHES=1,4 FRAMES=10 OUT=/tmp/g.json bash tools/bench_cameras.sh
#
# The GPU grid is tools/gpu/run_all.sh's step batch_bench (ONNX Runtime CUDA). Prints the table (it names the CPU and
# the load average before and after) and writes the JSON atomically.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
CAMERAS=${CAMERAS:-1,2,4,8,16}
BATCHES=${BATCHES:-1,2,4,8}
FRAMES=${FRAMES:-30}
ITERATIONS=${ITERATIONS:-16}
OUT=${OUT:-benchmarks/results/cameras_cpu.json}
WORK=$(mktemp -d /tmp/edge-cameras-XXXXXX)
trap 'rm -rf "$WORK"' EXIT
"$PY" -m tools.models.batchable models/demo/yolo-demo.onnx "$WORK/yolo-demo-batch.onnx" > /dev/null
cat > "$WORK/app.yaml" <<YAML
device: cpu
device_id: cameras-bench
state_dir: $WORK/state
model: {path: $WORK/yolo-demo-batch.onnx, precision: fp32}
engine: {type: onnxruntime, providers: [CPUExecutionProvider], workers: 2, batch_timeout_ms: 5}
sources: [{name: cam0, uri: "file://$(pwd)/samples/demo.mp4"}]
mqtt: {enabled: false}
YAML
"$PY" -m edge_sdk.cli.main bench --config "$WORK/app.yaml" --cameras "$CAMERAS" --batch "$BATCHES" \
  --frames-per-camera "$FRAMES" --iterations "$ITERATIONS" --out "$OUT"
