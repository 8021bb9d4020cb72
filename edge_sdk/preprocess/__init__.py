"""Preprocess: letterbox a BGR frame into the model's NCHW RGB 0..1 tensor, and map boxes back."""

from edge_sdk.preprocess.letterbox import LetterboxInfo, letterbox, letterbox_into, letterbox_params

__all__ = ["LetterboxInfo", "letterbox", "letterbox_into", "letterbox_params"]
