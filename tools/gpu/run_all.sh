#!/usr/bin/env bash
# On the GPU machine, from the repository root, after `source .device/setup.sh`: the CUDA runner's tests and
# its benchmark in one go. Logs and JSON land in $OUT (default ./out); the benchmark's table is printed last.
#   MODEL=models/demo/yolo-demo.onnx VIDEO=samples/demo.mp4 bash tools/gpu/run_all.sh
# If the onnxruntime-gpu wheel's parts were copied to /root/ort (../shared/device/prepare-ort-gpu.sh), it is
# joined and installed into /tmp/ortgpu first and put ahead of the machine's CPU-only onnxruntime.
set -uo pipefail
export PYTHONUNBUFFERED=1 PATH=/usr/local/cuda/bin:$PATH
OUT=${OUT:-out}
mkdir -p "$OUT"
if ls /root/ort/part* >/dev/null 2>&1 && [ ! -d /tmp/ortgpu/onnxruntime ]; then
  whl=/root/onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl
  cat /root/ort/part* > $whl
  if [ -f .device-ort/SHA256 ] && [ "$(sha256sum $whl | cut -d' ' -f1)" != "$(cat .device-ort/SHA256)" ]; then
    echo "onnxruntime-gpu wheel: checksum mismatch (parts missing?): $(ls /root/ort)"; exit 3
  fi
  python3 -m pip install -q --no-index --no-deps --target /tmp/ortgpu $whl
fi
[ -d /tmp/ortgpu/onnxruntime ] && export PYTHONPATH=/tmp/ortgpu:$PYTHONPATH
# CUDA, cuBLAS and cuDNN for onnxruntime-gpu: the toolkit's, and those of pip's nvidia-* packages (torch's)
nvlibs=$(python3 -c 'import glob,os,site; print(":".join(d for p in site.getsitepackages() for d in glob.glob(os.path.join(p,"nvidia","*","lib"))))')
export LD_LIBRARY_PATH=${nvlibs}:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw,utilization.gpu \
  --format=csv > "$OUT/gpu.txt" 2>&1
python3 - <<'PY' 2>&1 | tee -a "$OUT/gpu.txt"
import onnxruntime as ort
print("onnxruntime", ort.__version__, ort.__file__, ort.get_available_providers())
PY
if [ -n "${MODEL:-}" ]; then  # which ways of running ONNX Runtime's CUDA provider survive (each in its own process)
  python3 tools/gpu/ort_probe.py --model "$MODEL" --out "$OUT" 2>&1 | tee "$OUT/ort_probe.log"
  ok() { python3 -c "import json,sys; r=json.load(open('$OUT/ort_probe.json')); print(int(r['$1']['rc']==0))" 2>/dev/null || echo 1; }
  export ORT_CUDA_GRAPH=$(ok stream_graph) ORT_NAIVE_OK=$(ok naive)
  echo "ORT_CUDA_GRAPH=$ORT_CUDA_GRAPH ORT_NAIVE_OK=$ORT_NAIVE_OK"
fi
python3 -m pytest -q tests/cuda -rs -p no:cacheprovider 2>&1 | tee "$OUT/pytest_cuda.log"
args=()
if [ -z "${MODEL:-}" ] && [ "${STANDIN:-0}" = 1 ]; then  # no demo model yet: a stand-in detector and video
  python3 -m tests.cuda.models /tmp/standin && MODEL=/tmp/standin/standin-yolo.onnx VIDEO=/tmp/standin/standin.mp4
fi
[ -n "${MODEL:-}" ] && [ -n "${VIDEO:-}" ] && args=(--model "$MODEL" --video "$VIDEO")
python3 tools/bench_runner.py --out "$OUT" "${args[@]}" 2>&1 | tee "$OUT/bench.log"
