"""Choose a decoder by name, by dotted path, or from the model's output shape."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from edge_sdk.decode.base import Decoder
from edge_sdk.decode.end2end import decode_end2end
from edge_sdk.decode.yolov5 import decode_yolov5
from edge_sdk.decode.yolov8 import decode_yolov8
from edge_sdk.errors import ConfigError, ModelError

BUILTIN: dict[str, Decoder] = {"yolov8": decode_yolov8, "yolov5": decode_yolov5, "end2end": decode_end2end}


def detect_layout(output_shape: Sequence[int | str | None], num_classes: int | None) -> str:
    """Guess the layout from the first output's shape [1, a, b] and the class count from metadata.

    YOLOv8 puts the (small) channel axis second: [1, 4+nc, N] with N anchors (8400 at 640).
    YOLOv5 puts it last: [1, N, 5+nc]. End-to-end models output [1, K, 6].
    """
    if len(output_shape) != 3:
        raise ModelError(f"cannot detect the output layout of shape {list(output_shape)}: expected 3 dimensions",
                         fix="set decode.type in the config (yolov8, yolov5, end2end or a dotted path)")
    _, a, b = output_shape
    if isinstance(a, int) and isinstance(b, int):
        if num_classes is not None:
            if a == 4 + num_classes and b > a:
                return "yolov8"
            if b == 5 + num_classes:
                return "yolov5"
        if b == 6 and (num_classes is None or num_classes != 1):
            return "end2end"
        if a < b:
            return "yolov8"
        return "yolov5"
    if isinstance(a, int):
        return "yolov8"
    if isinstance(b, int):
        return "end2end" if b == 6 else "yolov5"
    raise ModelError(f"cannot detect the output layout of shape {list(output_shape)}",
                     fix="set decode.type in the config")


def get_decoder(name: str) -> Decoder:
    """A built-in decoder by name, or a user decoder by dotted path `package.module:function`."""
    if name in BUILTIN:
        return BUILTIN[name]
    if ":" not in name:
        raise ConfigError(f"unknown decoder {name!r}",
                          fix=f"use one of {', '.join(BUILTIN)} or a dotted path like mypkg.decoders:decode")
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import decoder module {module_name!r}: {exc}",
                          fix="check the dotted path and that the module is on PYTHONPATH") from exc
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError(f"{module_name} has no callable {attr!r}", fix="point decode.type at a function")
    return fn  # type: ignore[no-any-return]
