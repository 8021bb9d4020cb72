"""What a model expects of its input image, as one value: `PreprocessSpec`.

The spec is read from the model (exporter metadata, a PaddleDetection `infer_cfg.yml` beside it), set in the
config (`model.preprocess.*`), or falls back to a documented default (see `edge_sdk/model/conventions.py`).
Every consumer applies the same spec: the CPU reference `preprocess_into` (`apply.py`), the GPU kernel
(`edge_sdk/cuda/`), calibration and evaluation. The arithmetic is normative, so implementations can be
compared value for value:

1. Geometry (`placement`): `letterbox` keeps the aspect ratio, scales by `min(H/h, W/w)`, rounds the new size
   to whole pixels and pads (`align: center` splits the margin, the odd pixel going bottom/right, as
   Ultralytics does; `top-left` pads only bottom and right, as YOLOX and PaddleDetection do). `stretch` resizes
   to exactly H x W (each axis its own scale, no padding). Resizing is bilinear, OpenCV's `INTER_LINEAR`.
2. Pixels: the frame is BGR uint8; model channel `c` reads source channel `c` (`bgr`) or `2 - c` (`rgb`). The
   padding is the pixel value `pad_value` in every channel.
3. Values: `x = float32(pixel) * a[c] + b[c]` in float32, with `a = scale / std`, `b = -mean / std` computed in
   float64 and rounded to float32 (so `scale=1/255, mean=0, std=1` gives exactly `pixel * float32(1/255)`),
   then rounded to `dtype` (float16: round to nearest; uint8: the pixel itself, which needs scale 1, mean 0,
   std 1). `mean` and `std` are in the model's channel order and in the units after `scale` (ImageNet's
   `[0.485, 0.456, 0.406]` with `scale: 1/255`, or mmdetection's `[123.675, 116.28, 103.53]` with `scale: 1`).
4. Layout: `nchw` ([N, C, H, W]) or `nhwc` ([N, H, W, C]). A batch of N > 1 holds one image per slot; slots
   not filled hold the padding (`blank()`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from edge_sdk.preprocess.geometry import LetterboxInfo, letterbox_params

Resize = Literal["letterbox", "stretch"]
Align = Literal["center", "top-left"]
ChannelOrder = Literal["rgb", "bgr"]
Layout = Literal["nchw", "nhwc"]
InputDtype = Literal["float32", "float16", "uint8"]

RESIZES: tuple[Resize, ...] = ("letterbox", "stretch")
ALIGNS: tuple[Align, ...] = ("center", "top-left")
CHANNEL_ORDERS: tuple[ChannelOrder, ...] = ("rgb", "bgr")
LAYOUTS: tuple[Layout, ...] = ("nchw", "nhwc")
DTYPES: tuple[InputDtype, ...] = ("float32", "float16", "uint8")

#: The fields a config or a model can set, in the order they are described.
FIELDS = ("size", "resize", "align", "pad_value", "channel_order", "scale", "mean", "std", "layout", "dtype",
          "batch")


@dataclass(frozen=True)
class PreprocessSpec:
    """How a BGR uint8 frame becomes the model's input tensor. The defaults are Ultralytics' (the demo's).

    `origin` says where each field came from (`config`, `metadata`, `infer_cfg.yml`, a family convention or
    `default`); it is for messages and reports and takes no part in equality.
    """

    size: tuple[int, int]  # (height, width) of the model input
    resize: Resize = "letterbox"
    align: Align = "center"
    pad_value: int = 114
    channel_order: ChannelOrder = "rgb"
    scale: float = 1.0 / 255.0
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    layout: Layout = "nchw"
    dtype: InputDtype = "float32"
    batch: int = 1
    origin: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def problems(self) -> list[str]:
        """What is inconsistent in this spec (empty when it is usable)."""
        out = []
        h, w = self.size
        if h < 1 or w < 1:
            out.append(f"size {list(self.size)} must be positive")
        if not 0 <= self.pad_value <= 255:
            out.append(f"pad_value {self.pad_value} must be a pixel value 0..255")
        if len(self.mean) != 3 or len(self.std) != 3:
            out.append("mean and std need one value per channel (3)")
        elif any(s == 0 for s in self.std):
            out.append(f"std {list(self.std)} has a zero")
        if self.scale <= 0:
            out.append(f"scale {self.scale} must be positive")
        if self.batch < 1:
            out.append(f"batch {self.batch} must be at least 1")
        if self.dtype == "uint8" and not self.is_identity():
            out.append("a uint8 input takes the pixels themselves: scale must be 1, mean 0 and std 1")
        return out

    # -- derived values --------------------------------------------------------------------------------
    def is_identity(self) -> bool:
        """True when the values are the pixels themselves (scale 1, mean 0, std 1)."""
        return self.scale == 1.0 and all(m == 0 for m in self.mean) and all(s == 1 for s in self.std)

    def channel_affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) float32 [3] in model channel order: `x = pixel * a[c] + b[c]` (read-only arrays)."""
        return self._affine

    @functools.cached_property
    def _affine(self) -> tuple[np.ndarray, np.ndarray]:  # computed once per spec: preprocess_into runs per frame
        std = np.asarray(self.std, np.float64)
        a = (self.scale / std).astype(np.float32)
        b = (-np.asarray(self.mean, np.float64) / std).astype(np.float32)
        a.flags.writeable = b.flags.writeable = False
        return a, b

    def source_channel(self, c: int) -> int:
        """The BGR source channel that model channel `c` reads."""
        return 2 - c if self.channel_order == "rgb" else c

    def pad_values(self) -> np.ndarray:
        """The padding's value in each model channel, float32 [3] (uint8 for a uint8 input)."""
        if self.dtype == "uint8":
            return np.full(3, self.pad_value, np.uint8)
        a, b = self.channel_affine()
        return np.float32(self.pad_value) * a + b  # type: ignore[no-any-return]

    @property
    def np_dtype(self) -> np.dtype[np.generic]:
        return np.dtype(self.dtype)

    def tensor_shape(self) -> tuple[int, int, int, int]:
        h, w = self.size
        return (self.batch, 3, h, w) if self.layout == "nchw" else (self.batch, h, w, 3)

    def blank(self) -> np.ndarray:
        """A new input tensor of the right shape and dtype holding the padding in every slot."""
        out = np.empty(self.tensor_shape(), self.np_dtype)
        pads = self.pad_values()
        for c in range(3):
            if self.layout == "nchw":
                out[:, c] = pads[c]
            else:
                out[..., c] = pads[c]
        return out

    def placement(self, orig_w: int, orig_h: int) -> LetterboxInfo:
        """Where an `orig_w` x `orig_h` frame lands in the input: whole-pixel offsets and size (step 1)."""
        if orig_w < 1 or orig_h < 1:
            raise ValueError(f"frame size {orig_w}x{orig_h} is empty")
        in_h, in_w = self.size
        if self.resize == "stretch":
            return LetterboxInfo(in_w / orig_w, 0.0, 0.0, orig_w, orig_h, in_w, in_h, scale_y=in_h / orig_h)
        geo = letterbox_params(orig_w, orig_h, self.size)
        if self.align == "top-left":
            return LetterboxInfo(geo.scale, 0.0, 0.0, orig_w, orig_h, geo.new_w, geo.new_h)
        top, left = int(round(geo.pad_y - 0.1)), int(round(geo.pad_x - 0.1))
        return LetterboxInfo(geo.scale, float(left), float(top), orig_w, orig_h, geo.new_w, geo.new_h)

    def with_changes(self, **changes: object) -> PreprocessSpec:
        """A copy with some fields changed (validated again)."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def describe(self) -> str:
        """One line for logs: `640x640 letterbox(center, pad 114) rgb x/255 nchw float32`."""
        h, w = self.size
        geo = f"letterbox({self.align}, pad {self.pad_value})" if self.resize == "letterbox" else "stretch"
        if self.is_identity():
            values = "0..255"
        else:
            values = "x/255" if abs(self.scale - 1 / 255) < 1e-12 else f"x*{self.scale:g}"
            if any(self.mean) or any(s != 1 for s in self.std):
                values += f" mean {_short(self.mean)} std {_short(self.std)}"
        batch = f" batch {self.batch}" if self.batch != 1 else ""
        return f"{w}x{h} {geo} {self.channel_order} {values} {self.layout} {self.dtype}{batch}"

    def as_dict(self) -> dict[str, object]:
        """The fields as plain JSON values (for reports and manifests), with where each came from."""
        return {"size": list(self.size), "resize": self.resize, "align": self.align, "pad_value": self.pad_value,
                "channel_order": self.channel_order, "scale": self.scale, "mean": list(self.mean),
                "std": list(self.std), "layout": self.layout, "dtype": self.dtype, "batch": self.batch,
                "origin": dict(self.origin)}


def _short(values: tuple[float, ...]) -> str:
    return "[" + ",".join(f"{v:.4g}" for v in values) + "]"


def ultralytics_spec(size: tuple[int, int]) -> PreprocessSpec:
    """The demo's (and every Ultralytics export's) preprocessing at `size` = (height, width)."""
    return PreprocessSpec(size=size)
