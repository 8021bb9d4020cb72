#!/usr/bin/env bash
# On the GPU machine, from the repository root, after `source .device/setup.sh` and with the onnxruntime-gpu
# wheel's parts in /root/ort (../shared/device/prepare-ort-gpu.sh): `edge-sdk run` and `edge-sdk bench` on
# the demo model and sample video with ONNX Runtime's CUDA provider, i.e. through the pipeline's GPU branch
# (the CUDA-stream runner). Prints JSON summaries; logs land in $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1 PATH=/usr/local/cuda/bin:$PATH
OUT=${OUT:-out}; mkdir -p "$OUT"
if [ ! -d /tmp/ortgpu/onnxruntime ]; then
  cat /root/ort/part* > /root/onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl
  python3 -m pip install -q --no-index --no-deps --target /tmp/ortgpu /root/onnxruntime_gpu-*.whl || exit 3
fi
export PYTHONPATH=/tmp/ortgpu:$PYTHONPATH
nvlibs=$(python3 -c 'import glob,os,site; print(":".join(d for p in site.getsitepackages() for d in glob.glob(os.path.join(p,"nvidia","*","lib"))))')
export LD_LIBRARY_PATH=${nvlibs}:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
root=$(pwd)
cat > /tmp/gpu.yaml <<YAML
device: cpu
device_id: gpu-check
state_dir: /tmp/edge-state
model: {path: $root/models/demo/yolo-demo.onnx}
engine: {type: onnxruntime, providers: [CUDAExecutionProvider]}
sources: [{name: cam0, uri: "file://$root/samples/demo.mp4"}]
mqtt: {enabled: false}
YAML
sed 's/providers: \[CUDAExecutionProvider\]/providers: [CPUExecutionProvider]/' /tmp/gpu.yaml > /tmp/cpu.yaml
echo "== edge-sdk run, CUDA (GPU branch)"; python3 -m edge_sdk.cli.main -v run --config /tmp/gpu.yaml --json 2> "$OUT/run_gpu.log" | tee "$OUT/run_gpu.json" | cut -c1-400
grep -iE "runner|cuda|error" "$OUT/run_gpu.log" | head -5
echo "== edge-sdk run, CPU"; python3 -m edge_sdk.cli.main run --config /tmp/cpu.yaml --json 2> "$OUT/run_cpu.log" | tee "$OUT/run_cpu.json" | cut -c1-200
echo "== edge-sdk bench, CUDA"; python3 -m edge_sdk.cli.main bench --config /tmp/gpu.yaml --no-mqtt --iterations 300 --out "$OUT/bench_gpu.json" 2> "$OUT/bench_gpu.log"
