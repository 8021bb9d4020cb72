"""doctor's numpy check: a pip numpy shadowing the system's (JetPack's python3-numpy) is a warning, sharper
when the major version differs. The system's folder is a stand-in here (no Jetson): a dist-info as dpkg's
python3-numpy leaves it."""

from __future__ import annotations

from pathlib import Path

import numpy

from edge_sdk.device.system_packages import check_numpy


def _system_numpy(tmp_path: Path, version: str) -> Path:
    site = tmp_path / "dist-packages"
    info = site / f"numpy-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: numpy\nVersion: {version}\n")
    return site


def test_a_shadowed_system_numpy_of_another_major_warns_with_the_fix(tmp_path: Path) -> None:
    other_major = "1.21.5" if numpy.__version__.startswith("2.") else "2.1.0"
    site = _system_numpy(tmp_path, other_major)
    check = check_numpy([site], [str(site)])
    assert check.status == "WARN" and f"shadows the system's numpy {other_major}" in check.detail
    assert "different major version" in check.detail and "pip uninstall numpy" in (check.fix or "")


def test_same_major_still_warns_but_says_it_loads(tmp_path: Path) -> None:
    same = numpy.__version__.split(".")[0] + ".0.0"
    site = _system_numpy(tmp_path, same)
    check = check_numpy([site], [str(site)])
    assert check.status == "WARN" and "still load" in check.detail


def test_a_system_numpy_off_the_import_path_is_none_of_our_business(tmp_path: Path) -> None:
    site = _system_numpy(tmp_path, "1.21.5")  # an isolated venv (the cpu profile's) does not see it
    assert check_numpy([site], []).status == "OK"
