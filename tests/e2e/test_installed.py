"""`pip install .` as a user does it, outside the checkout: a wheel built from a copy of the source tree (no
setuptools warnings), installed into a fresh virtual environment, holds the runtime package only (no tools/,
no scene generator) and the data `edge-sdk selftest` needs, which then passes from an unrelated folder.

The new environment sees the test environment's dependencies (numpy, onnxruntime, ...) through a .pth file,
but not its editable edge-sdk: only the wheel's copy can be imported. The optional C extension is left out
(CC=false; the install goes on without it, as documented) to keep the build short."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TREE = ["setup.py", "pyproject.toml", "README.md", "edge_sdk", "device_configs", "models/demo", "samples"]

pytestmark = pytest.mark.slow


def copy_source(dst: Path) -> Path:
    ignore = shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info")
    for name in TREE:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=ignore)
        else:
            (dst / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / name)
    return dst


def test_pip_install_ships_the_runtime_and_selftest_runs_outside_the_checkout(tmp_path: Path) -> None:
    src = copy_source(tmp_path / "src")
    env = {**os.environ, "CC": "false", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path / "dist"),
                            str(src)], capture_output=True, text=True, env=env, timeout=300)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    log = build.stdout + build.stderr
    assert "is absent from the `packages` configuration" not in log and "_IncludePackageDataAbuse" not in log
    (wheel,) = (tmp_path / "dist").glob("edge_sdk-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if n.startswith(("tools/", "tests/")) or "/scenes/" in n or "spin.py" in n]
    assert "edge_sdk/schemas/detection.schema.json" in names and "edge_sdk/py.typed" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    purelib = Path(subprocess.run([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    deps = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib"), *site.getsitepackages()}
    (purelib / "test_deps.pth").write_text("\n".join(sorted(deps)) + "\n")  # plain paths: no .pth inside is run
    subprocess.run([str(venv / "bin/python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                   check=True, timeout=300, env=env)

    # provision's test "does the service's venv run this code" compares exactly what the wheel installed
    from edge_sdk.provision.steps.service_env import code_fingerprint, venv_fingerprint

    assert venv_fingerprint(venv) == code_fingerprint(src / "edge_sdk", src / "device_configs")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run([str(venv / "bin/python"), "-c", "import edge_sdk, importlib.util as u; "
                            "print(edge_sdk.__file__, u.find_spec('tools'))"], capture_output=True, text=True,
                           cwd=elsewhere, check=True).stdout.split()
    assert where[0].startswith(str(venv)) and where[1] == "None"
    proc = subprocess.run([str(venv / "bin/edge-sdk"), "selftest", "--json", "--frames", "2", "--device", "cpu"],
                          capture_output=True, text=True, cwd=elsewhere, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    steps = {s["name"]: s for s in json.loads(proc.stdout)["steps"]}
    assert steps["demo model"]["result"] == "PASS" and steps["onnxruntime fp32"]["result"] == "PASS"
    assert str(venv / "share/edge-sdk/models/demo/yolo-demo.onnx") in json.dumps(steps["demo model"]["data"])
