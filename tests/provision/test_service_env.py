"""The service's own environment (/opt/edge-sdk/venv): where its Python may live, which edge-sdk goes in, what
JetPack keeps (numpy), and when nothing needs installing. The real install (venv + pip) runs under systemd in
tests/systemd/test_box.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edge_sdk.errors import ConfigError
from edge_sdk.provision.steps import service_env
from edge_sdk.provision.unit import check_exec, hidden_from_service

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", ["/home/dev/edge-sdk/.venv/bin/edge-sdk", "/root/edge-sdk/.venv/bin/edge-sdk",
                                  "/tmp/edge-sdk/.venv/bin/edge-sdk", "/var/tmp/x/edge-sdk", "/run/user/1000/x"])
def test_a_unit_pointing_into_a_home_directory_or_tmp_is_refused(path: str) -> None:
    with pytest.raises(ConfigError, match="cannot see it") as err:
        check_exec(path)
    assert "/opt/edge-sdk/venv" in (err.value.fix or "")


def test_a_venv_whose_python_lives_in_a_home_directory_is_refused_too() -> None:
    check_exec("/opt/edge-sdk/venv/bin/edge-sdk", "/usr/bin/python3.11")  # fine
    with pytest.raises(ConfigError, match="its Python"):
        check_exec("/opt/edge-sdk/venv/bin/edge-sdk", "/root/.pyenv/versions/3.11.7/bin/python3.11")
    assert hidden_from_service("/homestead/x") is None and hidden_from_service("/home") == "/home"


def test_numpy_stays_at_jetpacks_major_and_never_below() -> None:
    assert service_env.numpy_constraint("1.21.5") == "numpy>=1.21.5,<2"  # JetPack 6.2 (Ubuntu 22.04)
    assert service_env.numpy_constraint("2.1.0") == "numpy>=2.1.0,<3"


def test_system_numpy_is_read_from_the_given_python(tmp_path: Path) -> None:
    fake = tmp_path / "python3"  # stands in for JetPack's /usr/bin/python3 with python3-numpy 1.21.5
    fake.write_text("#!/bin/sh\necho 1.21.5\n")
    fake.chmod(0o755)
    assert service_env.system_numpy(str(fake)) == "1.21.5"
    assert service_env.system_numpy(str(tmp_path / "missing")) is None


def test_the_venv_gets_the_edge_sdk_this_one_was_installed_from() -> None:
    requirement, where = service_env.origin(None)
    import edge_sdk

    installed_from = Path(requirement)
    # This checkout's venv has it from the checkout (pip install -e . / pip install .): the same source.
    assert installed_from.is_dir() and (installed_from / "edge_sdk").resolve() == Path(edge_sdk.__file__).parent
    assert "same source" in where
    wheel = ROOT / "dist" / "edge_sdk-9.9.9-py3-none-any.whl"
    assert service_env.origin(wheel) == (str(wheel), f"--package {wheel}")


def test_the_code_fingerprint_follows_content_not_place(tmp_path: Path) -> None:
    import edge_sdk

    here = Path(edge_sdk.__file__).parent
    copy = tmp_path / "site-packages" / "edge_sdk"
    shutil.copytree(here, copy, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    assert service_env.code_fingerprint(copy, None) == service_env.code_fingerprint(here, None)
    (copy / "frame.py").write_text((copy / "frame.py").read_text() + "\n# changed\n")
    assert service_env.code_fingerprint(copy, None) != service_env.code_fingerprint(here, None)
    assert service_env.code_fingerprint(tmp_path / "absent", None) is None


@pytest.mark.parametrize("changed", ["cuda/letterbox.cu", "cuda/prebuilt/letterbox.fatbin", "schemas/event.schema.json",
                                     "engines/ops/byte_lookup.c", "py.typed"])
def test_the_fingerprint_covers_the_package_data_an_install_holds(tmp_path: Path, changed: str) -> None:
    """Not only .py files: a changed GPU kernel, its prebuilt fatbin, a schema or the native op's source must
    reinstall the service's venv. A compiled library and bytecode, which differ between builds, do not count."""
    import edge_sdk

    here = Path(edge_sdk.__file__).parent
    copy = tmp_path / "edge_sdk"
    shutil.copytree(here, copy, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
    before = service_env.code_fingerprint(copy, None)
    (copy / "engines/ops/_byte_lookup.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF other build")
    (copy / "__pycache__").mkdir(exist_ok=True)
    (copy / "__pycache__/frame.cpython-311.pyc").write_bytes(b"bytecode")
    assert service_env.code_fingerprint(copy, None) == before
    (copy / changed).write_bytes((copy / changed).read_bytes() + b"\n")
    assert service_env.code_fingerprint(copy, None) != before


def test_the_fingerprinted_data_is_what_setup_py_installs() -> None:
    import ast

    tree = ast.parse((Path(__file__).resolve().parents[2] / "setup.py").read_text())
    call = next(n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "setup")
    data = ast.literal_eval(next(k.value for k in call.keywords if k.arg == "package_data"))
    assert tuple(data["edge_sdk"]) == service_env.PACKAGE_DATA


def test_venv_settings_read_pyvenv_cfg(tmp_path: Path) -> None:
    assert service_env.venv_settings(tmp_path) == {}
    (tmp_path / "pyvenv.cfg").write_text("home = /usr/bin\ninclude-system-site-packages = true\nversion = 3.10.12\n")
    assert service_env.venv_settings(tmp_path)["include-system-site-packages"] == "true"
