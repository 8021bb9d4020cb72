"""Service environment step: the service's own Python environment in /opt/edge-sdk/venv, with this edge-sdk
installed into it; the unit runs /opt/edge-sdk/venv/bin/edge-sdk.

Why: the README installs edge-sdk into `.venv` of a checkout, i.e. under /home, /root or /tmp, which the
unit's sandbox hides (ProtectHome=yes, PrivateTmp=yes); a unit pointing there never starts.

- Python: the system's /usr/bin/python3 (a pyenv or conda Python under a home directory is refused).
- On a Jetson (every profile but cpu) the venv is made with --system-site-packages, so JetPack's TensorRT
  (python3-libnvinfer), its GStreamer-enabled OpenCV and PyGObject are used, and edge-sdk gets the `jetson`
  extra (pycuda).
- What JetPack owns stays JetPack's: numpy is constrained to JetPack's major version and never below it
  (`numpy>=1.21.5,<2` on JetPack 6.2), so pip keeps the system numpy when it satisfies everything and never
  puts a numpy 2 in front of the one JetPack's OpenCV and TensorRT bindings were built against.
  `edge-sdk doctor` warns when a numpy in the venv shadows the system's anyway.
- Which edge-sdk: `--package WHEEL_OR_FOLDER`, else where the running edge-sdk was installed from (its
  direct_url.json: a checkout or a wheel file), else `edge-sdk==<this version>` from the package index.
  pip's own settings apply (an offline device: PIP_NO_INDEX=1 PIP_FIND_LINKS=/media/wheels).
- Idempotent: nothing is installed when the venv's edge-sdk has the same code as the one running provision: every
  file setup.py installs into edge_sdk/ (the .py files and its package data: the GPU kernel's source and its
  prebuilt fatbin, the schemas, the native op's C source) and the device profiles, by content.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from edge_sdk import __version__
from edge_sdk.provision.actions import StepResult, install_text, run_command
from edge_sdk.provision.context import Context
from edge_sdk.provision.layout import OPT, VENV
from edge_sdk.provision.steps import Step
from edge_sdk.provision.unit import check_exec, hidden_from_service

log = logging.getLogger(__name__)

NAME = "service env"
SYSTEM_PYTHON = "/usr/bin/python3"
PIP_TIMEOUT_S = 3600.0  # pycuda compiles on a Jetson; a slow link downloads ONNX Runtime and OpenCV


def base_python() -> str:
    """The Python the venv is made from: the system's, else the base interpreter of the running one."""
    if Path(SYSTEM_PYTHON).exists():
        return SYSTEM_PYTHON
    return str(Path(getattr(sys, "_base_executable", sys.executable)).resolve())


def origin(package: Path | None) -> tuple[str, str]:
    """(what pip installs, where it comes from, in words)."""
    if package is not None:
        return str(package.resolve()), f"--package {package}"
    # A checkout on sys.path also shows its edge_sdk.egg-info: take the installed record that says where from.
    found = (d.read_text("direct_url.json") for d in importlib.metadata.distributions(name="edge-sdk"))
    raw = next((r for r in found if r), None)
    if raw:
        url = str(json.loads(raw).get("url", ""))
        if url.startswith("file:"):
            path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
            if path.exists():
                return str(path), f"the same {'wheel' if path.is_file() else 'source'} as this edge-sdk ({path})"
    return f"edge-sdk=={__version__}", f"the package index (edge-sdk {__version__}, as this one)"


#: What setup.py installs into edge_sdk/ beside the .py files (its package_data, which a test keeps equal): the
#: fingerprint covers exactly what an install holds, so a checkout and the venv made from it compare equal, and a
#: changed kernel, fatbin, schema or native op source reinstalls. The native op's compiled library is left out
#: (a build is not byte for byte reproducible): its C source stands for it.
PACKAGE_DATA = ("py.typed", "schemas/*.json", "cuda/letterbox.cu", "cuda/prebuilt/*", "engines/ops/byte_lookup.c")


def _code_files(package_dir: Path) -> list[Path]:
    found = {f for f in package_dir.rglob("*.py") if "__pycache__" not in f.parts}
    for pattern in PACKAGE_DATA:
        found.update(f for f in package_dir.glob(pattern) if f.is_file())
    return sorted(found)


def code_fingerprint(package_dir: Path | None, profiles_dir: Path | None) -> str | None:
    """sha256 over the content (and relative path) of every file setup.py installs into an edge_sdk package
    (.py files and `PACKAGE_DATA`) and of the device profiles."""
    if package_dir is None or not package_dir.is_dir():
        return None
    h = hashlib.sha256()
    files = [(package_dir, f) for f in _code_files(package_dir)]
    if profiles_dir is not None and profiles_dir.is_dir():
        files += [(profiles_dir, f) for f in sorted(profiles_dir.glob("*.yaml"))]
    for base, f in files:
        h.update(f.relative_to(base).as_posix().encode() + b"\0" + hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()


def running_fingerprint() -> str | None:
    import edge_sdk
    from edge_sdk.device.profiles import profiles_dir

    try:
        profiles: Path | None = profiles_dir()
    except Exception:  # no profiles found: compare the code alone
        profiles = None
    return code_fingerprint(Path(edge_sdk.__file__).parent, profiles)


def venv_fingerprint(venv: Path) -> str | None:
    found = sorted(venv.glob("lib/python3*/site-packages/edge_sdk"))
    return code_fingerprint(found[-1] if found else None, venv / "share/edge-sdk/device_configs")


def venv_settings(venv: Path) -> dict[str, str]:
    """pyvenv.cfg as a dict (empty when there is no venv)."""
    try:
        lines = (venv / "pyvenv.cfg").read_text().splitlines()
    except OSError:
        return {}
    return {k.strip(): v.strip() for k, _, v in (ln.partition("=") for ln in lines) if v}


def system_numpy(python: str) -> str | None:
    """The numpy version the system Python has (JetPack's), or None."""
    code = "import importlib.metadata as m; print(m.version('numpy'))"
    try:
        proc = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 and proc.stdout.strip() else None


def numpy_constraint(version: str) -> str:
    """Same major as JetPack's numpy, never older: `numpy>=1.21.5,<2`."""
    major = version.split(".")[0]
    return f"numpy>={version},<{int(major) + 1}" if major.isdigit() else f"numpy=={version}"


def run(ctx: Context) -> None:
    o = ctx.opts
    if o.exec_path:
        check_exec(o.exec_path, _interpreter_of(Path(o.exec_path)))
        ctx.report.add(StepResult(NAME, "skipped", f"the unit runs {o.exec_path} (given)"))
        return
    if o.prefix is not None:
        ctx.report.add(StepResult(NAME, "skipped", f"--prefix: on the device run `sudo edge-sdk provision` (or make "
                                                   f"{VENV} with python3 -m venv and pip install edge-sdk into it)"))
        return
    ctx.report.add(*ensure_env(ctx, Path(str(VENV))))


def ensure_env(ctx: Context, venv: Path) -> list[StepResult]:
    python = base_python()
    hidden = hidden_from_service(str(Path(python).resolve()))
    if hidden is not None:
        return [StepResult(NAME, "failed", f"the only Python here is {python} (under {hidden}), which the service "
                                           "cannot see (fix: install the system Python: apt-get install python3 "
                                           "python3-venv)")]
    jetson = ctx.profile != "cpu"
    want_site = "true" if jetson else "false"
    requirement, where = origin(ctx.opts.package)
    extras = "[jetson]" if jetson else ""
    settings = venv_settings(venv)
    results: list[StepResult] = []
    if settings.get("include-system-site-packages") != want_site:
        argv = [python, "-m", "venv"] + (["--system-site-packages"] if jetson else []) + (["--clear"] if settings else [])
        results.append(run_command(f"{NAME}: venv", argv + [str(venv)], ctx.opts.dry_run, timeout=600))
        if results[-1].status == "failed":
            return results
    wanted = running_fingerprint()
    if wanted is not None and venv_fingerprint(venv) == wanted:
        return results + [StepResult(NAME, "unchanged", f"{venv} runs the same edge-sdk code as this one")]
    if ctx.opts.dry_run:
        return results + [StepResult(NAME, "would change", f"would pip install {requirement}{extras} into {venv} "
                                                           f"(from {where})")]
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check", "--quiet"]
    note = ""
    numpy = system_numpy(python) if jetson else None
    if numpy is not None:
        constraints = Path(str(OPT)) / "constraints.txt"
        install_text(f"{NAME}: constraints", constraints, numpy_constraint(numpy) + "\n", 0o644, None, False)
        pip += ["--constraint", str(constraints)]
        note = f"; numpy kept at JetPack's major ({numpy_constraint(numpy)})"
    log.info("installing edge-sdk into %s from %s (pip; this can take minutes)", venv, where)
    step = run_command(NAME, pip + [requirement + extras], False, timeout=PIP_TIMEOUT_S)
    if step.status != "failed" and wanted is not None and venv_fingerprint(venv) != wanted:
        # pip kept an installed edge-sdk of the same version: put this code in.
        step = run_command(NAME, pip + ["--no-deps", "--force-reinstall", requirement], False, timeout=PIP_TIMEOUT_S)
        if step.status != "failed" and venv_fingerprint(venv) != wanted:
            step = StepResult(NAME, "failed", f"after pip install {requirement}, {venv} still runs other edge-sdk code "
                                              "than this one (fix: --package path/to/edge-sdk)")
    if step.status == "failed":
        return results + [step]
    site = "with JetPack's system packages" if jetson else "isolated from the system's packages"
    return results + [StepResult(NAME, "changed", f"installed edge-sdk from {where} into {venv} ({site}){note}")]


def _interpreter_of(path: Path) -> str | None:
    """The interpreter named on a script's #! line (symlinks followed), if it is one."""
    try:
        with path.open("rb") as f:
            first = f.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    parts = first[2:].decode(errors="replace").split()
    return os.path.realpath(parts[0]) if parts else None


STEP = Step("service_env", run, "install")
