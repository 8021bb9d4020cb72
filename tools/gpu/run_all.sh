#!/usr/bin/env bash
# Everything GPU-side of edge-sdk in one go, on the GPU machine (H100/H200: CUDA 13 and nvcc, no TensorRT), from the
# repository root. Prints a PASS/FAIL/SKIP table last; writes $OUT/run_all.json (every step, its figures) and a log
# per step in $OUT/logs/. Exit status 0 when no step FAILs.
#
#   ../shared/device/prepare.sh onnx protobuf          # once per checkout, here: .device/ with what edge-sdk imports
#   source .device/setup.sh && bash tools/gpu/run_all.sh                     # everything (10-12 minutes)
# A device call is limited to 10 minutes: run it as two calls (each writes its own table and run_all.json):
#   source .device/setup.sh && ONLY="env kernels tests tests_nvrtc selftest doctor runs" bash tools/gpu/run_all.sh
#   source .device/setup.sh && ONLY="env bench runner_bench" BENCH_REPEATS=3 bash tools/gpu/run_all.sh   # + host_path
#   source .device/setup.sh && ONLY="env batch_bench" bash tools/gpu/run_all.sh          # many cameras, batched
#
# onnxruntime-gpu: if its wheel's parts were copied to /root/ort (../shared/device/prepare-ort-gpu.sh), it is joined
# and installed into /tmp/ortgpu first and put ahead of the machine's CPU-only onnxruntime; without it the ONNX
# Runtime CUDA steps are SKIP. MODEL and VIDEO default to the demo model and sample video.
#
# Steps (ONLY= takes these names):
#   env           GPU, driver, Python, pycuda, onnxruntime providers (gpu.txt)
#   kernels       the committed fatbin matches letterbox.cu; a fatbin built here with this machine's NVRTC loads
#   tests         GPU tests (tests/cuda, tests/trt, tests/conformance: -m gpu), kernels as shipped (prebuilt: on an
#                 H100, sm_90, the fatbin's compute_87 PTX is what runs, compiled by the driver)
#   tests_nvrtc   the GPU preprocess and runner tests again with EDGE_SDK_KERNELS=nvrtc (the other way)
#   selftest      edge-sdk selftest: versions, GPU kernels both ways on a frame (TensorRT steps SKIP: none here)
#   doctor        edge-sdk doctor --json: driver stack (container?), GPU kernels loaded, CUDA versions
#   runs          edge-sdk run on the sample video: CPU, CUDA (tf32 off: the CPU's detections, +-0.5%),
#                 CUDA default (TF32), CUDA model.precision fp16, CUDA cuda_graph off
#   bench         edge-sdk bench on CUDA: engine-only on the runner's own sessions (input resident on the device) vs
#                 the whole pipeline at the same batch (one camera: batch 1), the sample video looped for BENCH_FRAMES
#                 (default 1500; each loop reopens the file, a few ms counted against the pipeline); its last line
#                 RESULT says the ratio against 0.90, both fps and the card; the log has CPU ms a frame per thread
#   host_path     tools/bench_host_path.py on this machine's CPU: microseconds a frame of each host stage of the GPU
#                 path (capture, reader, submit, results, decode, publish) and the whole pipeline with the GPU's work
#                 stood in (the host's ceiling fps); runs with bench (it explains bench's figure)
#   runner_bench  tools/bench_runner.py: preprocess, overlap sweep, demo model through the runner
#   batch_bench   edge-sdk bench --cameras 1,2,4,8,16 --batch 1,2,4,8 on the batch-taking demo copy (ONNX Runtime
#                 CUDA; TensorRT where it is installed): #23's targets (tools/gpu/batch_targets.py); BATCH_CAMERAS,
#                 BATCH_SIZES and BATCH_FRAMES (per camera per cell, default 300) shrink it; BATCH_TIMEOUT_S (400 s,
#                 all its grids together) cuts a grid short: judged on its finished cells, FAIL. Without
#                 onnxruntime-gpu: SKIP, saying why. BATCH_DRY=cpu runs it on the CPU provider to check this logic
#                 anywhere: SKIP, no GPU figure
set -uo pipefail
export PYTHONUNBUFFERED=1 PATH=/usr/local/cuda/bin:$PATH
OUT=${OUT:-out}
MODEL=${MODEL:-models/demo/yolo-demo.onnx}
VIDEO=${VIDEO:-samples/demo.mp4}
BENCH_REPEATS=${BENCH_REPEATS:-3}
BENCH_FRAMES=${BENCH_FRAMES:-1500}
BATCH_CAMERAS=${BATCH_CAMERAS:-1,2,4,8,16}
BATCH_SIZES=${BATCH_SIZES:-1,2,4,8}
BATCH_FRAMES=${BATCH_FRAMES:-300}
BATCH_TIMEOUT_S=${BATCH_TIMEOUT_S:-400}
ONLY=${ONLY:-env kernels tests tests_nvrtc selftest doctor runs bench runner_bench host_path batch_bench}
# host_path goes with bench: it profiles the host side of what bench measures, on the same machine
[[ " $ONLY " == *" bench "* && " $ONLY " != *" host_path "* ]] && ONLY="$ONLY host_path"
mkdir -p "$OUT/logs"
: > "$OUT/steps.tsv"
root=$(pwd)
abs() { case $1 in /*) echo "$1" ;; *) echo "$root/$1" ;; esac; }  # MODEL, VIDEO: relative to the root or absolute

wanted() { [[ " $ONLY " == *" $1 "* ]]; }
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >> "$OUT/steps.tsv"; echo "== $1: $2 ($3 s) $4"; }

# step NAME DETAIL CMD...: PASS on exit 0, SKIP on exit 77, FAIL otherwise; output in logs/NAME.log
step() {
  local name=$1 detail=$2; shift 2
  wanted "$name" || return 0
  local t0=$SECONDS rc
  "$@" > "$OUT/logs/$name.log" 2>&1; rc=$?
  local status=FAIL; [ $rc -eq 0 ] && status=PASS; [ $rc -eq 77 ] && status=SKIP
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
    local why log="$OUT/logs/$name.log"
    why=$(grep -m1 -E '^(FAIL|WARN) ' "$log" || grep -m1 -E 'Error|error:|FAILED' "$log" || tail -n 1 "$log")
    detail="$detail: exit $rc: $(echo "$why" | cut -c1-160)"
  fi
  [ $rc -eq 77 ] && detail="$(tail -n 1 "$OUT/logs/$name.log" | cut -c1-150)"
  local result; result=$(grep -m1 '^RESULT ' "$OUT/logs/$name.log" | cut -c8-200)  # a step's own one-line verdict
  [ -n "$result" ] && detail="$result"
  record "$name" "$status" $((SECONDS - t0)) "$detail"
}

# pytest_step NAME PYTEST-ARGS...: the result from pytest's junit report (all skipped: SKIP)
pytest_step() {
  local name=$1; shift
  wanted "$name" || return 0
  local t0=$SECONDS
  python3 -m pytest -q -rs -p no:cacheprovider --junitxml="$OUT/$name.xml" "$@" > "$OUT/logs/$name.log" 2>&1
  local res; res=$(python3 tools/gpu/summarize.py --junit "$OUT/$name.xml")
  record "$name" "${res%%$'\t'*}" $((SECONDS - t0)) "${res#*$'\t'}"
}

# -- onnxruntime-gpu (not a step: the steps that need it say SKIP without it) ------------------------------------
if ls /root/ort/part* >/dev/null 2>&1 && [ ! -d /tmp/ortgpu/onnxruntime ]; then
  whl=/root/onnxruntime_gpu-1.31.1-cp312-cp312-manylinux_2_28_x86_64.whl
  cat /root/ort/part* > $whl
  if [ -f .device-ort/SHA256 ] && [ "$(sha256sum $whl | cut -d' ' -f1)" != "$(cat .device-ort/SHA256)" ]; then
    echo "onnxruntime-gpu wheel: checksum mismatch (parts missing?): $(ls /root/ort)"
  else
    python3 -m pip install -q --no-index --no-deps --target /tmp/ortgpu $whl
  fi
fi
[ -d /tmp/ortgpu/onnxruntime ] && export PYTHONPATH=/tmp/ortgpu:${PYTHONPATH:-}
# CUDA, cuBLAS, cuDNN and NVRTC libraries: the toolkit's, and those of pip's nvidia-* packages (torch's)
nvlibs=$(python3 -c 'import glob,os,site; print(":".join(d for p in site.getsitepackages() for d in glob.glob(os.path.join(p,"nvidia","*","lib"))))')
export LD_LIBRARY_PATH=${nvlibs}:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
ort_cuda=$(python3 -c 'import onnxruntime as o; print(int("CUDAExecutionProvider" in o.get_available_providers()))' 2>/dev/null || echo 0)

# -- env ------------------------------------------------------------------------------------------------------------
env_info() {
  nvidia-smi --query-gpu=name,driver_version,compute_cap,clocks.sm,clocks.max.sm,temperature.gpu,power.draw \
    --format=csv | tee "$OUT/gpu.txt"
  python3 - <<'PY' | tee -a "$OUT/gpu.txt"
import platform, onnxruntime as ort
from edge_sdk.cuda import versions
from edge_sdk.cuda.check import query_gpu
from edge_sdk.cuda.nvrtc import candidates
g = query_gpu(0)
print("python", platform.python_version(), "| onnxruntime", ort.__version__, ort.get_available_providers())
print("pycuda:", g.detail, "| driver CUDA", g.driver_cuda, "| runtime CUDA", versions.runtime_version(),
      "| toolkit", versions.toolkit_version())
print("nvrtc candidates:", candidates()[:4])
raise SystemExit(0 if g.available else 1)
PY
}
step env "GPU, driver, pycuda, onnxruntime" env_info

# -- kernels --------------------------------------------------------------------------------------------------------
kernels_here() {
  python3 tools/gpu/build_kernels.py --check || return 1
  python3 tools/gpu/build_kernels.py --out "$OUT/kernels" --fatbinary "$(command -v fatbinary)" || return 1
  python3 - "$OUT/kernels/letterbox.fatbin" <<'PY'
import sys
from edge_sdk.cuda import kernels
from edge_sdk.cuda.pycuda_backend import PycudaBackend
with PycudaBackend(0) as be, be.activate():
    module = be.cuda.module_from_file(sys.argv[1])
    for name in kernels.KERNEL_NAMES:
        module.get_function(name)
    print(f"the fatbin built here loads on {be.device_name} (sm {be.compute_capability}): {kernels.fatbin_images(open(sys.argv[1], 'rb').read())}")
    print("shipped kernels load as:", be.kernel_info())
PY
}
step kernels "committed fatbin matches letterbox.cu; one built here with this NVRTC loads" kernels_here

# -- tests ----------------------------------------------------------------------------------------------------------
if [ "$ort_cuda" = 1 ] && [ -f "$MODEL" ] && { wanted tests || wanted runner_bench; }; then
  python3 tools/gpu/ort_probe.py --model "$MODEL" --out "$OUT" > "$OUT/logs/ort_probe.log" 2>&1
fi
probe_ok() { python3 -c "import json; r=json.load(open('$OUT/ort_probe.json')); print(int(r['$1']['rc']==0))" 2>/dev/null || echo 1; }
export ORT_CUDA_GRAPH=$(probe_ok stream_graph) ORT_NAIVE_OK=$(probe_ok naive)
pytest_step tests -m gpu tests/cuda tests/trt tests/conformance
EDGE_SDK_KERNELS=nvrtc pytest_step tests_nvrtc -m gpu tests/cuda/test_gpu_preprocess.py tests/cuda/test_gpu_runner.py \
  tests/cuda/test_gpu_kernels.py

# -- selftest and doctor --------------------------------------------------------------------------------------------
selftest() {
  python3 -m edge_sdk.cli.main selftest --model "$MODEL" --video "$VIDEO" --work-dir /tmp/edge-selftest \
    --json --out "$OUT/selftest.json" > /dev/null; local rc=$?
  python3 -c "import json; [print(s['result'], s['name'], '-', s['detail'][:160]) for s in json.load(open('$OUT/selftest.json'))['steps']]"
  python3 - "$OUT/selftest.json" <<'PY' || return 1
import json, sys
s = {x["name"]: x["result"] for x in json.load(open(sys.argv[1]))["steps"]}
bad = [f"{n} is {s.get(n)}" for n in ("versions", "GPU kernels") if s.get(n) != "PASS"]
bad += [f"{n} is FAIL" for n, r in s.items() if r == "FAIL" and n not in ("versions", "GPU kernels")]
print("FAIL " + "; ".join(bad) if bad else "versions and GPU kernels PASS, nothing FAILs")
raise SystemExit(1 if bad else 0)
PY
}
step selftest "versions and GPU kernels PASS; TensorRT steps SKIP (no TensorRT here)" selftest
doctor() {
  python3 -m edge_sdk.cli.main doctor --json > "$OUT/doctor.json"
  python3 - "$OUT/doctor.json" <<'PY'
import json, sys
checks = {c["name"]: c for c in json.load(open(sys.argv[1]))["checks"]}
for name in ("CUDA", "driver stack", "pycuda", "GPU kernels", "TensorRT", "engine target"):
    c = checks.get(name, {})
    print(f"{c.get('status', '?'):4} {name}: {c.get('detail', '')}")
bad = [n for n in ("CUDA", "driver stack", "pycuda", "GPU kernels") if checks.get(n, {}).get("status") != "OK"]
raise SystemExit(1 if bad else 0)
PY
}
step doctor "CUDA, driver stack, pycuda and GPU kernels OK" doctor

# -- runs: the pipeline on the sample video, CPU and CUDA variants ---------------------------------------------------
write_config() {  # NAME PROVIDER [extra engine lines] [model precision]
  cat > "/tmp/edge-$1.yaml" <<YAML
device: cpu
device_id: gpu-check
state_dir: /tmp/edge-state
model: {path: $(abs "$MODEL"), precision: ${4:-fp32}}
engine: {type: onnxruntime, providers: [$2]${3:+, $3}}
sources: [{name: cam0, uri: "file://$(abs "$VIDEO")"}]
mqtt: {enabled: false}
YAML
}
runs() {
  [ "$ort_cuda" = 1 ] || { echo "no onnxruntime-gpu (CUDAExecutionProvider) here: copy its parts to /root/ort"; return 77; }
  write_config cpu CPUExecutionProvider
  write_config cuda_exact CUDAExecutionProvider "tf32: false"
  write_config cuda_tf32 CUDAExecutionProvider
  write_config cuda_fp16 CUDAExecutionProvider "" fp16
  write_config cuda_nograph CUDAExecutionProvider "cuda_graph: false, tf32: false"
  for name in cpu cuda_exact cuda_tf32 cuda_fp16 cuda_nograph; do
    python3 -m edge_sdk.cli.main -v run --config "/tmp/edge-$name.yaml" --json > "$OUT/run_$name.json" 2> "$OUT/logs/run_$name.log" \
      || { echo "edge-sdk run $name failed: $(tail -n 2 "$OUT/logs/run_$name.log")"; return 1; }
    echo "$name: $(cat "$OUT/run_$name.json" | head -c 300)"
  done
  grep -h "CUDA runner" "$OUT"/logs/run_cuda_*.log | head -3
  python3 - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
d = {n: json.loads((out / f"run_{n}.json").read_text())["detections"]
     for n in ("cpu", "cuda_exact", "cuda_tf32", "cuda_fp16", "cuda_nograph")}
print("detections:", d)
# plain FP32 on the GPU: the GPU letterbox rounds OpenCV's scalar row tails differently by one level, so a
# detection at the threshold may come or go: at most 2 or 0.5%; TF32 and FP16 move scores more: 2%
problems = [f"{n} {d[n]} vs cpu {d['cpu']}" for n in ("cuda_exact", "cuda_nograph")
            if abs(d[n] - d["cpu"]) > max(2, 0.005 * d["cpu"])]
problems += [f"{n} {d[n]} differs from cpu {d['cpu']} by more than 2%" for n in ("cuda_tf32", "cuda_fp16")
             if abs(d[n] - d["cpu"]) > 0.02 * d["cpu"]]
print("; ".join(problems) or "CUDA FP32 (TF32 off) finds the CPU's detections (within 2 or 0.5%); TF32 and FP16 within 2%")
raise SystemExit(1 if problems else 0)
PY
}
step runs "CUDA FP32 (TF32 off) = CPU detections (+-0.5%); TF32, FP16 within 2%; cuda_graph off runs" runs

# -- benchmarks -----------------------------------------------------------------------------------------------------
bench() {
  [ "$ort_cuda" = 1 ] || { echo "no onnxruntime-gpu here"; return 77; }
  write_config bench CUDAExecutionProvider
  sed -i "s|uri: \"file://$root/$VIDEO\"|uri: \"file://$root/$VIDEO?loop=1\"|" /tmp/edge-bench.yaml
  cat /tmp/edge-bench.yaml
  timeout 420 python3 -m edge_sdk.cli.main bench --config /tmp/edge-bench.yaml --no-mqtt --iterations 1000 \
    --max-frames "$BENCH_FRAMES" --repeats "$BENCH_REPEATS" --out "$OUT/bench_gpu.json" || return 1
  python3 tools/gpu/bench_verdict.py "$OUT/bench_gpu.json" --card "$(nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1)"
}
step bench "pipeline / engine-only (runner's own sessions, resident input, same batch) >= 0.90" bench
runner_bench() {
  args=(--repeats "$BENCH_REPEATS")
  [ "$ort_cuda" = 1 ] && args+=(--model "$MODEL" --video "$VIDEO")
  python3 tools/bench_runner.py --out "$OUT" "${args[@]}" || return 1
  python3 -c "import json; e=json.load(open('$OUT/runner_bench.json'))['errors']; print('failed parts:', list(e)); raise SystemExit(1 if e else 0)"
}
step runner_bench "tools/bench_runner.py: preprocess, overlap sweep, demo model" runner_bench
host_path() {  # CPU only: what each host stage of the GPU path costs a frame on this machine's cores
  timeout 300 python3 tools/bench_host_path.py --model "$MODEL" --video "$VIDEO" --frames 1000 --out "$OUT/host_path.json"
}
step host_path "tools/bench_host_path.py: us a frame per host stage, host ceiling fps (GPU work stood in)" host_path

batch_grid() {  # NAME ENGINE: the grid on the batch-taking demo copy with this engine section; targets checked
  cat > "/tmp/edge-$1.yaml" <<YAML
device: cpu
device_id: gpu-check
state_dir: /tmp/edge-state
model: {path: /tmp/edge-batch.onnx}
engine: $2
sources: [{name: cam0, uri: "file://$(abs "$VIDEO")"}]
mqtt: {enabled: false}
YAML
  # the bench writes its JSON after every cell: a grid cut by BATCH_TIMEOUT_S is still judged on what it measured
  local left=$((batch_deadline - SECONDS))
  [ $left -ge 30 ] || { echo "FAIL no time left for the $1 grid (BATCH_TIMEOUT_S=$BATCH_TIMEOUT_S s for the step)"; return 1; }
  timeout -k 10 "$left" python3 -m edge_sdk.cli.main bench --config "/tmp/edge-$1.yaml" \
    --cameras "$BATCH_CAMERAS" --batch "$BATCH_SIZES" --frames-per-camera "$BATCH_FRAMES" --iterations 200 \
    --out "$OUT/$1.json" 2> "$OUT/logs/$1.stderr"; local rc=$?
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "FAIL the $1 grid ran past the step's BATCH_TIMEOUT_S=$BATCH_TIMEOUT_S s: judged on the cells it finished; rerun with a smaller BATCH_FRAMES (now $BATCH_FRAMES)"
  [ -f "$OUT/$1.json" ] || { echo "FAIL edge-sdk bench wrote no $1.json (exit $rc): $(tail -n 3 "$OUT/logs/$1.stderr")"; return 1; }
  python3 tools/gpu/batch_targets.py "$OUT/$1.json" || rc=1
  return $rc
}
batch_bench() {  # many cameras, batched (#23); the model: the demo's weights with a batch dimension
  if [ "$ort_cuda" != 1 ] && [ "${BATCH_DRY:-}" != cpu ]; then
    echo "SKIP: this onnxruntime has no CUDAExecutionProvider ($(python3 -c 'import onnxruntime as o; print(o.__version__, o.get_available_providers())' 2>&1 | tail -n 1)): the GPU grid was NOT measured; copy onnxruntime-gpu's parts to /root/ort (../shared/device/prepare-ort-gpu.sh) and run again"
    return 77
  fi
  batch_deadline=$((SECONDS + BATCH_TIMEOUT_S))  # every grid of the step together
  python3 -m tools.models.batchable "$MODEL" /tmp/edge-batch.onnx > /dev/null || return 1
  if [ "${BATCH_DRY:-}" = cpu ]; then  # this script's logic on a CPU (no GPU figure): SKIP, never PASS
    batch_grid batch_cpu_dry "{type: onnxruntime, providers: [CPUExecutionProvider], batch_timeout_ms: 5}"
    echo "SKIP: DRY RUN on the CPU (BATCH_DRY=cpu, exit $?): the script's logic was checked, no GPU figure measured"
    return 77
  fi
  nvidia-smi --query-gpu=name --format=csv,noheader | head -n 1 | sed 's/^/GPU: /'
  local rc=0
  batch_grid batch_gpu "{type: onnxruntime, providers: [CUDAExecutionProvider], batch_timeout_ms: 5}" || rc=1
  if python3 -c "import tensorrt" 2>/dev/null; then  # the same grid on a TensorRT engine with a batch profile
    batch_grid batch_gpu_trt "{type: tensorrt, batch_timeout_ms: 5}" || rc=1
  else
    echo "TensorRT is not installed here: ONNX Runtime CUDA only"
  fi
  return $rc
}
step batch_bench "8 cameras batched >= 2x batch 1; pipeline >= 0.90 of engine-only at the same batch; fairness >= 0.9" batch_bench

python3 tools/gpu/summarize.py "$OUT"
