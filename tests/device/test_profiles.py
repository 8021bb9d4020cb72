"""Device profiles: the shipped files load, `auto` picks by device-tree model, mistakes are clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.device.jetson import detect_board
from edge_sdk.device.profiles import list_profiles, load_profile, resolve_profile
from edge_sdk.errors import ConfigError, DeviceError
from tests.device.jetson_files import MODELS, make_root


def test_shipped_profiles_load_with_their_facts() -> None:
    assert list_profiles() == ["cpu", "orin-agx", "orin-nano", "orin-nx"]
    agx, nx, nano, cpu = (load_profile(n) for n in ("orin-agx", "orin-nx", "orin-nano", "cpu"))
    assert (agx.dla_cores, nx.dla_cores, nano.dla_cores, cpu.dla_cores) == (2, 2, 0, 0)
    assert agx.memory_budget_mb > nx.memory_budget_mb > nano.memory_budget_mb
    assert {p.default_engine for p in (agx, nx, nano)} == {"tensorrt"} and cpu.default_engine == "onnxruntime"
    assert agx.mapped_memory and not cpu.mapped_memory
    assert agx.power.nvpmodel_mode == 0 and agx.power.jetson_clocks
    assert agx.slug == "orin-agx-sm87" and cpu.slug == "cpu"


@pytest.mark.parametrize(("model", "profile"), [
    (MODELS["orin-agx"], "orin-agx"), ("NVIDIA Jetson AGX Orin", "orin-agx"), (MODELS["orin-nx"], "orin-nx"),
    (MODELS["orin-nano"], "orin-nano"), (MODELS["orin-nano-super"], "orin-nano")])
def test_auto_picks_the_profile_of_the_board(model: str, profile: str, tmp_path: Path) -> None:
    root = make_root(tmp_path, "R36.4.3", model)
    assert resolve_profile("auto", root=root).name == profile


def test_auto_on_a_machine_that_is_not_a_jetson_is_cpu(tmp_path: Path) -> None:
    assert resolve_profile("auto", root=tmp_path).name == "cpu"


def test_unknown_jetson_is_an_error_not_a_cpu_fallback(tmp_path: Path) -> None:
    root = make_root(tmp_path, "R36.4.3", "NVIDIA Jetson Xavier NX Developer Kit")
    with pytest.raises(DeviceError, match="matches no device profile") as err:
        resolve_profile("auto", root=root, board=detect_board(root))
    assert "orin-agx" in (err.value.fix or "")


def test_unknown_profile_name_suggests_the_closest() -> None:
    with pytest.raises(ConfigError, match="did you mean 'orin-nx'"):
        load_profile("orin-xn")


def test_invalid_profile_file_names_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: bad\ndla_cores: 9\nmemory_budget_mb: 1024\n")
    with pytest.raises(ConfigError) as err:
        load_profile("bad", tmp_path)
    assert f"{tmp_path / 'bad.yaml'}:2: dla_cores" in str(err.value)
    (tmp_path / "other.yaml").write_text("name: notother\n")
    with pytest.raises(ConfigError, match="says name: notother"):
        load_profile("other", tmp_path)
    (tmp_path / "typo.yaml").write_text("name: typo\ndla_core: 1\n")
    with pytest.raises(ConfigError, match=r"typo\.yaml:2: dla_core: Extra inputs are not permitted"):
        load_profile("typo", tmp_path)
