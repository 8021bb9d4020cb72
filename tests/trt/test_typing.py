"""mypy really checks edge-sdk's TensorRT calls against tensorrt-stubs 10.13 (through the fixed copy in
tools/trt_api/typings that pyproject.toml's mypy_path names, made by scripts/test.sh), and that copy matches the
installed stubs."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

MISUSE = '''\
import tensorrt as trt


def f(config: trt.IBuilderConfig, engine: trt.ICudaEngine) -> None:
    config.set_flag("INT8")
    config.DLA_core = "zero"
    engine.get_binding_name(0)
'''


@pytest.mark.skipif(importlib.util.find_spec("mypy") is None, reason="mypy is not installed (dev extra)")
def test_mypy_rejects_misuse_of_the_tensorrt_api(tmp_path: Path) -> None:
    snippet = tmp_path / "misuse.py"
    snippet.write_text(MISUSE)
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "pyproject.toml", "--cache-dir",
                           str(tmp_path / "cache"), str(snippet)], capture_output=True, text=True, cwd=ROOT, timeout=300)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert 'incompatible type "str"; expected "BuilderFlag"' in out
    assert 'expression has type "str", variable has type "int"' in out
    assert '"ICudaEngine" has no attribute "get_binding_name"' in out  # 8.6-only: must go through compat.py


def test_the_generated_typings_match_the_installed_tensorrt_stubs() -> None:
    """scripts/test.sh makes the copy (it is not committed); a stale or missing copy says how to make it."""
    try:
        version = importlib.metadata.version("tensorrt-stubs")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("tensorrt-stubs is not installed (scripts/test.sh installs it)")
    proc = subprocess.run([sys.executable, "tools/trt_api/make_typings.py", "--check"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 0, f"tensorrt-stubs {version}: {proc.stderr}; run python tools/trt_api/make_typings.py"
    assert not subprocess.run(["git", "ls-files", "tools/trt_api/typings"], capture_output=True, text=True, cwd=ROOT,
                              check=True).stdout, "the typings are generated, never committed"
