"""Preprocess: a BGR frame into the model's input tensor as its `PreprocessSpec` says, and boxes mapped back.

`spec.py` defines the spec and its arithmetic; `apply.py` is the CPU reference (`preprocess_into`); the
Ultralytics letterbox (`letterbox.py`) is the default spec.
"""

from edge_sdk.preprocess.apply import preprocess, preprocess_into
from edge_sdk.preprocess.geometry import LetterboxInfo, letterbox_params
from edge_sdk.preprocess.letterbox import letterbox, letterbox_into
from edge_sdk.preprocess.spec import PreprocessSpec

__all__ = ["LetterboxInfo", "PreprocessSpec", "letterbox", "letterbox_into", "letterbox_params", "preprocess",
           "preprocess_into"]
