"""A bundle's prebuilt TensorRT engines, put where the TensorRT backend's engine cache looks for the bundle's model.

The backend builds `<model folder>/<engine.engine_dir>/<model stem>.<precision>.<gpu|dlaN>.engine` (with its
`.json` cache manifest) or reuses the one there when the manifest's key matches this device in every field
(edge_sdk/engines/trt/key.py: TensorRT version and build, CUDA, compute capability, JetPack, L4T, board, model,
precision, builder settings) and the engine's sha256 matches. So placing the bundle's engines there is all it
takes: an engine for this device is loaded instead of built; one for another device is rebuilt (logged with what
differs), never loaded. Engines of an INT8 bundle are built from the device's own Q/DQ model, whose name and
sha256 differ: those are rebuilt on the device.
"""

from __future__ import annotations

import json
from pathlib import Path

from edge_sdk.atomic import atomic_open, write_bytes_atomic
from edge_sdk.engines.trt.cache import engine_stem, manifest_path_for
from edge_sdk.fleet.bundle import BundleInfo


def engine_dir_for(model_path: Path, engine_dir: str) -> Path:
    d = Path(engine_dir).expanduser()
    return d if d.is_absolute() else model_path.resolve().parent / d


def place_prebuilt(info: BundleInfo, engine_dir: str) -> list[str]:
    """Copy the installed bundle's engines into the engine cache of its model; returns the names placed."""
    if info.folder is None or not info.engines:
        return []
    out_dir = engine_dir_for(info.model_path, engine_dir)
    placed = []
    for entry in info.engines:
        manifest_src = info.folder / str(entry["manifest"])
        manifest = json.loads(manifest_src.read_text(encoding="utf-8"))
        key = manifest.get("key", {})
        dla = key.get("dla_core")
        target = out_dir / (engine_stem(info.model_path, str(key.get("precision", "fp32")),
                                        int(dla) if dla is not None else None) + ".engine")
        with (info.folder / str(entry["file"])).open("rb") as src, atomic_open(target, "wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
        manifest["engine_file"] = target.name
        write_bytes_atomic(manifest_path_for(target), json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n")
        placed.append(target.name)
    return placed
