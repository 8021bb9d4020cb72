"""doctor's GPU checks on copies of Jetson files, with the CUDA stack and TensorRT version given as plain values
(stand-ins for the probes: there is no driver or TensorRT here): JetPack 7.2's TensorRT, DLA per version, a
container whose CUDA or TensorRT differs from the host's driver stack, the kernels' source, the engine target."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.cuda import versions
from edge_sdk.device import jetpack
from edge_sdk.device.checks import StackFacts, in_container
from edge_sdk.device.doctor import Check, DoctorInput, run_doctor
from tests.device.jetson_files import MODELS, make_root

R38_ORIN = "# R38 (release), REVISION: 6.0, GCID: 1, BOARD: generic, EABI: aarch64, DATE: Mon Jun  1 00:00:00 UTC 2026\n"
JP62_HOST = StackFacts(driver_cuda="12.6", runtime_cuda="12.6", toolkit_cuda="12.6.68", in_container=False,
                       kernel="5.15.148-tegra")


@pytest.fixture(autouse=True)
def no_host_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(versions, "runtime_version", lambda: None)
    monkeypatch.setattr(versions, "driver_version", lambda: None)


def checks(root: Path, trt: str | None, stack: StackFacts = JP62_HOST, device: str = "auto") -> dict[str, Check]:
    found = run_doctor(DoctorInput(root=root, tensorrt_version=lambda: trt, stack=stack, device=device))
    return {c.name: c for c in found}


def jetson(tmp_path: Path, release: str = "R36.4.3", model: str = MODELS["orin-agx"], cuda: str = "12.6.68") -> Path:
    root = make_root(tmp_path / "root", release, model)
    (root / "usr/local/cuda").mkdir(parents=True)
    (root / "usr/local/cuda/version.json").write_text(f'{{"cuda": {{"version": "{cuda}"}}}}')
    return root


def test_jetpack_7_2_with_tensorrt_10_16_is_ok_and_says_dla_is_gone(tmp_path: Path) -> None:
    stack = StackFacts("13.0", "13.0", "13.0.48", False, "6.8.12-tegra")
    c = checks(jetson(tmp_path, R38_ORIN, MODELS["orin-nx"], "13.0.48"), "10.16.1.11", stack)
    assert "JetPack 7.2" in c["L4T/JetPack"].detail
    assert c["TensorRT"].status == "OK" and c["TensorRT"].data["dla_on_orin"] is False
    assert c["CUDA"].status == "OK" and c["driver stack"].status == "OK"
    assert c["DLA"].status == "WARN" and "no DLA on Orin" in c["DLA"].detail and "dla_core: null" in (c["DLA"].fix or "")


def test_tensorrt_11_is_expected_on_agx_orin_only(tmp_path: Path) -> None:
    """JetPack 7.2.2+ offers TensorRT 11 on AGX Orin only; an R38 revision not in the table may be 7.2 or 7.2.2."""
    stack = StackFacts("13.0", "13.0", "13.0.48", False, "6.8.12-tegra")
    agx = checks(jetson(tmp_path / "a", R38_ORIN, MODELS["orin-agx"], "13.0.48"), "11.4.0.106", stack)
    assert agx["TensorRT"].status == "OK" and agx["DLA"].status == "OK"  # 11.4 brings DLA back
    nx = checks(jetson(tmp_path / "n", R38_ORIN, MODELS["orin-nx"], "13.0.48"), "11.4.0.106", stack)
    assert nx["TensorRT"].status == "WARN" and "ships 10.16" in nx["TensorRT"].detail
    jp = jetpack.release("7.2.2")
    assert jp is not None and "11" in jp.tensorrt_choices("orin-agx") and "11" not in jp.tensorrt_choices("orin-nx")


def test_container_cuda_runtime_newer_than_the_hosts_driver_fails(tmp_path: Path) -> None:
    stack = StackFacts("12.2", "12.6", "12.6.68", True, "5.15.136-tegra")  # a JetPack 6.2 image on a 6.0 host
    c = checks(jetson(tmp_path), "10.3.0.30", stack)
    d = c["driver stack"]
    assert d.status == "FAIL" and d.required
    assert "CUDA runtime 12.6 in a container needs a driver for CUDA 12.6; the driver runs CUDA 12.2" in d.detail
    assert "l4t-jetpack" in (d.fix or "") and d.data["host_jetpacks"] == ["6.0 DP", "6.0"]


def test_container_tensorrt_newer_than_the_hosts_driver_fails_even_without_a_runtime_found(tmp_path: Path) -> None:
    stack = StackFacts("12.2", None, None, True, "5.15.136-tegra")
    d = checks(jetson(tmp_path), "10.3.0.30", stack)["driver stack"]
    assert d.status == "FAIL" and "TensorRT 10.3.0.30 in a container is JetPack's for CUDA 12.6" in d.detail


def test_container_of_another_l4t_major_fails(tmp_path: Path) -> None:
    stack = StackFacts("13.0", "12.6", "12.6.68", True, "6.8.12-tegra")  # an R36 image on an R38 (JetPack 7) host
    d = checks(jetson(tmp_path), "10.3.0.30", stack)["driver stack"]
    assert d.status == "FAIL" and "this container is L4T R36, the host runs L4T R38" in d.detail


def test_container_with_another_jetpacks_tensorrt_is_a_warning(tmp_path: Path) -> None:
    stack = StackFacts("12.6", "12.2", "12.2.140", True, "5.15.148-tegra")  # a JetPack 6.0 image on a 6.2 host
    d = checks(jetson(tmp_path, "R36.3.0", cuda="12.2.140"), "8.6.2.3", stack)["driver stack"]
    assert d.status == "WARN" and "TensorRT 8.6.2.3 in this container" in d.detail and "ships 10.3" in d.detail


def test_x86_driver_newer_than_runtime_is_fine_and_no_driver_says_so(tmp_path: Path) -> None:
    ok = checks(tmp_path, None, StackFacts("13.0", "12.6", None, False, "6.1.0-28-amd64"))["driver stack"]
    assert ok.status == "OK" and "driver CUDA 13.0 runs the CUDA runtime 12.6" in ok.detail
    none = checks(jetson(tmp_path / "j"), "10.3.0.30", StackFacts(None, "12.6", "12.6.68", True, "5.15.148-tegra"))
    assert none["driver stack"].status == "FAIL" and "--runtime nvidia" in (none["driver stack"].fix or "")


def test_kernels_without_a_gpu_say_what_would_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from edge_sdk.cuda import nvrtc

    k = checks(jetson(tmp_path), "10.3.0.30")["GPU kernels"]
    assert k.status == "OK" and "sm_87 SASS" in k.detail and "not loaded" in k.detail
    old_driver = StackFacts("12.0", None, None, False, "5.15.148-tegra")

    def no_nvrtc(path: str | None = None) -> nvrtc.Nvrtc:
        raise nvrtc.NvrtcError("no NVRTC library (libnvrtc.so) could be loaded")

    monkeypatch.setattr(nvrtc, "load_nvrtc", no_nvrtc)
    failed = checks(jetson(tmp_path / "old"), "10.3.0.30", old_driver)["GPU kernels"]
    assert failed.status == "FAIL" and "CUDA 12.2 or newer" in failed.detail and "cuda-nvrtc" in (failed.fix or "")


def test_engine_target_is_what_an_engine_built_here_is_keyed_by(tmp_path: Path) -> None:
    t = checks(jetson(tmp_path), "10.3.0.30")["engine target"]
    assert t.data["target"] == {"tensorrt_version": "10.3.0.30", "cuda_version": "12.6", "compute_capability": "8.7",
                                "jetpack": "6.2", "l4t_release": "R36.4.3", "board": MODELS["orin-agx"]}
    assert checks(tmp_path / "x86", None, JP62_HOST)["engine target"].detail == "n/a (no TensorRT)"


@pytest.mark.parametrize(("files", "expected"), [({".dockerenv": ""}, True), ({"run/.containerenv": ""}, True),
                                                 ({"proc/1/cgroup": "0::/system.slice/docker-1a2b.scope\n"}, True),
                                                 ({"proc/1/cgroup": "0::/init.scope\n"}, False), ({}, False)])
def test_container_detection(tmp_path: Path, files: dict[str, str], expected: bool) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert in_container(tmp_path) is expected


@pytest.mark.parametrize(("kernel", "major"), [("5.15.148-tegra", 36), ("6.8.12-tegra", 38), ("5.10.192-tegra", 35),
                                               ("6.1.0-28-amd64", None)])
def test_host_l4t_from_the_kernel(kernel: str, major: int | None) -> None:
    assert jetpack.l4t_major_for_kernel(kernel) == major
