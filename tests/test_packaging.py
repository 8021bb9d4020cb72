"""What `pip install .` (not -e) ships: setup.py's find_packages() installs only folders with an __init__.py;
a folder without one works in a checkout (a namespace package) and is missing from an installed edge-sdk
(found under systemd: the service's venv in /opt/edge-sdk failed with "No module named 'edge_sdk.model'")."""

from __future__ import annotations

from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def test_every_source_folder_is_a_package_setup_py_installs() -> None:
    folders = {str(p.parent.relative_to(ROOT)).replace("/", ".") for p in (ROOT / "edge_sdk").rglob("*.py")
               if "__pycache__" not in p.parts}
    installed = set(find_packages(where=str(ROOT), include=["edge_sdk", "edge_sdk.*"]))
    assert sorted(folders - installed) == [], "add an __init__.py to these folders"
