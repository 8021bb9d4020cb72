#!/usr/bin/env bash
# The edge-sdk demo, end to end, on a fresh Debian/Ubuntu machine without a GPU:
#   1. installs Mosquitto if it is missing (apt), makes .venv and installs edge-sdk into it;
#   2. starts a private Mosquitto on a free loopback port;
#   3. runs `edge-sdk subscribe` (you see detections arrive) and the daemon `edge-sdk run` on the bundled
#      sample video with the bundled demo model (ONNX Runtime on the CPU);
#   4. prints a closing summary: frames, detections, recall against the sample's ground truth.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
  echo "== installing mosquitto"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mosquitto >/dev/null
fi
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
echo "== installing edge-sdk into .venv"
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
work=$(mktemp -d)
PORT=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$PORT" > "$work/mosquitto.conf"
"$MOSQUITTO" -c "$work/mosquitto.conf" >"$work/mosquitto.log" 2>&1 &
BROKER_PID=$!
cleanup() { kill "${SUB_PID:-}" "${SHOW_PID:-}" "$BROKER_PID" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
.venv/bin/python - "$PORT" <<'PYEOF'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close(); break
    except OSError:
        time.sleep(0.05)
PYEOF
echo "== broker on 127.0.0.1:$PORT; detections as they arrive (first 15 frames shown):"
.venv/bin/edge-sdk subscribe --broker "127.0.0.1:$PORT" --json --timeout 120 > "$work/messages.jsonl" &
SUB_PID=$!
.venv/bin/edge-sdk subscribe --broker "127.0.0.1:$PORT" --count 15 --timeout 120 &
SHOW_PID=$!
sleep 1
.venv/bin/edge-sdk run --config configs/demo.yaml --broker "127.0.0.1:$PORT"
sleep 1
kill -INT "$SUB_PID" 2>/dev/null || true; wait "$SUB_PID" 2>/dev/null || true
kill "$SHOW_PID" 2>/dev/null || true
.venv/bin/python scripts/demo_summary.py "$work/messages.jsonl" samples/demo.coco.json
