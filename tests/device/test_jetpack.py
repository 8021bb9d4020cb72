"""The JetPack table: what each release ships, DLA per TensorRT version, and JetPack 7.2 on an Orin's L4T R38."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.device import jetpack
from edge_sdk.device.jetson import detect_board
from tests.conftest import ROOT
from tests.device.jetson_files import MODELS, make_root


def test_primary_targets_are_jetpack_6_2_and_7_2_with_their_stacks() -> None:
    jp62, jp72 = jetpack.release("6.2"), jetpack.release("7.2")
    assert jp62 is not None and jp72 is not None and {"6.2", "7.2"} <= set(jetpack.PRIMARY)
    assert (jp62.tensorrt, jp62.cuda, jp62.python, jp62.ubuntu, jp62.l4t) == ("10.3", "12.6", "3.10", "22.04", ("36.4.3",))
    assert (jp72.tensorrt, jp72.cuda, jp72.python, jp72.ubuntu, jp72.l4t_major) == ("10.16", "13", "3.12", "24.04", 38)


def test_tensorrt_11_is_optional_on_jetpack_7_2_2_for_agx_orin_only() -> None:
    jp = jetpack.release("7.2.2")
    assert jp is not None
    assert jp.tensorrt_choices("orin-agx") == ("10.16", "11") and jp.tensorrt_choices("orin-nano") == ("10.16",)
    assert jetpack.jetpacks_shipping("11.4.0.106", "orin-agx") == ["7.2.2"]
    assert jetpack.jetpacks_shipping("11.4.0.106", "orin-nx") == []
    assert jetpack.jetpacks_shipping("10.3.0.30") == ["6.1", "6.2", "6.2.1"]


@pytest.mark.parametrize(("expected", "actual", "ok"), [("12.6", "12.6.68", True), ("13", "13.0.48", True),
                                                        ("10.3", "10.3.0.30", True), ("10.3", "10.16.1.11", False),
                                                        ("12.6", None, False), ("1", "10.3", False)])
def test_versions_match_by_prefix_of_whole_components(expected: str, actual: str | None, ok: bool) -> None:
    assert jetpack.matches(expected, actual) is ok


def test_cuda_versions_name_their_jetpacks() -> None:
    assert jetpack.jetpacks_with_cuda("12.2.140") == ["6.0 DP", "6.0"]
    assert jetpack.jetpacks_with_cuda("13.0.88") == ["7.2", "7.2.2"]


def test_an_orin_on_l4t_r38_runs_jetpack_7_2_while_other_r38_boards_are_the_7x_family(tmp_path: Path) -> None:
    orin = detect_board(make_root(tmp_path / "orin", "R38.2.1", MODELS["orin-nx"]), arch="aarch64")
    thor = detect_board(make_root(tmp_path / "thor", "R38.2.1", "NVIDIA Jetson AGX Thor Developer Kit"), arch="aarch64")
    assert orin.jetpack == "7.2" and thor.jetpack == "7.x"
    assert detect_board(make_root(tmp_path / "jp62", "R36.4.3", MODELS["orin-nano"])).jetpack == "6.2"


def test_orin_profiles_list_the_jetpacks_they_run_and_unknown_ones_are_refused(tmp_path: Path) -> None:
    from edge_sdk.device.profiles import load_profile
    from edge_sdk.errors import ConfigError

    for name in ("orin-agx", "orin-nx", "orin-nano"):
        assert {"6.2", "7.2"} <= set(load_profile(name).jetpacks)
    assert load_profile("cpu").jetpacks == []
    text = (ROOT / "device_configs/orin-nano.yaml").read_text()
    (tmp_path / "orin-nano.yaml").write_text(text.replace('"7.2.2"]', '"7.2.2", "8.0"]'))
    with pytest.raises(ConfigError, match=r"JetPack 8\.0 is not in"):
        load_profile("orin-nano", tmp_path)


def test_doctor_warns_of_a_jetpack_the_boards_profile_does_not_list(tmp_path: Path) -> None:
    from edge_sdk.device.doctor import DoctorInput, run_doctor

    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for name in ("cpu", "orin-agx"):
        src = ROOT / "device_configs" / f"{name}.yaml"
        (profiles / f"{name}.yaml").write_text(src.read_text().replace('"6.0", "6.1", ', ""))
    root = make_root(tmp_path / "root", "R36.3.0", MODELS["orin-agx"])
    check = {c.name: c for c in run_doctor(DoctorInput(root=root, profiles_dir=profiles, tensorrt_version=lambda: None))}
    assert check["L4T/JetPack"].status == "WARN" and "which profile orin-agx does not list" in check["L4T/JetPack"].detail
