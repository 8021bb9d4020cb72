"""The one check of `Engine.infer`'s arguments against the engine's declared inputs (engines/base.py).

What passes:
- count and names: one array for a one-input model, a sequence in `info.inputs` order, or a mapping by name;
- dtype: exactly the declared one, or any floating type for a floating input (converted to the declared
  precision: float32 frames into a float16 input). Integer and floating never mix: float pixels in 0..1 cast to
  a uint8 input (or uint8 pixels to a float input) would be wrong values, not an error, so they are refused;
- shape: the declared rank; every fixed dimension equal; a dynamic one (a name, None, or a negative int such
  as TensorRT's -1) any size; with a `batch_range` the leading dimension of every input anywhere in that range
  and the same on all inputs (a batch of frames from several cameras).

Cost: a few comparisons per input (microseconds), no copy unless a float precision is converted.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from edge_sdk.errors import EngineInputError

if TYPE_CHECKING:
    from edge_sdk.engines.base import Inputs, TensorSpec


def check_inputs(specs: Sequence[TensorSpec], given: Inputs, batch_range: tuple[int, int] | None,
                 model: str) -> list[np.ndarray]:
    """`given` as one array per spec, in order, each of the declared dtype; EngineInputError if it does not fit."""
    arrays = _in_order(specs, given, model)
    batch: tuple[str, int] | None = None  # (first input's name, its leading size) when the engine varies the batch
    checked = []
    for spec, array in zip(specs, arrays):
        array = _with_dtype(spec, array, model)
        _check_shape(spec, array.shape, batch_range, model)
        if batch_range is not None and array.ndim:
            if batch is not None and array.shape[0] != batch[1]:
                raise EngineInputError(f"input {spec.name!r} has a batch of {array.shape[0]}, input {batch[0]!r} one "
                                       f"of {batch[1]}", where=model, fix="give every input the same leading size")
            batch = batch or (spec.name, array.shape[0])
        checked.append(array)
    return checked


def _in_order(specs: Sequence[TensorSpec], given: Inputs, model: str) -> list[np.ndarray]:
    names = [s.name for s in specs]
    if isinstance(given, np.ndarray):
        if len(specs) != 1:
            raise EngineInputError(f"the model has {len(specs)} inputs ({', '.join(names)}); infer got one array",
                                   where=model, fix="pass a list in that order, or a dict by input name")
        return [given]
    if isinstance(given, Mapping):
        missing = [n for n in names if n not in given]
        unknown = sorted(str(k) for k in given if k not in names)
        if missing or unknown:
            what = "; ".join(p for p in (f"missing {', '.join(missing)}" if missing else "",
                                         f"unknown {', '.join(unknown)}" if unknown else "") if p)
            raise EngineInputError(f"inputs by name do not match the model's ({what})", where=model,
                                   fix=f"give exactly these names: {', '.join(names)}")
        arrays = [given[n] for n in names]
    else:
        arrays = list(given)
        if len(arrays) != len(specs):
            raise EngineInputError(f"infer got {len(arrays)} arrays; the model has {len(specs)} inputs "
                                   f"({', '.join(names)})", where=model, fix="give one array per input, in that order")
    for name, array in zip(names, arrays):
        if not isinstance(array, np.ndarray):
            raise EngineInputError(f"input {name!r} is a {type(array).__name__}, not a numpy array", where=model,
                                   fix="pass numpy arrays (np.asarray(...) with the model's dtype)")
    return arrays


@functools.lru_cache(maxsize=64)
def _numpy_dtype(name: str) -> np.dtype[np.generic] | None:
    """The declared dtype, or None where numpy has no such type (then the backend itself judges the array)."""
    try:
        return np.dtype(name)
    except TypeError:
        return None


def _with_dtype(spec: TensorSpec, array: np.ndarray, model: str) -> np.ndarray:
    want = _numpy_dtype(spec.dtype)
    if want is None or array.dtype == want:
        return array
    if array.dtype.kind == "f" and want.kind == "f":
        return array.astype(want)
    raise EngineInputError(f"input {spec.name!r} is {array.dtype}; the model takes {want}", where=model,
                           fix=f"give {want} as the model's preprocessing expects (integer and floating inputs are "
                               "not converted: that would change the values' scale, e.g. 0..1 against 0..255)")


def _fixed(dim: int | str | None) -> bool:
    return isinstance(dim, int) and not isinstance(dim, bool) and dim >= 0


def _check_shape(spec: TensorSpec, shape: tuple[int, ...], batch_range: tuple[int, int] | None, model: str) -> None:
    declared = "[" + ",".join("?" if not _fixed(d) else str(d) for d in spec.shape) + "]"
    if len(shape) != len(spec.shape):
        raise EngineInputError(f"input {spec.name!r} has shape {list(shape)} ({len(shape)} dimensions); the model takes "
                               f"{declared}", where=model, fix=f"give {len(spec.shape)} dimensions")
    for axis, (dim, got) in enumerate(zip(spec.shape, shape)):
        if axis == 0 and batch_range is not None:
            low, high = batch_range
            if not low <= got <= high:
                raise EngineInputError(f"input {spec.name!r} has a batch of {got}; the engine takes {low} to {high}",
                                       where=model, fix=f"split the frames into batches of at most {high}")
        elif _fixed(dim) and got != dim:
            raise EngineInputError(f"input {spec.name!r} has shape {list(shape)}; the model takes {declared}",
                                   where=model, fix=_shape_fix(axis, dim))


def _shape_fix(axis: int, dim: int | str | None) -> str:
    if axis == 0:
        return (f"the model's batch is fixed at {dim}: give {dim} frame(s) per call, or export the model with a "
                "dynamic batch (e.g. dynamic=True) to batch more")
    return "resize or letterbox to the model's input size (edge_sdk.preprocess), or export the model at the size fed"
