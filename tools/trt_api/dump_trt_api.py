"""Dump the real TensorRT Python API of each version edge-sdk supports, as compact committed JSON.

NVIDIA's binding wheels (tensorrt-bindings 8.6.1, tensorrt-cu12-bindings 10.x, tensorrt-cu13-bindings 11.x)
install without TensorRT's libraries; the shared dumper (/work/shared/trt-api/dump.sh, see its README) imports
them against do-nothing stand-ins for the libraries and prints every class, member, enum value and
signature. This script runs it and stores, per version, `tests/data/trt_api/tensorrt-<version>.json`:

    {"version": "10.3.0", "package": "tensorrt-cu12-bindings",
     "classes": {"IBuilderConfig": {"bases": [], "members": {"set_flag": [["flag"]], "DLA_core": "property", ...}}},
     "enums": {"BuilderFlag": ["FP16", "INT8", ...]}, "functions": {...}, "constants": [...]}

10.16.1.11 is JetPack 7.2's TensorRT (CUDA 13): the shared dumper takes the cu12 wheel for every 10.x, and the
tensorrt-cu13-bindings 10.16.1.11 wheel dumps to the identical API (checked 2026-12-06), as does 10.16.0.72.

A method's value lists its overloads, each the parameter names after `self` (a trailing "=" marks a default).
tests/trt/ checks edge-sdk's TensorRT usage and the `fake_tensorrt` stand-in against these files.

    python tools/trt_api/dump_trt_api.py                       # 8.6.1, 10.3.0, 10.16.1.11, 11.4.0.106
    python tools/trt_api/dump_trt_api.py 10.7.0 11.5.0         # other versions (then add them to the tests)
    python tools/trt_api/dump_trt_api.py --from-raw DIR        # compact existing raw dumps only
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "data" / "trt_api"
DEFAULT_VERSIONS = ("8.6.1", "10.3.0", "10.16.1.11", "11.4.0.106")
DUMP_SH = Path(os.environ.get("TRT_API_DUMP_SH", str(ROOT.parent / "shared" / "trt-api" / "dump.sh")))


def package_for(version: str) -> str:
    major = int(version.split(".")[0])
    return {8: "tensorrt-bindings", 10: "tensorrt-cu12-bindings"}.get(major, "tensorrt-cu13-bindings")


def split_params(inside: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in inside:
        if ch in "[(<{":
            depth += 1
        elif ch in "])>}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]


def params_of(signature: str) -> list[str] | None:
    """Parameter names (after self) of one pybind11 signature line; None if it is not one."""
    sig = re.sub(r"^\d+\.\s*", "", signature.strip())
    m = re.match(r"^[\w.]+\((.*)\)\s*->", sig)
    if not m:
        return None
    names = []
    for p in split_params(m.group(1)):
        name = p.split(":")[0].split("=")[0].strip()
        if not name or name == "self" or name.startswith("*"):
            if name.startswith("*"):
                names.append(name)
            continue
        names.append(name + ("=" if "=" in p else ""))
    return names


def compact(raw: dict[str, Any], version: str) -> dict[str, Any]:
    classes: dict[str, object] = {}
    for cname, info in sorted(raw["classes"].items()):
        members: dict[str, object] = {}
        for mname, m in sorted(info["members"].items()):
            if m["kind"] != "method":
                members[mname] = m["kind"]
                continue
            overloads = [p for p in (params_of(s) for s in m.get("signature", [])) if p is not None]
            if any("*args" in o for o in overloads) and len(overloads) > 1:
                overloads = [o for o in overloads if "*args" not in o]
            members[mname] = overloads
        classes[cname] = {"bases": info["bases"], "members": members}
    functions = {name: [p for p in (params_of(s) for s in sigs) if p is not None]
                 for name, sigs in sorted(raw["functions"].items())}
    return {"version": version, "package": package_for(version), "classes": classes,
            "enums": {k: sorted(v) for k, v in sorted(raw["enums"].items())},
            "functions": functions, "constants": sorted(raw["constants"])}


def write_compact(data: dict[str, Any], path: Path) -> None:
    """One class / enum per line: small files and readable diffs between versions."""
    lines = ["{", f'"version": {json.dumps(data["version"])},', f'"package": {json.dumps(data["package"])},']
    for section in ("classes", "enums", "functions"):
        items = data[section]
        lines.append(f'"{section}": {{')
        body = [f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in items.items()]
        lines.append(",\n".join(body))
        lines.append("},")
    lines.append(f'"constants": {json.dumps(data["constants"])}')
    lines.append("}")
    text = "\n".join(lines) + "\n"
    json.loads(text)  # must stay valid JSON
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("versions", nargs="*", default=list(DEFAULT_VERSIONS))
    ap.add_argument("--from-raw", type=Path, default=None, help="compact raw dumps already in this folder")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    raw_dir = args.from_raw or (args.out / "tmp")
    if args.from_raw is None:
        if not DUMP_SH.exists():
            print(f"dump script not found: {DUMP_SH} (set TRT_API_DUMP_SH)", file=sys.stderr)
            return 2
        subprocess.run(["bash", str(DUMP_SH), str(raw_dir), *args.versions], check=True)
    for version in args.versions:
        raw = json.loads((raw_dir / f"tensorrt-{version}.json").read_text(encoding="utf-8"))
        target = args.out / f"tensorrt-{version}.json"
        data = compact(raw, version)
        write_compact(data, target)
        print(f"{target}: {len(data['classes'])} classes, {len(data['enums'])} enums, "
              f"{target.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
