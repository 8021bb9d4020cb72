"""`model.preprocess:` — how frames become the model's input, where the model does not say it itself.

Every key is optional: one left out is read from the model (exporter metadata, a PaddleDetection
`infer_cfg.yml` beside it) or falls back to the default documented in docs/models.md. The input's dtype and
batch are the model's own and cannot be set here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from edge_sdk.config.base import Section


class PreprocessConfig(Section):
    size: list[int] | int | None = Field(
        None, description="input size [height, width] (or one number for a square): needed for a model with a "
                          "dynamic input that does not state its size; for a fixed-size fully convolutional model "
                          "another size re-shapes it (checked by running it)")
    resize: Literal["letterbox", "stretch"] | None = Field(
        None, description="letterbox: keep the aspect ratio and pad; stretch: resize to the input size")
    align: Literal["center", "top-left"] | None = Field(
        None, description="letterbox padding: center (Ultralytics) or top-left (image at the top left, padding "
                          "bottom and right: YOLOX, PaddleDetection)")
    pad_value: int | None = Field(None, ge=0, le=255, description="letterbox padding pixel value (114 = grey)")
    channel_order: Literal["rgb", "bgr"] | None = Field(None, description="channel order the model was trained on")
    scale: float | None = Field(None, gt=0, le=1, description="pixel multiplier before mean/std: 0.00392156862745098 "
                                                              "(1/255) for 0..1 input, 1 for 0..255")
    mean: list[float] | None = Field(None, min_length=3, max_length=3,
                                     description="per-channel mean subtracted after scaling, in the model's channel "
                                                 "order (ImageNet: [0.485, 0.456, 0.406] with scale 1/255)")
    std: list[float] | None = Field(None, min_length=3, max_length=3,
                                    description="per-channel standard deviation divided by after the mean "
                                                "(ImageNet: [0.229, 0.224, 0.225])")
    layout: Literal["nchw", "nhwc"] | None = Field(
        None, description="input layout; read from the input shape, needed only when it is ambiguous")

    @field_validator("size")
    @classmethod
    def _size(cls, value: list[int] | int | None) -> list[int] | int | None:
        sizes = [value] if isinstance(value, int) else value
        if sizes is not None and (len(sizes) not in (1, 2) or any(not 16 <= v <= 8192 for v in sizes)):
            raise ValueError("size is [height, width] (or one number), each 16..8192")
        return value

    @field_validator("std")
    @classmethod
    def _std(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and any(v == 0 for v in value):
            raise ValueError("std must not contain 0")
        return value

    def size_hw(self) -> tuple[int, int] | None:
        if self.size is None:
            return None
        if isinstance(self.size, int):
            return (self.size, self.size)
        return (self.size[0], self.size[-1])

    def given(self) -> dict[str, object]:
        """The keys set in the config, as PreprocessSpec field values."""
        out: dict[str, object] = {}
        for key in ("resize", "align", "pad_value", "channel_order", "scale", "layout"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        for key in ("mean", "std"):
            value = getattr(self, key)
            if value is not None:
                out[key] = tuple(float(v) for v in value)
        size = self.size_hw()
        if size is not None:
            out["size"] = size
        return out
