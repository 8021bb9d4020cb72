"""Choose a decoder: a built-in layout by name, a plugin by dotted path, or auto-detection over every output.

Auto-detection never guesses: exactly one built-in layout must account for all outputs, else it refuses,
listing the outputs, the layouts it knows and how to name one or write a plugin.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from edge_sdk.decode.base import BoundDecoder, DecodeFn, DecodeModel
from edge_sdk.decode.layouts import BY_NAME, LAYOUTS, Layout, ModelFacts, OutputInfo, describe_outputs
from edge_sdk.errors import ConfigError, ModelError

#: Built-in decode functions by layout name (each `(outputs, ctx) -> Detections`).
BUILTIN: dict[str, DecodeFn] = {layout.name: layout.decode for layout in LAYOUTS}

PLUGIN_HOWTO = ("write a decoder plugin, a function `decode(outputs, ctx) -> Detections` (docs/models.md, example "
                "apps/centernet_decoder.py), and set decode.type: yourpackage.module:decode")


def known_layouts() -> str:
    return "; ".join(f"{layout.name}: {layout.looks_like}" for layout in LAYOUTS)


def detect(outputs: Sequence[OutputInfo], facts: ModelFacts) -> tuple[Layout, str]:
    """The one built-in layout that accounts for every output, and how it matched; refuses otherwise."""
    outs = tuple(outputs)
    found = [(layout, how) for layout in LAYOUTS if (how := layout.match(outs, facts)) is not None]
    if len(found) == 1:
        return found[0]
    classes = f"{facts.num_classes} classes from the labels" if facts.num_classes else "no labels"
    seen = f"outputs {describe_outputs(outs)} (input {list(facts.input_size)}, {classes})"
    if found:
        names = ", ".join(f"{layout.name} ({how})" for layout, how in found)
        raise ModelError(f"{seen} fit several layouts: {names}",
                         fix=f"set decode.type to the right one ({', '.join(lay.name for lay, _ in found)}); if the "
                             "class count is what tells them apart, give model.labels")
    raise ModelError(f"cannot tell how to decode {seen}. Known layouts: {known_layouts()}",
                     fix=f"if the model is one of these, set decode.type (and model.labels if the class count is "
                         f"unknown); otherwise {PLUGIN_HOWTO}")


def detect_layout(output_shape: Sequence[int | str | None], num_classes: int | None,
                  input_size: tuple[int, int] = (640, 640)) -> str:
    """The layout of a single-output model from its shape (kept for callers that know only that)."""
    shape = tuple(int(d) if isinstance(d, int) else -1 for d in output_shape)
    layout, _ = detect([OutputInfo("output0", shape, "float32")], ModelFacts(input_size, num_classes))
    return layout.name


def get_decoder(name: str, model: DecodeModel | None = None) -> BoundDecoder:
    """The decoder named `name` (a built-in layout or a plugin path), bound to `model` (input size, labels ...;
    decoders that need none work without): call it as `decoder(outputs, params)`."""
    return BoundDecoder(name, decode_function(name), model or DecodeModel())


def decode_function(name: str) -> DecodeFn:
    """A built-in decode function by layout name, or a plugin by dotted path `package.module:function`."""
    if name in BUILTIN:
        return BUILTIN[name]
    if ":" not in name:
        raise ConfigError(f"unknown decoder {name!r}", where="decode.type",
                          fix=f"use auto, one of {', '.join(BUILTIN)}, or a plugin path like mypkg.decoders:decode")
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import decoder module {module_name!r}: {exc}", where="decode.type",
                          fix="check the dotted path and that the module is importable (on PYTHONPATH, or "
                              "installed in the same environment)") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"{module_name} has no callable {attr!r}", where="decode.type",
                          fix="point decode.type at a function decode(outputs, ctx) -> Detections")
    return fn  # type: ignore[no-any-return]


def layout_named(name: str) -> Layout | None:
    return BY_NAME.get(name)
