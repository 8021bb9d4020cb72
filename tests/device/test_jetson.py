"""Jetson detection on copies of real /etc/nv_tegra_release contents and device-tree model strings."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.device.jetson import detect_board, parse_nv_tegra_release
from tests.device.jetson_files import MODELS, NV_TEGRA_RELEASE, make_root


@pytest.mark.parametrize(("release", "version", "jetpack", "exact", "board"), [
    ("R36.4.3", "36.4.3", "6.2", True, "generic"), ("R36.4.0", "36.4.0", "6.1", True, "generic"),
    ("R36.3.0", "36.3.0", "6.0", True, "generic"), ("R35.4.1", "35.4.1", "5.1.2", True, "t186ref"),
    ("R38.2.1", "38.2.1", "7.x", False, "generic")])
def test_real_release_files_parse_and_map_to_jetpack(release: str, version: str, jetpack: str, exact: bool,
                                                     board: str) -> None:
    rel = parse_nv_tegra_release(NV_TEGRA_RELEASE[release])
    assert rel.version == version and rel.text == f"R{version}" and rel.board == board
    assert rel.jetpack == jetpack and rel.jetpack_exact is exact


@pytest.mark.parametrize(("revision", "jetpack"), [("36.9.9", "6.x"), ("35.9.0", "5.x"), ("38.4.0", "7.x"),
                                                   ("34.1.1", None)])
def test_unknown_releases_map_to_their_family(revision: str, jetpack: str | None) -> None:
    major, minor, patch = revision.split(".")
    rel = parse_nv_tegra_release(f"# R{major} (release), REVISION: {minor}.{patch}, GCID: 1, BOARD: generic, EABI: aarch64")
    assert rel.jetpack == jetpack and not rel.jetpack_exact


def test_revision_without_patch_reads_as_zero() -> None:
    assert parse_nv_tegra_release("# R36 (release), REVISION: 4, GCID: 1, BOARD: generic").version == "36.4.0"


@pytest.mark.parametrize("text", ["", "R36 REVISION 4.3", "# L4T 36.4.3\n"])
def test_malformed_release_is_a_clear_value_error(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected '# R36 \(release\), REVISION: 4\.3"):
        parse_nv_tegra_release(text)


@pytest.mark.parametrize("name", list(MODELS))
def test_detect_board_reads_files_under_a_root_prefix(name: str, tmp_path: Path) -> None:
    board = detect_board(make_root(tmp_path, "R36.4.3", MODELS[name]), arch="aarch64")
    assert board.model == MODELS[name]  # the trailing NUL of the device tree is dropped
    assert board.is_jetson and board.jetpack == "6.2" and board.l4t is not None and board.l4t.text == "R36.4.3"
    assert board.describe() == f"{MODELS[name]}, R36.4.3 (JetPack 6.2)"


def test_machine_without_jetson_files_is_not_a_jetson(tmp_path: Path) -> None:
    board = detect_board(tmp_path, arch="x86_64")
    assert not board.is_jetson and board.model is None and board.l4t is None and board.jetpack is None
    pi = detect_board(make_root(tmp_path / "pi", None, "Raspberry Pi 4 Model B Rev 1.4"), arch="aarch64")
    assert not pi.is_jetson


def test_corrupt_release_file_is_reported_not_raised(tmp_path: Path) -> None:
    board = detect_board(make_root(tmp_path, "garbage\n", MODELS["orin-nx"]))
    assert board.is_jetson and board.l4t is None and board.l4t_error is not None and "garbage" in board.l4t_error
