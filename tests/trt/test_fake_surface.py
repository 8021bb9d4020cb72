"""The `fake_tensorrt` stand-in's own surface is checked against the real API dumps, so it cannot invent API.

Every class, method and property the stand-in implements exists in the dump of at least one version, with
the same parameter names (every call the stand-in accepts, the real bindings accept); on each version the stand-in
exposes only what that version's dump has. This tests the test double, not TensorRT.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from tests.trt import fake_tensorrt as ft

TARGETS = ft.TARGET_NAMES


def own_members(impl: type) -> dict[str, object]:
    return {k: v for k, v in vars(impl).items() if not k.startswith("_") or k == "__init__"}


def instance_attributes(impl: type) -> set[str]:
    """Public attributes a fake class sets with object.__setattr__(self, "name", ...) in its methods."""
    tree = ast.parse(Path(ft.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == impl.__name__):
        for node in ast.walk(cls):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "__setattr__" \
                    and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
                names.add(str(node.args[1].value))
    return names


def fake_params(fn: object) -> list[str]:
    assert callable(fn)
    sig = inspect.signature(fn)
    return [p.name + ("=" if p.default is not inspect.Parameter.empty else "")
            for p in list(sig.parameters.values())[1:]]


def accepts(real: list[str], fake: list[str]) -> bool:
    """Whether every call the fake accepts, the real overload accepts too: same leading parameters (names and
    whether they have defaults); the real one may have more, if they have defaults."""
    return real[:len(fake)] == fake and all(p.endswith("=") for p in real[len(fake):])


@pytest.mark.parametrize("impl", ft.IMPLEMENTED, ids=lambda c: c.__name__)
def test_every_fake_member_exists_in_a_real_dump_with_the_same_parameters(impl: type) -> None:
    apis = {t: ft.load_api(ft.target(t).dump) for t in TARGETS}
    having = {p: ft.class_members(api, impl._api_name) for p, api in apis.items() if impl._api_name in api["classes"]}
    assert having, f"{impl._api_name} is in no dump"
    names = set(own_members(impl)) | instance_attributes(impl)
    for name in sorted(names):
        kinds = {p: members[name] for p, members in having.items() if name in members}
        assert kinds, f"fake {impl._api_name}.{name} exists in no TensorRT dump"
        value = vars(impl).get(name)
        for p, kind in kinds.items():
            if isinstance(kind, str):  # a property / attribute in the real bindings
                assert not inspect.isfunction(value), f"{impl._api_name}.{name} is a {kind} in {p}, the fake a method"
                continue
            if name == "__init__" and not kind:
                continue  # no public constructor in the bindings: the fake's is internal
            assert inspect.isfunction(value), f"{impl._api_name}.{name} is a method in {p}"
            overloads = [[a for a in o if not a.startswith("*")] for o in kind]
            if overloads and not any(accepts(o, fake_params(value)) for o in overloads):
                pytest.fail(f"{impl._api_name}.{name}{tuple(fake_params(value))} matches no {p} signature {kind}")


@pytest.mark.parametrize("name", TARGETS)
def test_fake_exposes_only_what_the_version_has(name: str) -> None:
    trt, rec = ft.make_fake_tensorrt(name)
    path = ft.target(name).path
    api = ft.load_api(ft.target(name).dump)
    for enum, values in api["enums"].items():
        cls = getattr(trt, enum)
        assert all(getattr(cls, v).name == v for v in values)
    with pytest.raises(AttributeError):
        _ = trt.NoSuchThing
    assert hasattr(trt.BuilderFlag, "INT8") == (path != "11")
    assert hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED") == (path != "8.6")
    assert hasattr(trt, "IProgressMonitor") == (path != "8.6")
    assert hasattr(trt, "IInt8EntropyCalibrator2") == (path != "11")
    engine = trt.ICudaEngine({"io": []})
    context = engine.create_execution_context()
    assert hasattr(context, "execute_async_v2") == (path == "8.6")
    assert hasattr(engine, "num_bindings") == (path == "8.6")
    error = trt.ParserError("d", 0, "n", "Op")
    assert hasattr(error, "node_name") == (path != "8.6")
    assert "IExecutionContext.execute_async_v2" in rec.missing or path == "8.6"
