"""The precisions a model runs at (`model.precision`, `provision --precision`, a device profile's default).

A module of its own, importing nothing heavy, so that command-line parsers can offer the choices without loading
the config schema (pydantic, numpy, the engine backends): `edge-sdk --help` builds every command's parser.
"""

from __future__ import annotations

from typing import Literal, get_args

Precision = Literal["fp32", "fp16", "int8"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
