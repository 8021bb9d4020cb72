"""The runner's CUDA kernels (letterbox.cu), loaded without a compiler on the device.

Two sources of the same kernels, tried in this order (`mode` "auto"; "prebuilt" or "nvrtc" force one):

1. prebuilt: `prebuilt/letterbox.fatbin`, committed and shipped in the package, made by tools/gpu/build_kernels.py
   with NVRTC 12.2 (JetPack 6.0's CUDA, the oldest edge-sdk supports) and `fatbinary`: sm_87 SASS (every Orin
   runs it as is) and compute_87 PTX (PTX ISA 8.2), which the driver compiles for any newer GPU when the module
   loads (an H100 is sm_90: the PTX path is what runs there). It loads on drivers of CUDA 12.2 and newer
   (JetPack 6.0 to 7.2, x86 drivers of 2023 on). `prebuilt/letterbox.json` records the source's sha256; a fatbin
   whose source differs from letterbox.cu is stale and is not used.
2. nvrtc: letterbox.cu compiled at load time by NVRTC (nvrtc.py) into a cubin for the exact GPU, in memory.
   For GPUs older than sm_87 and drivers older than CUDA 12.2, or when the fatbin is missing or stale.

Neither needs `nvcc`. Which one loaded is reported by the backend (`PycudaBackend.kernels`), `edge-sdk doctor`
and `edge-sdk selftest`. `EDGE_SDK_KERNELS=prebuilt|nvrtc|auto` overrides the mode (tests of both ways).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from edge_sdk.errors import DeviceError

if TYPE_CHECKING:
    from edge_sdk.preprocess.spec import PreprocessSpec

KernelMode = Literal["auto", "prebuilt", "nvrtc"]
Origin = Literal["prebuilt", "nvrtc"]
KERNEL_MODES: tuple[KernelMode, ...] = ("auto", "prebuilt", "nvrtc")
MODE_ENV = "EDGE_SDK_KERNELS"
SOURCE = Path(__file__).with_name("letterbox.cu")
PREBUILT_DIR = Path(__file__).with_name("prebuilt")
FATBIN = PREBUILT_DIR / "letterbox.fatbin"
FATBIN_INFO = PREBUILT_DIR / "letterbox.json"

# pycuda prepared-call signatures
LETTERBOX_ARGS = "PiiiiPPiiiiPiiii" + "f" * 9  # letterbox_f32 / _f16 / _u8
SPIN_ARGS = "PPqq"
KERNEL_NAMES = ("letterbox_f32", "letterbox_f16", "letterbox_u8", "spin_copy")
LETTERBOX_FOR_DTYPE = {"float32": "letterbox_f32", "float16": "letterbox_f16", "uint8": "letterbox_u8"}
BLOCK_2D = (32, 8, 1)


@dataclass(frozen=True)
class PixelArgs:
    """The per-pixel part of letterbox_<T>'s arguments: out[c] = float32(pixel[source c]) * mul[c] + add[c].

    `swap_rb`: output channel c reads source channel 2 - c (BGR frame, RGB model); `pad`: the output value of
    the padding per channel; `layout` "nchw" or "nhwc". `ultralytics()` is edge_sdk.preprocess.letterbox's:
    RGB, 0..1 (mul float32(1/255)), pad 114, NCHW."""

    swap_rb: bool
    mul: tuple[float, float, float]
    add: tuple[float, float, float]
    pad: tuple[float, float, float]
    layout: Literal["nchw", "nhwc"] = "nchw"
    pad_level: int = 114  # the pixel value `pad` comes from

    @classmethod
    def from_affine(cls, mul: Sequence[float], add: Sequence[float], pad_level: int, *, swap_rb: bool,
                    layout: Literal["nchw", "nhwc"] = "nchw", raw: bool = False) -> PixelArgs:
        """From float32 (mul, add) per output channel and the pad pixel value; `raw`: the pixel itself (uint8)."""
        m = np.asarray(mul, np.float32)
        a = np.asarray(add, np.float32)
        pad = np.full(3, pad_level, np.float32) if raw else np.float32(pad_level) * m + a
        return cls(swap_rb, (float(m[0]), float(m[1]), float(m[2])), (float(a[0]), float(a[1]), float(a[2])),
                   (float(pad[0]), float(pad[1]), float(pad[2])), layout, int(pad_level))

    @classmethod
    def from_spec(cls, spec: PreprocessSpec) -> PixelArgs:
        """The kernel arguments of a model's `PreprocessSpec` (its values step: edge_sdk/preprocess/spec.py)."""
        a, b = spec.channel_affine()
        return cls.from_affine(tuple(float(v) for v in a), tuple(float(v) for v in b), spec.pad_value,
                               swap_rb=spec.channel_order == "rgb", layout=spec.layout, raw=spec.dtype == "uint8")

    @classmethod
    def ultralytics(cls) -> PixelArgs:
        inv255 = float(np.float32(1.0 / 255.0))
        return cls.from_affine((inv255,) * 3, (0.0,) * 3, 114, swap_rb=True)

    def strides(self, dst_h: int, dst_w: int) -> tuple[int, int]:
        """(plane_stride, pixel_stride) in elements."""
        return (dst_h * dst_w, 1) if self.layout == "nchw" else (1, 3)


class KernelUnavailable(DeviceError):
    """This source of the kernels cannot serve this GPU or driver (the message says why)."""


@dataclass(frozen=True)
class KernelImage:
    """Module bytes for cuModuleLoadData and where they came from."""

    data: bytes
    origin: Origin
    detail: str  # e.g. "prebuilt fatbin (NVRTC 12.2): compute_87 PTX, compiled by the driver for sm_90"


def grid_2d(width: int, height: int) -> tuple[int, int]:
    bx, by, _ = BLOCK_2D
    return ((width + bx - 1) // bx, (height + by - 1) // by)


def source_text() -> str:
    return SOURCE.read_text(encoding="utf-8")


def source_sha256() -> str:
    return hashlib.sha256(SOURCE.read_bytes()).hexdigest()


def mode_from_env(default: KernelMode = "auto") -> KernelMode:
    value = os.environ.get(MODE_ENV, default)
    for mode in KERNEL_MODES:
        if value == mode:
            return mode
    raise DeviceError(f"{MODE_ENV}={value!r} is not a kernel mode", where=MODE_ENV,
                      fix=f"use one of: {', '.join(KERNEL_MODES)} (or unset it)")


def _version(text: str | None) -> tuple[int, ...]:
    return tuple(int(p) for p in (text or "0").split(".") if p.isdigit())


def prebuilt_info() -> dict[str, object] | None:
    """The build record of the committed fatbin, or None where it is not installed."""
    try:
        data = json.loads(FATBIN_INFO.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def prebuilt_path(cc: str) -> str:
    """How the driver runs the fatbin on compute capability `cc`: its SASS, or its PTX compiled when loaded."""
    major, minor = (_version(cc) + (0, 0))[:2]
    if (major, minor) == (8, 7):
        return "sm_87 SASS"
    if major == 8 and minor > 7:
        return "sm_87 SASS (binary compatible) or compute_87 PTX, the driver's choice"
    return f"compute_87 PTX, compiled by the driver for sm_{major}{minor}"


def prebuilt_image(cc: str, driver_cuda: str | None) -> KernelImage:
    """The committed fatbin if it fits this GPU (cc >= 8.7) and driver (CUDA >= its PTX's), else KernelUnavailable."""
    info = prebuilt_info()
    if info is None or not FATBIN.is_file():
        raise KernelUnavailable("the prebuilt kernels are not installed", where=str(FATBIN),
                                fix="reinstall edge-sdk (the fatbin is package data), or let NVRTC compile them")
    if info.get("source_sha256") != source_sha256():
        raise KernelUnavailable("the prebuilt fatbin is stale: letterbox.cu changed since it was built", where=str(FATBIN),
                                fix="rebuild it with tools/gpu/build_kernels.py")
    if _version(cc) < (8, 7):
        raise KernelUnavailable(f"the prebuilt fatbin holds sm_87 code and compute_87 PTX; this GPU is {cc}",
                                where=str(FATBIN))
    min_driver = str(info.get("min_driver_cuda", "12.2"))
    if driver_cuda is not None and _version(driver_cuda) < _version(min_driver):
        raise KernelUnavailable(f"the prebuilt fatbin needs a driver for CUDA {min_driver} or newer; this driver runs "
                                f"CUDA {driver_cuda}", where=str(FATBIN))
    detail = f"prebuilt fatbin (NVRTC {info.get('nvrtc', '?')}): {prebuilt_path(cc)}"
    return KernelImage(FATBIN.read_bytes(), "prebuilt", detail)


def nvrtc_image(cc: str) -> KernelImage:
    """letterbox.cu compiled by NVRTC into a cubin for exactly this GPU."""
    from edge_sdk.cuda.nvrtc import load_nvrtc

    lib = load_nvrtc()
    arch = "sm_" + "".join(str(v) for v in (_version(cc) + (0, 0))[:2])
    cubin = lib.compile(source_text(), SOURCE.name, arch, want="cubin")
    return KernelImage(cubin, "nvrtc", f"NVRTC {lib.version} ({lib.path}): {arch} cubin")


_ORDER: dict[KernelMode, tuple[Origin, ...]] = {"auto": ("prebuilt", "nvrtc"), "prebuilt": ("prebuilt",),
                                                "nvrtc": ("nvrtc",)}


def order(mode: KernelMode) -> tuple[Origin, ...]:
    """The kernel sources to try, in order, for a mode."""
    return _ORDER[mode]


def image(origin: Origin, cc: str, driver_cuda: str | None) -> KernelImage:
    return prebuilt_image(cc, driver_cuda) if origin == "prebuilt" else nvrtc_image(cc)


def fatbin_images(data: bytes) -> list[tuple[str, int]]:
    """The images of a fatbin container as (kind, sm): [("elf", 87), ("ptx", 87)]. ValueError if not a fatbin.

    Layout (CUDA's fatbin container): a 16-byte header (magic 0xBA55ED50, version, header size, payload size),
    then per image a header (kind 1 = PTX, 2 = ELF; its own size; payload size; the SM at byte 28) and payload."""
    import struct

    if len(data) < 16 or struct.unpack_from("<I", data, 0)[0] != 0xBA55ED50:
        raise ValueError("not a fatbin (magic 0xBA55ED50 missing)")
    header_size = struct.unpack_from("<H", data, 6)[0]
    end = header_size + struct.unpack_from("<Q", data, 8)[0]
    images, pos = [], header_size
    while pos + 32 <= min(end, len(data)):
        kind, _version, entry_size = struct.unpack_from("<HHI", data, pos)
        payload = struct.unpack_from("<Q", data, pos + 8)[0]
        sm = struct.unpack_from("<I", data, pos + 28)[0]
        images.append(({1: "ptx", 2: "elf"}.get(kind, f"kind{kind}"), int(sm)))
        pos += entry_size + payload
    return images
