#!/usr/bin/env bash
# Runs edge-sdk's test suite on a fresh Debian/Ubuntu machine: installs the system packages the tests use
# (Mosquitto, GStreamer, ffmpeg, systemd-analyze, openssl) when missing, makes .venv, installs edge-sdk
# with its test and dev extras, then runs ruff, mypy and pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PACKAGES=$(grep -v '^#' scripts/apt-packages.txt | tr '\n' ' ')
missing=$(dpkg-query -W -f='${Package} ${Status}\n' $APT_PACKAGES 2>/dev/null | grep -v 'install ok installed' | cut -d' ' -f1 || true)
for p in $APT_PACKAGES; do dpkg-query -W "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$(echo $missing)" ]; then
  echo "== installing system packages:$missing"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test,dev]'
# tensorrt-stubs declares a dependency on tensorrt, whose libraries download from NVIDIA's own index:
# install the stubs alone (mypy checks the TensorRT layer against them; nothing imports them at run time).
.venv/bin/python -m pip install -q --no-deps 'tensorrt-stubs==10.13.0.35.1'
# mypy reads those stubs through a copy with their syntax errors fixed, made here (not committed; < 1 s)
.venv/bin/python tools/trt_api/make_typings.py
echo "== ruff"; .venv/bin/ruff check edge_sdk tests apps tools --exclude tools/train
echo "== mypy"; .venv/bin/mypy
echo "== pytest"; .venv/bin/python -m pytest -q "$@"
