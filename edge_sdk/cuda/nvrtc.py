"""NVRTC, CUDA's run-time compiler library, through ctypes: CUDA C source to PTX or a cubin, in memory.

The service never needs `nvcc` (JetPack does not put it on PATH, runtime containers lack it, the service user has
no writable compiler cache). The kernels ship precompiled (kernels.py); NVRTC is the fallback for a GPU or driver
the prebuilt fatbin does not fit, and what tools/gpu/build_kernels.py makes the fatbin with. NVRTC is a plain
shared library: JetPack installs it with CUDA (`cuda-nvrtc-12-6`, `cuda-nvrtc-13-0`), pip with
`nvidia-cuda-nvrtc-cu12`; `EDGE_SDK_NVRTC=/path/libnvrtc.so.12` picks one. Every NVRTC call's result is checked.

    lib = load_nvrtc()                                 # NvrtcMissing (a DeviceError) if there is none
    ptx = lib.compile(source, "letterbox.cu", "compute_87", want="ptx")
    cubin = lib.compile(source, "letterbox.cu", "sm_87", want="cubin")
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import glob
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from edge_sdk.errors import DeviceError

ENV = "EDGE_SDK_NVRTC"
_GLOBS = ("/usr/local/cuda/lib64/libnvrtc.so*", "/usr/local/cuda/targets/*/lib/libnvrtc.so*",
          "/usr/local/cuda-*/targets/*/lib/libnvrtc.so*", "/usr/lib/*-linux-gnu/libnvrtc.so*")


class NvrtcError(DeviceError):
    """NVRTC is missing, or it refused to compile (the message carries its log)."""


def candidates() -> list[str]:
    """libnvrtc files to try, best first: $EDGE_SDK_NVRTC, the loader's, the toolkit's, pip's nvidia packages'."""
    found: list[str] = []
    if os.environ.get(ENV):
        found.append(os.environ[ENV])
    name = ctypes.util.find_library("nvrtc")
    if name:
        found.append(name)
    for pattern in _GLOBS:
        found += sorted((p for p in glob.glob(pattern) if "builtins" not in p and "alt" not in p), reverse=True)
    for site in sys.path:
        for sub in ("cuda_nvrtc", "cu13", "cu12"):
            found += sorted(glob.glob(os.path.join(site, "nvidia", sub, "lib", "libnvrtc.so*")), reverse=True)
    return list(dict.fromkeys(found))


@dataclass
class Nvrtc:
    """One loaded libnvrtc."""

    path: str
    lib: ctypes.CDLL

    @property
    def version(self) -> str:
        major, minor = ctypes.c_int(0), ctypes.c_int(0)
        self._check(self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "nvrtcVersion")
        return f"{major.value}.{minor.value}"

    def _error(self, code: int) -> str:
        self.lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        text = self.lib.nvrtcGetErrorString(code)
        return text.decode() if isinstance(text, bytes) else f"NVRTC error {code}"

    def _check(self, code: int, what: str) -> None:
        if code != 0:
            raise NvrtcError(f"{what} failed: {self._error(code)}", where=self.path)

    def _read(self, prog: ctypes.c_void_p, size_fn: str, get_fn: str) -> bytes:
        size = ctypes.c_size_t(0)
        self._check(getattr(self.lib, size_fn)(prog, ctypes.byref(size)), size_fn)
        buf = ctypes.create_string_buffer(size.value)
        self._check(getattr(self.lib, get_fn)(prog, buf), get_fn)
        return buf.raw[:size.value]

    def compile(self, source: str, name: str, arch: str, *, want: Literal["ptx", "cubin"],
                options: tuple[str, ...] = ()) -> bytes:
        """Compile `source` for `arch` ("compute_87" for PTX, "sm_87" for a cubin). PTX comes back NUL-terminated."""
        with _thread_locale_kept():
            return self._compile(source, name, arch, want=want, options=options)

    def _compile(self, source: str, name: str, arch: str, *, want: Literal["ptx", "cubin"],
                 options: tuple[str, ...]) -> bytes:
        prog = ctypes.c_void_p()
        self._check(self.lib.nvrtcCreateProgram(ctypes.byref(prog), source.encode(), name.encode(), 0, None, None),
                    "nvrtcCreateProgram")
        try:
            opts = [f"--gpu-architecture={arch}", *options]
            argv = (ctypes.c_char_p * len(opts))(*[o.encode() for o in opts])
            code = self.lib.nvrtcCompileProgram(prog, len(opts), argv)
            if code != 0:
                log = self._read(prog, "nvrtcGetProgramLogSize", "nvrtcGetProgramLog").decode(errors="replace")
                raise NvrtcError(f"NVRTC {self.version} could not compile {name} for {arch}: {self._error(code)}\n"
                                 f"{log.strip()[:2000]}", where=self.path,
                                 fix="use an NVRTC of the CUDA that matches the GPU (edge-sdk doctor shows both)")
            if want == "cubin":
                return self._read(prog, "nvrtcGetCUBINSize", "nvrtcGetCUBIN")
            return self._read(prog, "nvrtcGetPTXSize", "nvrtcGetPTX")
        finally:
            self.lib.nvrtcDestroyProgram(ctypes.byref(prog))


@contextlib.contextmanager
def _thread_locale_kept() -> Iterator[None]:
    """Restore the calling thread's locale after NVRTC: nvrtcCompileProgram leaves the thread on the "C" locale
    (uselocale), after which Python's preferred encoding is ASCII and every text file or subprocess pipe opened
    on that thread fails on the first non-ASCII character (a class label, a log line). Measured with NVRTC 12.2."""
    libc = ctypes.CDLL(None)
    uselocale = libc.uselocale
    uselocale.restype, uselocale.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
    saved = uselocale(None)
    try:
        yield
    finally:
        uselocale(saved)


def load_nvrtc(path: str | None = None) -> Nvrtc:
    """The first loadable libnvrtc (or `path`); NvrtcError saying how to install it where there is none."""
    tried = []
    for candidate in [path] if path else candidates():
        try:
            return Nvrtc(candidate, ctypes.CDLL(candidate))
        except OSError as exc:
            tried.append(f"{candidate}: {exc}")
    raise NvrtcError("no NVRTC library (libnvrtc.so) could be loaded" + (f" (tried {'; '.join(tried)})" if tried else ""),
                     where="libnvrtc",
                     fix="on a Jetson: sudo apt install cuda-nvrtc-12-6 (JetPack 6) or cuda-nvrtc-13-0 (JetPack 7); "
                         f"elsewhere: pip install nvidia-cuda-nvrtc-cu12; or set {ENV}=/path/to/libnvrtc.so")
