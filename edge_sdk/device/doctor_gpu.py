"""`edge-sdk doctor`'s GPU checks: TensorRT against the JetPack, the CUDA stack (driver, runtime, toolkit; a
container's TensorRT or CUDA against the host's driver), pycuda, DLA per TensorRT version, where the GPU
preprocess kernels come from, and the engine target (what an engine built here is keyed by).

On a Jetson a missing or mismatched piece is a FAIL (the device path cannot run); elsewhere a WARN.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_sdk.device import jetpack, probes
from edge_sdk.device.checks import Check, DoctorInput, StackFacts, Status, severity
from edge_sdk.device.jetson import BoardInfo
from edge_sdk.device.profiles import DeviceProfile
from edge_sdk.errors import EdgeSdkError


@dataclass(frozen=True)
class TensorRtSeen:
    """The installed TensorRT's version, or why there is none."""

    text: str | None
    why: str = "not installed"


def tensorrt_seen(inp: DoctorInput) -> TensorRtSeen:
    from edge_sdk.engines.trt.version import require_tensorrt
    from edge_sdk.errors import DependencyMissing

    if inp.tensorrt_version is not None:
        return TensorRtSeen(inp.tensorrt_version())
    try:
        return TensorRtSeen(require_tensorrt().text)
    except DependencyMissing as exc:
        return TensorRtSeen(None, exc.message.split(";")[0])


def _older(a: str | None, b: str | None) -> bool:
    """Whether CUDA version `a` is older than `b` (major.minor); False where either is unknown."""
    if not a or not b:
        return False
    return _major_minor(a) < _major_minor(b)


def _major_minor(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split(".")[:2] if p.isdigit())


def check_tensorrt(seen: TensorRtSeen, board: BoardInfo, profile: DeviceProfile | None) -> Check:
    from edge_sdk.engines.trt.version import parse_version
    from edge_sdk.lazy import INSTALL

    if seen.text is None:
        fix = INSTALL["tensorrt"].jetson if board.is_jetson else INSTALL["tensorrt"].elsewhere
        return Check("TensorRT", severity(board.is_jetson), f"{seen.why} (engine type tensorrt unavailable)", fix)
    text = seen.text
    version = parse_version(text)
    try:
        path = version.path
    except EdgeSdkError as exc:
        return Check("TensorRT", "FAIL", exc.message, exc.fix, {"version": text})
    data: dict[str, object] = {"version": text, "api_path": path, "dla_on_orin": version.dla_supported}
    releases = jetpack.releases_for(board.l4t.version if board.l4t else None)
    expected = sorted({v for r in releases for v in r.tensorrt_choices(profile.name if profile else None)})
    if expected and not any(jetpack.matches(e, text) for e in expected):
        return Check("TensorRT", "WARN", f"{text} but JetPack {board.jetpack} ships {' or '.join(expected)}"
                     + (" on this board" if any(r.tensorrt_optional for r in releases) else ""),
                     "use JetPack's python3-libnvinfer (a pip TensorRT for another JetPack will not load)", data)
    return Check("TensorRT", "OK", f"{text} (API path {path})", data=data)


def check_cuda(stack: StackFacts, board: BoardInfo) -> Check:
    data: dict[str, object] = {"toolkit": stack.toolkit_cuda, "runtime": stack.runtime_cuda,
                               "driver": stack.driver_cuda, "cudart": probes.cudart_library()}
    if stack.toolkit_cuda is None and stack.runtime_cuda is None:
        return Check("CUDA", severity(board.is_jetson), "no CUDA toolkit (/usr/local/cuda) or libcudart found",
                     "on a Jetson: sudo apt install nvidia-jetpack (or cuda-toolkit-12-6); elsewhere: the NVIDIA driver "
                     "and CUDA toolkit, or stay on the CPU path", data)
    parts = [f"toolkit {stack.toolkit_cuda or 'none'}", f"runtime {stack.runtime_cuda or 'not found'}",
             f"driver {stack.driver_cuda or 'not found'}"]
    cudas = sorted({r.cuda for r in jetpack.releases_for(board.l4t.version if board.l4t else None)})
    shown = stack.toolkit_cuda or stack.runtime_cuda
    if cudas and shown and not any(jetpack.matches(c, shown) for c in cudas):
        return Check("CUDA", "WARN", "; ".join(parts) + f", but JetPack {board.jetpack} ships CUDA {' or '.join(cudas)}",
                     "install JetPack's CUDA (sudo apt install nvidia-jetpack)", data)
    return Check("CUDA", "OK", "; ".join(parts), data=data)


def check_driver_stack(stack: StackFacts, seen: TensorRtSeen, board: BoardInfo) -> Check:
    """A CUDA runtime or TensorRT newer than the driver cannot start; in a container on a Jetson, the image's
    L4T and TensorRT should be those of the host's JetPack (the host's driver and kernel are what run)."""
    where = "in a container" if stack.in_container else "on this machine"
    data: dict[str, object] = {"in_container": stack.in_container, "driver_cuda": stack.driver_cuda,
                               "runtime_cuda": stack.runtime_cuda, "kernel": stack.kernel, "tensorrt": seen.text}
    host_l4t = jetpack.l4t_major_for_kernel(stack.kernel) if board.is_jetson else None
    host_jetpacks = jetpack.jetpacks_with_cuda(stack.driver_cuda) if board.is_jetson and stack.driver_cuda else []
    data.update(host_l4t_major=host_l4t, host_jetpacks=host_jetpacks)
    image_fix = (f"use an image for the host's JetPack ({', '.join(host_jetpacks) or 'see the host'}: e.g. "
                 "nvcr.io/nvidia/l4t-jetpack of the host's L4T), or upgrade the host" if stack.in_container
                 else "install the CUDA and TensorRT of this JetPack (sudo apt install nvidia-jetpack), or upgrade")
    if stack.driver_cuda is None:
        return Check("driver stack", severity(board.is_jetson) if stack.runtime_cuda else "OK",
                     f"no NVIDIA driver (libcuda) {where}" + (f"; CUDA runtime {stack.runtime_cuda}"
                                                             if stack.runtime_cuda else ""),
                     "check the NVIDIA driver (nvidia-smi; in a container: --runtime nvidia / --gpus all)"
                     if stack.runtime_cuda else None, data)
    if _older(stack.driver_cuda, stack.runtime_cuda):
        return Check("driver stack", "FAIL", f"CUDA runtime {stack.runtime_cuda} {where} needs a driver for CUDA "
                     f"{stack.runtime_cuda}; the driver runs CUDA {stack.driver_cuda}", image_fix, data)
    trt_cuda = _tensorrt_cuda(seen.text) if board.is_jetson else None
    if trt_cuda and _older(stack.driver_cuda, trt_cuda):
        return Check("driver stack", "FAIL", f"TensorRT {seen.text} {where} is JetPack's for CUDA {trt_cuda}; the "
                     f"driver runs CUDA {stack.driver_cuda} (JetPack {', '.join(host_jetpacks) or '?'})", image_fix, data)
    image_l4t = board.l4t.major if board.l4t else None
    if stack.in_container and host_l4t and image_l4t and host_l4t != image_l4t:
        return Check("driver stack", "FAIL", f"this container is L4T R{image_l4t}, the host runs L4T R{host_l4t} "
                     f"(kernel {stack.kernel})", image_fix, data)
    if stack.in_container and host_jetpacks and seen.text and not any(
            jetpack.matches(v, seen.text) for jp in host_jetpacks for v in _choices(jp)):
        return Check("driver stack", "WARN", f"TensorRT {seen.text} in this container; the host's JetPack "
                     f"({', '.join(host_jetpacks)}) ships {', '.join(sorted({v for jp in host_jetpacks for v in _choices(jp)}))}",
                     "fine if intended (engines built here are keyed by the container's TensorRT); otherwise "
                     + image_fix, data)
    return Check("driver stack", "OK", f"driver CUDA {stack.driver_cuda} runs the CUDA runtime "
                 f"{stack.runtime_cuda or '(none found)'}" + (f" and TensorRT {seen.text}" if seen.text else "")
                 + f" {where}", data=data)


def _choices(jp: str) -> tuple[str, ...]:
    release = jetpack.release(jp)
    return release.tensorrt_choices() if release else ()


def _tensorrt_cuda(tensorrt: str | None) -> str | None:
    """The CUDA the JetPack that ships this TensorRT runs (the oldest, where several do)."""
    if not tensorrt:
        return None
    cudas = [r.cuda for r in jetpack.JETPACKS if any(jetpack.matches(v, tensorrt) for v in r.tensorrt_choices())]
    return min(cudas, key=_major_minor) if cudas else None


def check_pycuda(board: BoardInfo) -> Check:
    p = probes.probe_pycuda()
    if not p.available:
        return Check("pycuda", severity(board.is_jetson), p.detail,
                     "pip install '.[jetson]' with CUDA on PATH (export PATH=/usr/local/cuda/bin:$PATH)")
    return Check("pycuda", "OK", p.detail, data={"device": p.name, "compute_capability": p.compute_capability})


def check_dla(profile: DeviceProfile | None, seen: TensorRtSeen) -> Check:
    if profile is None:
        return Check("DLA", "WARN", "unknown: no device profile")
    from edge_sdk.engines.trt.version import parse_version

    from_trt = probes.dla_cores_from_tensorrt()
    data: dict[str, object] = {"profile": profile.dla_cores, "tensorrt": from_trt}
    if profile.dla_cores and seen.text and not parse_version(seen.text).dla_supported:
        return Check("DLA", "WARN", f"{profile.name} has {profile.dla_cores} DLA cores, but TensorRT {seen.text} has no "
                     "DLA on Orin (10.8+ of 10.x, 11.0-11.3; JetPack 7.2 ships 10.16): engines run on the GPU",
                     "keep engine.dla_core: null here; DLA needs JetPack 6.2 (TensorRT 10.3) or TensorRT 11.4+ "
                     "(AGX Orin, JetPack 7.2.2)", data)
    if from_trt is not None and from_trt != profile.dla_cores:
        return Check("DLA", "WARN", f"TensorRT reports {from_trt} DLA cores, profile {profile.name} says "
                     f"{profile.dla_cores}", "TensorRT's count governs builds (Orin NX 8 GB has 1)", data)
    if profile.dla_cores == 0:
        return Check("DLA", "OK", f"none on {profile.name} (engines run on the GPU)", data=data)
    source = "TensorRT" if from_trt is not None else "profile"
    return Check("DLA", "OK", f"{profile.dla_cores} cores ({source}); set engine.dla_core: 0 or 1 to use one", data=data)


def check_kernels(board: BoardInfo, profile: DeviceProfile | None, stack: StackFacts) -> Check:
    """Where the GPU preprocess kernels would come from: the prebuilt fatbin or NVRTC, never nvcc. With a GPU
    and pycuda, they are loaded for real."""
    from edge_sdk.cuda import kernels
    from edge_sdk.cuda.check import query_gpu
    from edge_sdk.cuda.nvrtc import NvrtcError, load_nvrtc

    info = kernels.prebuilt_info() or {}
    data: dict[str, object] = {"prebuilt": info}
    try:
        lib = load_nvrtc()
        data["nvrtc"], nvrtc = {"version": lib.version, "path": lib.path}, f"NVRTC {lib.version}"
    except NvrtcError:
        data["nvrtc"], nvrtc = None, "no NVRTC"
    gpu = query_gpu(0)
    if gpu.available:
        return _load_kernels(board, data, nvrtc)
    cc = profile.compute_capability if profile else None
    if cc is None:
        return Check("GPU kernels", "OK", f"no GPU here; prebuilt fatbin {info.get('images', 'missing')}, {nvrtc}",
                     data=data)
    try:
        detail = kernels.prebuilt_image(cc, stack.driver_cuda).detail
    except EdgeSdkError as exc:
        status: Status = "OK" if data["nvrtc"] else severity(board.is_jetson)
        return Check("GPU kernels", status, f"prebuilt unusable ({exc.message}); {nvrtc}",
                     None if data["nvrtc"] else "sudo apt install cuda-nvrtc-12-6 (JetPack 6) or cuda-nvrtc-13-0 (JetPack 7)",
                     data)
    return Check("GPU kernels", "OK", f"{detail} (for compute capability {cc}; not loaded: pycuda/GPU unavailable)"
                 f"; fallback {nvrtc}", data=data)



def _load_kernels(board: BoardInfo, data: dict[str, object], nvrtc: str) -> Check:
    from edge_sdk.cuda.pycuda_backend import PycudaBackend

    try:
        with PycudaBackend(0, needed_for="doctor's kernel check") as backend:
            loaded = backend.load_kernels()
    except EdgeSdkError as exc:
        return Check("GPU kernels", severity(board.is_jetson), f"could not load: {exc.message}", exc.fix, data)
    data.update(loaded=loaded.origin, skipped=list(loaded.skipped))
    skipped = f" (not used: {'; '.join(loaded.skipped)})" if loaded.skipped else ""
    return Check("GPU kernels", "OK", f"loaded {loaded.detail}{skipped}; fallback: {nvrtc}", data=data)


def check_engine_target(inp: DoctorInput, seen: TensorRtSeen, profile: DeviceProfile | None) -> Check:
    """What an engine built here is keyed by (engines/trt/key.py): a fleet bundle's prebuilt engine must match."""
    if seen.text is None:
        return Check("engine target", "OK", "n/a (no TensorRT)")
    from edge_sdk.cuda.check import query_gpu
    from edge_sdk.engines.trt.facts import current_target
    from edge_sdk.engines.trt.version import parse_version

    cc = query_gpu(0).compute_capability or (profile.compute_capability if profile else None)
    target = current_target(parse_version(seen.text), inp.root, cc)
    shown = (f"TensorRT {target.tensorrt_version}, CUDA {target.cuda_version or '?'}, "
             f"compute capability {target.compute_capability or '?'}, JetPack {target.jetpack or '-'} "
             f"({target.l4t_release or 'no L4T'}), {target.board or 'no board model'}")
    return Check("engine target", "OK", shown, data={"target": target.as_dict()})
