"""Packages JetPack owns, seen from edge-sdk's Python: a numpy installed by pip into a venv made with
--system-site-packages shadows JetPack's (python3-numpy), which JetPack's OpenCV (cv2) and TensorRT bindings
were built against. A newer numpy of the same major version is ABI compatible with them; a numpy 2 over
JetPack 6's numpy 1.x breaks their import. `edge-sdk provision` keeps numpy at JetPack's major version
(steps/service_env.py); doctor warns whenever it is shadowed anyway.
"""

from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

from edge_sdk.device.checks import Check


def system_site_dirs() -> list[Path]:
    """Where Debian/Ubuntu's (JetPack's) Python packages live for this Python version."""
    minor = f"python3.{sys.version_info.minor}"
    return [Path("/usr/lib/python3/dist-packages"), Path(f"/usr/lib/{minor}/dist-packages"),
            Path(f"/usr/local/lib/{minor}/dist-packages")]


def system_version(name: str, dirs: list[Path]) -> tuple[str, Path] | None:
    """(version, folder) of `name` installed in one of `dirs`, or None."""
    for d in dirs:
        for dist in importlib.metadata.distributions(name=name, path=[str(d)]):
            return dist.version, d
    return None


def check_numpy(dirs: list[Path] | None = None, search_path: list[str] | None = None) -> Check:
    """WARN when the numpy edge-sdk imports is not the system's, while the system's is on the import path."""
    import numpy

    dirs = system_site_dirs() if dirs is None else dirs
    visible = {str(Path(p).resolve()) for p in (sys.path if search_path is None else search_path) if p}
    system = system_version("numpy", [d for d in dirs if str(d.resolve()) in visible])
    active_dir = Path(numpy.__file__).resolve().parent.parent
    data: dict[str, object] = {"version": numpy.__version__, "path": str(active_dir)}
    if system is None:
        return Check("numpy", "OK", f"numpy {numpy.__version__} ({active_dir}); no system numpy on the import path",
                     data=data)
    version, folder = system
    data["system"] = {"version": version, "path": str(folder)}
    if active_dir == folder.resolve():
        return Check("numpy", "OK", f"numpy {version}: the system's ({folder})", data=data)
    major = version.split(".")[0]
    same = numpy.__version__.split(".")[0] == major
    effect = ("same major version: JetPack's OpenCV and TensorRT bindings still load" if same else
              f"a different major version: OpenCV (cv2) and TensorRT bindings built against numpy {major}.x fail to "
              "import or crash")
    fix = (f"{Path(sys.executable).parent}/pip uninstall numpy (the system's {version} is then used), or "
           f"pip install 'numpy>={version},<{int(major) + 1}'" if major.isdigit() else "pip uninstall numpy")
    return Check("numpy", "WARN", f"numpy {numpy.__version__} in {active_dir} shadows the system's numpy {version} "
                                  f"({folder}): {effect}", fix, data)
