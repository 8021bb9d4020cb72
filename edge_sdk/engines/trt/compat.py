"""Typed accessors for the TensorRT names that the 10.13 stubs (what mypy checks against) do not have.

edge-sdk's TensorRT code is type-checked against `tensorrt-stubs` 10.13. A few names it needs exist only in
other versions: TensorRT 8.6's binding API and `execute_async_v2` (removed in 10.0). They are reached here,
and only here, by name through `_member`, and every result is converted at once to a plain, checked value,
so no untyped object leaves this module. `LEGACY_NAMES` says which API paths have each name;
tests/trt/test_api_usage.py checks it against the name lists dumped from each version's real bindings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from edge_sdk.engines.trt.version import ApiPath
from edge_sdk.errors import EngineError

if TYPE_CHECKING:
    import tensorrt as trt

# "Class.member" -> the API paths whose TensorRT has it (and that call it).
LEGACY_NAMES: dict[str, tuple[ApiPath, ...]] = {
    "ICudaEngine.num_bindings": ("8.6",),
    "ICudaEngine.get_binding_name": ("8.6",),
    "ICudaEngine.binding_is_input": ("8.6",),
    "ICudaEngine.get_binding_shape": ("8.6",),
    "ICudaEngine.get_binding_dtype": ("8.6",),
    "IExecutionContext.execute_async_v2": ("8.6",),
}


@runtime_checkable
class _DimsLike(Protocol):
    """What a TensorRT Dims offers: len() and integer indexing."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: int) -> int: ...


def _member(obj: object, qualified: str) -> object:
    """`obj.<member>` for a name listed in LEGACY_NAMES, with an EngineError naming the version if absent."""
    if qualified not in LEGACY_NAMES:
        raise KeyError(f"{qualified} is not declared in LEGACY_NAMES")
    member = qualified.partition(".")[2]
    try:
        return getattr(obj, member)
    except AttributeError:
        paths = ", ".join(LEGACY_NAMES[qualified])
        raise EngineError(f"this TensorRT has no {qualified} (only TensorRT {paths} does)",
                          fix="report this: edge-sdk chose the wrong API path for the installed TensorRT") from None


def _call(obj: object, qualified: str, *args: object) -> object:
    fn = _member(obj, qualified)
    if not callable(fn):
        raise EngineError(f"{qualified} is not callable in this TensorRT")
    result: object = fn(*args)
    return result


def num_bindings(engine: trt.ICudaEngine) -> int:
    """TensorRT 8.6: number of bindings (inputs and outputs), in binding-index order."""
    value = _member(engine, "ICudaEngine.num_bindings")
    if not isinstance(value, int):
        raise EngineError(f"ICudaEngine.num_bindings returned {type(value).__name__}, expected int")
    return value


def binding_name(engine: trt.ICudaEngine, index: int) -> str:
    return str(_call(engine, "ICudaEngine.get_binding_name", index))


def binding_is_input(engine: trt.ICudaEngine, index: int) -> bool:
    return bool(_call(engine, "ICudaEngine.binding_is_input", index))


def binding_shape(engine: trt.ICudaEngine, index: int) -> tuple[int, ...]:
    dims = _call(engine, "ICudaEngine.get_binding_shape", index)
    if not isinstance(dims, _DimsLike):
        raise EngineError(f"ICudaEngine.get_binding_shape returned {type(dims).__name__}, expected Dims")
    return tuple(int(dims[i]) for i in range(len(dims)))


def binding_dtype(engine: trt.ICudaEngine, index: int) -> trt.DataType:
    import tensorrt as trt

    dtype = _call(engine, "ICudaEngine.get_binding_dtype", index)
    if not isinstance(dtype, trt.DataType):
        raise EngineError(f"ICudaEngine.get_binding_dtype returned {type(dtype).__name__}, expected DataType")
    return dtype


def execute_async_v2(context: trt.IExecutionContext, bindings: list[int], stream_handle: int) -> bool:
    """TensorRT 8.6: enqueue with device pointers in binding-index order on a CUDA stream handle."""
    fn = _member(context, "IExecutionContext.execute_async_v2")
    if not callable(fn):
        raise EngineError("IExecutionContext.execute_async_v2 is not callable in this TensorRT")
    run: Callable[[list[int], int], object] = fn
    return bool(run(bindings, stream_handle))
