"""The kernels without a compiler on the device: the committed fatbin (what it holds, that it matches letterbox.cu,
which GPUs and drivers it serves), NVRTC (real, where a libnvrtc is found), and the backend's loading order with
the `fake_pycuda` STAND-IN (which proves nothing about CUDA: tests/cuda/test_gpu_kernels.py loads both on a GPU)."""

from __future__ import annotations

import locale
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_sdk.cuda import kernels as k
from edge_sdk.cuda.letterbox_plan import kernel_supports, letterbox_reference, make_plan
from edge_sdk.cuda.nvrtc import NvrtcError, candidates, load_nvrtc
from edge_sdk.errors import DeviceError
from edge_sdk.preprocess.spec import PreprocessSpec
from tests.cuda.standin import kernel_reference
from tests.cuda.test_gpu_kernels import SPECS
from tests.trt.fake_pycuda import make_fake_pycuda


def nvrtc_or_skip() -> Any:
    try:
        return load_nvrtc()
    except NvrtcError as exc:
        pytest.skip(f"no NVRTC library here: {exc.message}")


def test_committed_fatbin_matches_the_source_and_holds_sm87_sass_and_ptx() -> None:
    info = k.prebuilt_info()
    assert info is not None and info["source_sha256"] == k.source_sha256(), "rebuild: tools/gpu/build_kernels.py"
    data = k.FATBIN.read_bytes()
    assert sorted(k.fatbin_images(data)) == [("elf", 87), ("ptx", 87)]
    isa = re.search(rb"\n\.version (\d+)\.(\d+)", data)
    assert isa is not None and (int(isa.group(1)), int(isa.group(2))) <= (8, 2)  # loads on CUDA 12.2+ drivers
    assert set(re.findall(rb"\.entry (\w+)", data)) == {n.encode() for n in k.KERNEL_NAMES}
    assert info["min_driver_cuda"] == "12.2"


@pytest.mark.parametrize(("cc", "path"), [("8.7", "sm_87 SASS"), ("9.0", "compute_87 PTX, compiled by the driver for sm_90"),
                                          ("8.9", "binary compatible"), ("12.0", "for sm_120")])
def test_prebuilt_serves_orin_by_sass_and_newer_gpus_by_ptx(cc: str, path: str) -> None:
    image = k.prebuilt_image(cc, "13.0")
    assert image.origin == "prebuilt" and path in image.detail and image.data == k.FATBIN.read_bytes()


@pytest.mark.parametrize(("cc", "driver", "reason"), [("7.5", "13.0", "this GPU is 7.5"),
                                                      ("8.7", "12.0", "CUDA 12.2 or newer")])
def test_prebuilt_refuses_older_gpus_and_drivers(cc: str, driver: str, reason: str) -> None:
    with pytest.raises(k.KernelUnavailable, match=reason):
        k.prebuilt_image(cc, driver)


def test_a_stale_fatbin_is_never_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    edited = tmp_path / "letterbox.cu"
    edited.write_text(k.source_text() + "\n// edited\n")
    monkeypatch.setattr(k, "SOURCE", edited)
    with pytest.raises(k.KernelUnavailable, match="stale"):
        k.prebuilt_image("8.7", "12.6")


def test_kernel_mode_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(k.MODE_ENV, "nvrtc")
    assert k.mode_from_env() == "nvrtc" and k.order("nvrtc") == ("nvrtc",)
    monkeypatch.setenv(k.MODE_ENV, "nvcc")
    with pytest.raises(DeviceError, match="not a kernel mode"):
        k.mode_from_env()


def test_pixel_args_default_is_the_cpu_letterbox() -> None:
    px = k.PixelArgs.ultralytics()
    inv255 = np.float32(1 / 255)
    assert px.swap_rb and px.mul == (float(inv255),) * 3 and px.add == (0.0,) * 3
    assert px.pad == (float(np.float32(114) * inv255),) * 3
    assert px.strides(640, 480) == (640 * 480, 1)
    nhwc = k.PixelArgs.from_affine((1, 1, 1), (0, 0, 0), 0, swap_rb=False, layout="nhwc", raw=True)
    assert nhwc.strides(640, 480) == (1, 3) and nhwc.pad == (0.0, 0.0, 0.0)


def test_nvrtc_compiles_the_kernels_for_orin_and_for_ptx() -> None:
    lib = nvrtc_or_skip()
    cubin = lib.compile(k.source_text(), "letterbox.cu", "sm_87", want="cubin")
    ptx = lib.compile(k.source_text(), "letterbox.cu", "compute_87", want="ptx")
    assert cubin[:4] == b"\x7fELF"
    assert set(re.findall(rb"\.entry (\w+)", ptx)) == {n.encode() for n in k.KERNEL_NAMES}


def test_nvrtc_leaves_the_threads_text_encoding_alone() -> None:
    """NVRTC switches the calling thread to the C locale; without the restore, Python's text I/O on this thread
    became ASCII and a UTF-8 label or log line failed to decode (seen: systemd-analyze's output in later tests)."""
    lib = nvrtc_or_skip()
    before = locale.getpreferredencoding(False)
    lib.compile(k.source_text(), "letterbox.cu", "compute_87", want="ptx")
    assert locale.getpreferredencoding(False) == before


def test_nvrtc_compile_errors_carry_the_log() -> None:
    lib = nvrtc_or_skip()
    with pytest.raises(NvrtcError, match=r"could not compile broken\.cu") as err:
        lib.compile("extern \"C\" __global__ void f() { undeclared(); }", "broken.cu", "sm_87", want="cubin")
    assert "undeclared" in err.value.message


def test_missing_nvrtc_says_how_to_install_it(tmp_path: Path) -> None:
    with pytest.raises(NvrtcError) as err:
        load_nvrtc(str(tmp_path / "libnvrtc.so.12"))
    assert "cuda-nvrtc-12-6" in (err.value.fix or "") and "EDGE_SDK_NVRTC" in (err.value.fix or "")
    assert isinstance(candidates(), list)


def backend_on(monkeypatch: pytest.MonkeyPatch, mode: k.KernelMode, **fake: Any) -> Any:
    cuda = make_fake_pycuda(**fake)
    monkeypatch.setitem(sys.modules, "pycuda", cuda.package)
    monkeypatch.setitem(sys.modules, "pycuda.driver", cuda)
    from edge_sdk.cuda.pycuda_backend import PycudaBackend

    return cuda, PycudaBackend(0, kernel_mode=mode)


def test_edge_sdk_logic_backend_loads_the_prebuilt_fatbin_on_an_orin(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda, backend = backend_on(monkeypatch, "auto")
    with backend:
        assert "sm_87 SASS" in backend.kernel_info() and backend.kernels.origin == "prebuilt"
        with backend.activate():
            fn = backend.function("letterbox_f16", k.LETTERBOX_ARGS)
        assert fn.signature == k.LETTERBOX_ARGS
    assert [m.data for m in cuda.modules] == [k.FATBIN.read_bytes()] and cuda.memory.context_depth == 0


def test_edge_sdk_logic_a_refused_fatbin_falls_back_to_nvrtc_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda, backend = backend_on(monkeypatch, "auto", cc=(9, 0), driver=13000)
    cuda.refuse_module = lambda data: data == k.FATBIN.read_bytes()
    with backend:
        try:
            loaded = backend.load_kernels()
        except DeviceError as exc:  # no NVRTC on this machine: both reasons are in the one error
            assert "prebuilt: CUDA cuModuleLoadData" in exc.message and "nvrtc:" in exc.message
            assert "cuda-nvrtc" in (exc.fix or "")
            return
        assert loaded.origin == "nvrtc" and "sm_90 cubin" in loaded.detail
        assert any("device kernel image is invalid" in s for s in loaded.skipped)


def test_edge_sdk_logic_prebuilt_only_mode_never_compiles(monkeypatch: pytest.MonkeyPatch) -> None:
    _, backend = backend_on(monkeypatch, "prebuilt", cc=(7, 5))
    with backend, pytest.raises(DeviceError, match=r"this GPU is 7\.5") as err:
        backend.load_kernels()
    assert "prebuilt:" in err.value.message and "nvrtc:" not in err.value.message


@pytest.mark.parametrize("fields", SPECS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "ultralytics")
def test_kernel_arguments_of_a_spec_reproduce_its_reference(fields: dict[str, Any]) -> None:
    """letterbox.cu's arithmetic in numpy (tests/cuda/standin.kernel_reference) with `PixelArgs.from_spec` gives
    the spec's own reference exactly, for every option (the GPU test checks the kernel against the same)."""
    spec = PreprocessSpec(size=(480, 640), **fields)
    img = np.random.default_rng(7).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    plan = make_plan(720, 1280, spec.size, spec)
    got, expected = spec.blank(), spec.blank()
    kernel_reference(img, got, plan, k.PixelArgs.from_spec(spec))
    letterbox_reference(img, expected, plan, spec)
    np.testing.assert_array_equal(got, expected)
    assert kernel_supports(spec) == ""


def test_the_fatbins_ptx_compiles_for_newer_gpus_as_the_driver_would(tmp_path: Path) -> None:
    """What a driver does with the fatbin on an H100 (sm_90) or newer: compile its compute_87 PTX. ptxas (any
    CUDA toolkit's, where one is installed) is the same compiler."""
    import shutil

    ptxas = shutil.which("ptxas") or next((p for p in ("/usr/local/cuda/bin/ptxas",) if Path(p).is_file()), None)
    if ptxas is None:
        pytest.skip("no ptxas (CUDA toolkit) here")
    data = k.FATBIN.read_bytes()
    start = data.find(b"\n.version ") + 1  # the PTX image is stored uncompressed, NUL-terminated
    ptx = tmp_path / "letterbox.ptx"
    ptx.write_bytes(data[start:data.find(b"\x00", start)])
    for arch in ("sm_87", "sm_90"):
        done = subprocess.run([ptxas, f"-arch={arch}", "-o", str(tmp_path / f"{arch}.cubin"), str(ptx)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr


def test_edge_sdk_logic_resize_tables_follow_the_geometry_not_the_input_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """A letterbox and a stretch of the same frame into the same input resize to different sizes: each gets its
    own tables (keyed on the input size, the stretch read the letterbox's shorter table: an illegal memory access
    on an H100)."""
    cuda, backend = backend_on(monkeypatch, "auto")
    uploaded: list[np.ndarray] = []

    class Table(np.ndarray):
        def free(self) -> None:
            pass

    def to_device(array: np.ndarray) -> np.ndarray:
        uploaded.append(array)
        return array.view(Table)

    monkeypatch.setattr(cuda, "to_device", to_device, raising=False)
    with backend:
        for resize in ("letterbox", "stretch", "letterbox"):
            spec = PreprocessSpec(size=(480, 640), resize=resize)
            plan = make_plan(720, 1280, spec.size, spec)
            xtab, ytab = backend._plan_tables(plan)
            assert (len(xtab), len(ytab)) == (plan.new_w, plan.new_h)
    assert len(uploaded) == 4  # two tables per geometry, the second letterbox reuses the first's
