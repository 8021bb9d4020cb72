"""Build the committed kernels: edge_sdk/cuda/prebuilt/letterbox.fatbin and its build record letterbox.json.

    python tools/gpu/build_kernels.py --nvrtc /path/libnvrtc.so.12 [--fatbinary /usr/local/cuda/bin/fatbinary]
    python tools/gpu/build_kernels.py --check          # the committed fatbin matches letterbox.cu and holds both images
    python tools/gpu/build_kernels.py --out DIR        # build into DIR instead (a device's own build, tested there)

The fatbin holds sm_87 SASS (Jetson Orin) and compute_87 PTX (compiled by the driver for newer GPUs when it
loads), both from letterbox.cu through NVRTC (the same code path as edge_sdk/cuda/nvrtc.py at run time), packed
uncompressed by CUDA's `fatbinary` (any CUDA 12/13 toolkit has it; compression formats differ between drivers).
Build with the NVRTC of the OLDEST CUDA to support: its PTX ISA sets the oldest driver that loads the PTX, and
its SASS the oldest that loads the cubin. The committed one: NVRTC 12.2 (JetPack 6.0), from
`pip download nvidia-cuda-nvrtc-cu12==12.2.140` (no GPU needed to build).
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from edge_sdk.atomic import write_bytes_atomic, write_json_atomic
from edge_sdk.cuda import kernels
from edge_sdk.cuda.nvrtc import load_nvrtc

ARCH = "87"


def build(nvrtc_path: str | None, fatbinary: str, out_dir: Path | None = None) -> int:
    lib = load_nvrtc(nvrtc_path)
    source = kernels.source_text()
    ptx = lib.compile(source, kernels.SOURCE.name, f"compute_{ARCH}", want="ptx").rstrip(b"\0")
    cubin = lib.compile(source, kernels.SOURCE.name, f"sm_{ARCH}", want="cubin")
    isa = re.search(rb"^\.version (\d+\.\d+)", ptx, re.M)
    with tempfile.TemporaryDirectory() as tmp:
        ptx_file, cubin_file, out = Path(tmp, "k.ptx"), Path(tmp, "k.cubin"), Path(tmp, "k.fatbin")
        ptx_file.write_bytes(ptx)
        cubin_file.write_bytes(cubin)
        subprocess.run([fatbinary, "-64", f"--create={out}", "--compress=false",
                        f"--image3=kind=elf,sm={ARCH},file={cubin_file}", f"--image3=kind=ptx,sm={ARCH},file={ptx_file}"],
                       check=True)
        data = out.read_bytes()
    tool = subprocess.run([fatbinary, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    images = kernels.fatbin_images(data)
    fatbin = (out_dir / kernels.FATBIN.name) if out_dir else kernels.FATBIN
    write_bytes_atomic(fatbin, data)
    write_json_atomic(fatbin.with_suffix(".json"), {
        "source": kernels.SOURCE.name, "source_sha256": kernels.source_sha256(), "nvrtc": lib.version,
        "ptx_isa": isa.group(1).decode() if isa else None, "min_driver_cuda": lib.version,
        "images": [f"{kind} sm_{sm}" for kind, sm in images], "kernels": list(kernels.KERNEL_NAMES),
        "fatbinary": next((ln for ln in tool.splitlines() if "release" in ln), fatbinary), "bytes": len(data)},
        sort_keys=True)
    print(f"{fatbin}: {len(data)} bytes, images {images}, NVRTC {lib.version}, PTX ISA "
          f"{isa.group(1).decode() if isa else '?'}")
    return 0


def check() -> int:
    info = kernels.prebuilt_info()
    problems = []
    if info is None or not kernels.FATBIN.is_file():
        problems.append("prebuilt fatbin or its record missing")
    else:
        if info.get("source_sha256") != kernels.source_sha256():
            problems.append("letterbox.cu changed since the fatbin was built")
        images = kernels.fatbin_images(kernels.FATBIN.read_bytes())
        if sorted(images) != [("elf", int(ARCH)), ("ptx", int(ARCH))]:
            problems.append(f"fatbin images {images}, expected sm_{ARCH} ELF and PTX")
    for p in problems:
        print(f"FAIL: {p}", file=sys.stderr)
    if not problems:
        print(f"ok: {kernels.FATBIN} matches {kernels.SOURCE.name} ({info})")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nvrtc", default=None, help="libnvrtc.so to build with (default: the first found)")
    ap.add_argument("--fatbinary", default=shutil.which("fatbinary") or "/usr/local/cuda/bin/fatbinary")
    ap.add_argument("--check", action="store_true", help="only check the committed fatbin")
    ap.add_argument("--out", type=Path, default=None, help="write the fatbin and its record here, not into the package")
    args = ap.parse_args(argv)
    return check() if args.check else build(args.nvrtc, args.fatbinary, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
