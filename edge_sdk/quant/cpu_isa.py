"""The CPU's integer dot-product instructions, which decide the weight format of the INT8 CPU form.

ONNX Runtime's CPU INT8 kernels (MLAS) multiply UINT8 activations by INT8 weights (U8S8):
- with AVX-512 VNNI or AVX-VNNI (vpdpbusd) the products are summed in 32 bits: exact;
- with AVX2, or AVX-512 without VNNI, vpmaddubsw adds pairs of products into a saturating int16: two products
  of 255 x 127 overflow it (2 x 32385 > 32767), so a layer with large activations and weights clips silently
  (tests/quant/test_build_tiny.py's outlier model lost 24.5 points on an AVX2-only AMD EPYC). 7-bit weights
  (onnxruntime.quantization's reduce_range) keep every pair in range (2 x 255 x 64 = 32640); UINT8 weights
  (U8U8) take another kernel that widens to 16 bits first. The build tries both and keeps the one that
  measures better (accuracy first, then speed);
- on ARM the kernels widen (NEON, dot product or not): exact.

    isa = detect()            # CpuIsa(arch='x86_64', dot='avx512_vnni', model='Intel(R) Xeon(R) ...')
    isa.formats()             # ('u8s8',) here; ('u8s8_7bit', 'u8u8') on an AVX2-only CPU

Detection reads CPUID through numpy's runtime dispatch table (so an emulated CPU, e.g. `qemu-x86_64 -cpu
Haswell`, is seen as what it emulates), plus /proc/cpuinfo for AVX-VNNI, which numpy does not list.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The CPU form's weight formats: U8S8 full range, U8S8 with 7-bit weights, U8U8.
FORMATS = ("u8s8", "u8s8_7bit", "u8u8")
#: x86 instruction sets whose U8S8 dot products never saturate.
_VNNI = ("avx512_vnni", "avx_vnni")


@dataclass(frozen=True)
class CpuIsa:
    arch: str  # x86_64, aarch64, ...
    dot: str  # avx512_vnni, avx_vnni, avx512bw, avx2, sse4.1, neon_dotprod, neon, unknown
    model: str

    @property
    def exact_u8s8(self) -> bool:
        """True when ONNX Runtime's U8S8 kernels sum without saturating here."""
        return self.arch not in ("x86_64", "amd64", "i686") or self.dot in _VNNI

    def formats(self) -> tuple[str, ...]:
        """The weight formats the CPU form may use on this CPU, in order of preference."""
        return ("u8s8",) if self.exact_u8s8 else ("u8s8_7bit", "u8u8")

    def as_dict(self) -> dict[str, Any]:
        return {"arch": self.arch, "isa": self.dot, "model": self.model, "exact_u8s8": self.exact_u8s8}


def _features() -> dict[str, bool]:
    import importlib

    table: Any = None
    for module in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):  # numpy 2, numpy 1
        try:
            table = importlib.import_module(module).__cpu_features__
            break
        except (ImportError, AttributeError):
            continue
    if not isinstance(table, dict):
        return {}
    return {str(k): bool(v) for k, v in table.items()}


def _cpuinfo() -> tuple[str, set[str]]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return platform.processor() or "unknown", set()
    model, flags = "", set[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and not model:
            model = value.strip()
        elif key in ("flags", "features") and not flags:
            flags = set(value.split())
    return model or platform.processor() or "unknown", flags


def detect() -> CpuIsa:
    """This CPU's integer dot-product class (see the module docstring)."""
    arch = platform.machine().lower()
    model, flags = _cpuinfo()
    f = _features()
    if arch in ("aarch64", "arm64"):
        dot = "neon_dotprod" if f.get("ASIMDDP") or "asimddp" in flags else "neon"
    elif arch in ("x86_64", "amd64", "i686"):
        if f.get("AVX512VNNI"):
            dot = "avx512_vnni"
        elif "avx_vnni" in flags and f.get("AVX2"):
            dot = "avx_vnni"
        elif f.get("AVX512BW"):
            dot = "avx512bw"
        elif f.get("AVX2"):
            dot = "avx2"
        elif f.get("SSE41"):
            dot = "sse4.1"
        else:
            dot = "unknown"
    else:
        dot = "unknown"
    return CpuIsa(arch, dot, model)


def unsafe_here(built: dict[str, Any], here: CpuIsa) -> str | None:
    """Why a CPU form built with `built` (the manifest's "cpu" record) would compute wrong numbers on `here`,
    or None when it is exact here."""
    fmt = built.get("format", "u8s8")
    if fmt == "u8s8" and not here.exact_u8s8:
        return (f"the INT8 CPU form was built on {built.get('model', '?')} ({built.get('isa', '?')}) with full-range "
                f"U8S8 weights, which ONNX Runtime's kernels sum exactly only with VNNI; this CPU ({here.model}, "
                f"{here.dot}) would saturate them and lose accuracy silently")
    return None
