"""Every TensorRT name edge-sdk uses exists in the real API of each version path that uses it.

The name lists are the committed dumps of NVIDIA's own bindings (tests/data/trt_api/, from
tools/trt_api/dump_trt_api.py): tensorrt-bindings 8.6.1, tensorrt-cu12-bindings 10.3.0 and
tensorrt-cu13-bindings 11.4.0.106, and 10.16.1.11 (JetPack 7.2's TensorRT; the cu12 and cu13 wheels of 10.16.1.11 dump
identically, as do 10.16.0.72 and 10.16.1.11). Each check runs per target version (10.3 and 10.16 share path "10"
but not a dump). Two checks that complement each other:
- statically, every `trt.X` / `trt.X.Y` in the TensorRT modules exists in the dump of every path that
  uses it (`PATH_SPECIFIC` lists the names only some paths use), and the compat accessors' names exist
  exactly where LEGACY_NAMES says;
- dynamically, edge-sdk's build, DLA, parse-error and run flows go through `fake_tensorrt` on each path
  (whose surface is that version's dump) and every name they touch (classes, enum values, methods,
  properties) is in that dump, path-specific names only on their paths, and every name found statically
  is exercised on some path.
This checks names and parameters, not behaviour: nothing here runs TensorRT.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_sdk.device.profiles import load_profile
from edge_sdk.engines.backends.tensorrt import TensorRtEngineConfig
from edge_sdk.engines.trt.builder import build_engine
from edge_sdk.engines.trt.compat import LEGACY_NAMES
from edge_sdk.errors import BuildError
from tests.trt.conftest import InstallTrt
from tests.trt.fake_tensorrt import TARGET_NAMES, FakeState, class_members, load_api, target
from tests.trt.models import calibration_cache, tiny_detector

ROOT = Path(__file__).resolve().parents[2]
TRT_MODULES = sorted((ROOT / "edge_sdk" / "engines" / "trt").glob("*.py")) + [
    ROOT / "edge_sdk" / "device" / "probes.py", ROOT / "edge_sdk" / "engines" / "backends" / "tensorrt.py"]
PATHS = ("8.6", "10", "11")
TARGETS = TARGET_NAMES
# Names the code uses on some paths only (everything else it uses on all three).
PATH_SPECIFIC: dict[str, tuple[str, ...]] = {
    "NetworkDefinitionCreationFlag.EXPLICIT_BATCH": ("8.6",),
    "NetworkDefinitionCreationFlag.STRONGLY_TYPED": ("11",),
    "BuilderFlag.INT8": ("8.6", "10"),
    "BuilderFlag.FP16": ("8.6", "10"),
    "IInt8EntropyCalibrator2": ("8.6", "10"),
    "IBuilderConfig.int8_calibrator": ("8.6", "10"),
    "IProgressMonitor": ("10", "11"),
    "IBuilderConfig.progress_monitor": ("10", "11"),
    "ParserError.node_name": ("10", "11"),
    "ParserError.node_operator": ("10", "11"),
    "ICudaEngine.num_io_tensors": ("10", "11"),
    "ICudaEngine.get_tensor_name": ("10", "11"),
    "ICudaEngine.get_tensor_mode": ("10", "11"),
    "ICudaEngine.get_tensor_shape": ("10", "11"),
    "ICudaEngine.get_tensor_dtype": ("10", "11"),
    "IExecutionContext.set_tensor_address": ("10", "11"),
    "IExecutionContext.execute_async_v3": ("10", "11"),
    "TensorIOMode.INPUT": ("10", "11"),
    "TensorIOMode.NONE": ("10", "11"),
    "PreviewFeature.PROFILE_SHARING_0806": ("8.6",),  # profiles shared between contexts: the default from 10.0
    "IBuilderConfig.set_preview_feature": ("8.6",),
    **{name: paths for name, paths in LEGACY_NAMES.items()},
}


def has_name(name: str, dotted: str) -> bool:
    """Whether target `name`'s dump (or, for an API path, the dumps of every target on it) has `dotted`."""
    if name in PATHS and name not in TARGETS:
        return all(has_name(t, dotted) for t in TARGETS if target(t).path == name)
    api = load_api(target(name).dump)
    head, _, tail = dotted.partition(".")
    if not tail:
        return head in api["classes"] or head in api["enums"] or head in api["functions"]
    if head in api["enums"]:
        return tail in api["enums"][head]
    return tail in class_members(api, head)


def _annotation_nodes(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotations = [a.annotation for a in (*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs)]
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations = [node.annotation]
        for ann in annotations:
            if ann is not None:
                ids |= {id(n) for n in ast.walk(ann)}
    return ids


def trt_chains(source: str, runtime_only: bool = False) -> set[str]:
    """`X` and `X.Y` for every `trt.X[.Y]` in a module; `runtime_only` leaves out type annotations."""
    chains = set()
    tree = ast.parse(source)
    skip = _annotation_nodes(tree) if runtime_only else set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) \
                and isinstance(node.value.value, ast.Name) and node.value.value.id == "trt":
            chains.add(f"{node.value.attr}.{node.attr}")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "trt":
            chains.add(node.attr)
    return {c for c in chains if not c.startswith("_") and c.split(".")[-1] != "__init__"}


def static_names(runtime_only: bool = False) -> set[str]:
    names: set[str] = set()
    for module in TRT_MODULES:
        names |= trt_chains(module.read_text(encoding="utf-8"), runtime_only)
    return names


def test_static_trt_names_exist_in_every_path_that_uses_them() -> None:
    names = static_names()
    assert {"Builder", "OnnxParser", "BuilderFlag.INT8", "MemoryPoolType.WORKSPACE", "DeviceType.DLA"} <= names
    problems = [f"{name} missing in TensorRT {target(t).dump}" for name in sorted(names)
                for t in TARGETS if target(t).path in PATH_SPECIFIC.get(name, PATHS) and not has_name(t, name)]
    assert not problems, problems


def test_path_specific_names_exist_exactly_where_declared_or_are_unused_elsewhere() -> None:
    for name, paths in PATH_SPECIFIC.items():
        for p in paths:
            assert has_name(p, name), f"{name} is declared for path {p} but a TensorRT of that path lacks it"


def test_legacy_accessor_names_are_absent_from_the_1013_stubs_and_other_paths() -> None:
    """compat.py exists for names mypy's 10.13 stubs lack; each must exist only on its declared paths."""
    stubs = (ROOT / "tools/trt_api/typings/tensorrt_bindings/tensorrt.pyi").read_text(encoding="utf-8")
    for name, paths in LEGACY_NAMES.items():
        member = name.split(".")[1]
        assert f"def {member}(" not in stubs and f"    {member}:" not in stubs, f"{name} is in the stubs: no accessor"
        for t in TARGETS:
            assert has_name(t, name) == (target(t).path in paths), f"{name} on {t}"


def run_all_flows(name: str, install: InstallTrt, cuda: Any, tmp: Path) -> Any:
    """Drive every TensorRT-touching flow of edge-sdk on one target version; returns the recorders."""
    from edge_sdk.device.probes import dla_cores_from_tensorrt
    from edge_sdk.engines.backends.tensorrt import TensorRtEngine

    def fill(addresses: dict[str, int], stream: int) -> None:
        cuda.memory.view(addresses["output0"])[:] = 0

    _, rec = install(name, FakeState(num_dla_cores=2, dla_unsupported_ops=frozenset({"Sigmoid"}), on_execute=fill))
    agx = load_profile("orin-agx")
    tmp.mkdir(parents=True, exist_ok=True)
    fp32 = tiny_detector(tmp / "m.onnx")
    qdq = tiny_detector(tmp / "m.qdq.onnx", qdq=True)
    calib = calibration_cache(tmp / "m.cache")
    built = [build_engine(qdq, None, agx, TensorRtEngineConfig(), tmp / "e"),
             build_engine(fp32, None, agx, TensorRtEngineConfig(tf32=False), tmp / "e")]
    if name != "10.16":  # no DLA on Orin with 10.16 (refused before TensorRT is touched)
        built.append(build_engine(qdq, calib, agx, TensorRtEngineConfig(dla_core=1), tmp / "e"))
    for art in built:
        with TensorRtEngine(art.engine_path, slots=2) as engine:
            engine.infer(np.zeros((1, 3, 32, 32), np.float32))
    batched = build_engine(tiny_detector(tmp / "b.onnx", batch="batch"), None, agx, TensorRtEngineConfig(max_batch=4),
                           tmp / "e")  # a dynamic batch: an optimization profile, shapes set per inference
    with TensorRtEngine(batched.engine_path, slots=2) as engine:
        engine.infer(np.zeros((3, 3, 32, 32), np.float32))
    _, rec2 = install(name, FakeState(unsupported_ops=frozenset({"Conv"})))
    with pytest.raises(BuildError):
        build_engine(fp32, None, agx, TensorRtEngineConfig(), tmp / "f")
    assert dla_cores_from_tensorrt() == 0
    return rec, rec2


def test_dynamic_usage_on_each_path_is_within_that_versions_api(install_fake_trt: InstallTrt, fake_cuda: Any,
                                                                tmp_path: Path) -> None:
    accessed: dict[str, set[str]] = {}
    for name in TARGETS:
        recs = run_all_flows(name, install_fake_trt, fake_cuda, tmp_path / name)
        assert not any(r.missing for r in recs), [r.missing for r in recs]
        path = target(name).path
        accessed[name] = set().union(*(r.accessed for r in recs))
        outside = [n for n in accessed[name] if not has_name(name, n)]
        assert not outside, f"{name}: {outside}"
        wrong = [n for n in accessed[name] if n in PATH_SPECIFIC and path not in PATH_SPECIFIC[n]]
        assert not wrong, f"{name} uses names declared for other paths: {wrong}"
    every = set().union(*accessed.values())
    unexercised = sorted(n for n in static_names(runtime_only=True) if n not in every)
    assert not unexercised, f"names in the code that no contract flow reaches: {unexercised}"
    assert "IExecutionContext.execute_async_v2" in accessed["8.6"]
    assert all("IExecutionContext.execute_async_v3" in accessed[t] for t in ("10.3", "10.16", "11"))


def test_no_any_escape_hatches_around_tensorrt_calls() -> None:
    """Modules that import tensorrt use no Any, cast(), `type: ignore` or getattr (compat.py alone may getattr)."""
    problems = []
    for module in TRT_MODULES:
        text = module.read_text(encoding="utf-8")
        if "import tensorrt" not in text:
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Name) and node.id in ("Any", "cast"):
                problems.append(f"{module.name}:{node.lineno}: {node.id}")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" \
                    and module.name != "compat.py" and module.name != "version.py":
                problems.append(f"{module.name}:{node.lineno}: getattr")
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT and "type: ignore" in tok.string:
                problems.append(f"{module.name}:{tok.start[0]}: type: ignore")
    assert not problems, problems
