"""tools/trt_api/dump_trt_api.py: signature parsing on real pybind11 signature lines, and the committed dumps."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dump_trt_api", ROOT / "tools/trt_api/dump_trt_api.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("line", "params"), [
    ("set_memory_pool_limit(self: tensorrt_bindings.tensorrt.IBuilderConfig, pool: tensorrt_bindings.tensorrt."
     "MemoryPoolType, pool_size: int) -> None", ["pool", "pool_size"]),
    ("parse(self: tensorrt_bindings.tensorrt.OnnxParser, model: buffer, path: str = None) -> bool", ["model", "path="]),
    ("1. __init__(self: tensorrt_bindings.tensorrt.Dims, shape: List[int]) -> None", ["shape"]),
    ("execute_async_v2(self: tensorrt_bindings.tensorrt.IExecutionContext, bindings: List[int], stream_handle: int, "
     "input_consumed: capsule = None) -> bool", ["bindings", "stream_handle", "input_consumed="]),
    ("f(self: X, d: Dict[str, Tuple[int, int]], *args, **kwargs) -> None", ["d", "*args", "**kwargs"]),
    ("Overloaded function.", None),
])
def test_signature_lines_become_parameter_names(line: str, params: list[str] | None) -> None:
    assert tool().params_of(line) == params


@pytest.mark.parametrize(("version", "package"), [("8.6.1", "tensorrt-bindings"), ("10.3.0", "tensorrt-cu12-bindings"),
                                                  ("10.16.1.11", "tensorrt-cu12-bindings"),
                                                  ("11.4.0.106", "tensorrt-cu13-bindings")])
def test_committed_dumps_are_complete(version: str, package: str) -> None:
    data = json.loads((ROOT / f"tests/data/trt_api/tensorrt-{version}.json").read_text())
    assert data["version"] == version and data["package"] == package
    assert len(data["classes"]) > 100 and "BuilderFlag" in data["enums"] and "Builder" in data["classes"]
    assert data["classes"]["IBuilderConfig"]["members"]["set_flag"] == [["flag"]]


def test_compacting_a_raw_dump(tmp_path: Path) -> None:
    t = tool()
    raw = {"classes": {"B": {"bases": ["A"], "members": {"f": {"kind": "method", "signature": [
        "f(self: B, x: int, y: int = 0) -> None"]}, "p": {"kind": "property"}}}},
        "enums": {"E": ["Y", "X"]}, "functions": {"g": ["g(a: int) -> int"]}, "constants": ["c"]}
    data = t.compact(raw, "9.9.9")
    t.write_compact(data, tmp_path / "x.json")
    back = json.loads((tmp_path / "x.json").read_text())
    assert back["classes"]["B"] == {"bases": ["A"], "members": {"f": [["x", "y="]], "p": "property"}}
    assert back["enums"] == {"E": ["X", "Y"]} and back["functions"] == {"g": [["a"]]}
