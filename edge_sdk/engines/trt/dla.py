"""DLA: which core, whether the board and this TensorRT have it, and which layers fall back to the GPU.

Orin AGX and Orin NX have DLA cores (NX 8 GB: one), Orin Nano has none. Asking for a DLA core that cannot be
had is an error, never a quiet GPU build. With `gpu_fallback` (the default) layers DLA cannot run go to the
GPU and are listed in the build report; without it such layers refuse the build.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from edge_sdk.engines.trt.version import TrtVersion
from edge_sdk.errors import BuildError, DeviceError

if TYPE_CHECKING:
    import tensorrt as trt

    from edge_sdk.device.profiles import DeviceProfile


@dataclass(frozen=True)
class LayerPlacement:
    name: str
    kind: str  # TensorRT layer type, e.g. "CONVOLUTION"

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"


def check_requested_core(core: int | None, profile: DeviceProfile, precision: str) -> None:
    """Refuse a DLA core the device profile does not have, before TensorRT is touched."""
    if core is None:
        return
    if profile.dla_cores == 0:
        raise DeviceError(f"{profile.description or profile.name} has no DLA core; engine.dla_core is {core}",
                          where="engine.dla_core", fix="set engine.dla_core: null to build for the GPU")
    if core >= profile.dla_cores:
        raise DeviceError(f"DLA core {core} does not exist: {profile.name} has {profile.dla_cores} "
                          f"(cores 0..{profile.dla_cores - 1})", where="engine.dla_core",
                          fix=f"use a core between 0 and {profile.dla_cores - 1}, or null for the GPU")
    if precision == "fp32":
        raise DeviceError("DLA runs FP16 or INT8 only; the requested precision is fp32", where="engine.dla_core",
                          fix="build int8 (or fp16) for DLA, or set engine.dla_core: null")


def check_version_has_dla(core: int | None, version: TrtVersion) -> None:
    """Refuse DLA on a TensorRT that has none on Orin (10.8+ of 10.x, 11.0-11.3): never a quiet GPU build."""
    if core is None or version.dla_supported:
        return
    raise DeviceError(f"engine.dla_core is {core}, but TensorRT {version.text} has no DLA on Jetson Orin "
                      "(TensorRT 10.8 and later 10.x, and 11.0 to 11.3, dropped it; JetPack 7.2 ships 10.16)",
                      where="engine.dla_core",
                      fix="set engine.dla_core: null to build for the GPU, or use JetPack 6.2 (TensorRT 10.3) or "
                          "TensorRT 11.4+ on AGX Orin (JetPack 7.2.2) for DLA")


def check_builder_core(core: int, builder_cores: int, version: TrtVersion) -> None:
    """Refuse DLA where this TensorRT or this board's TensorRT runtime reports no such core."""
    check_version_has_dla(core, version)
    if builder_cores == 0:
        raise DeviceError("TensorRT reports no DLA cores on this device", where="engine.dla_core",
                          fix="set engine.dla_core: null (GPU); check `edge-sdk doctor` for the board and profile")
    if core >= builder_cores:
        raise DeviceError(f"DLA core {core} does not exist: TensorRT reports {builder_cores}",
                          where="engine.dla_core", fix=f"use a core between 0 and {builder_cores - 1}")


def configure_dla(config: trt.IBuilderConfig, core: int, gpu_fallback: bool) -> None:
    import tensorrt as trt

    config.default_device_type = trt.DeviceType.DLA
    config.DLA_core = core
    if gpu_fallback:
        config.set_flag(trt.BuilderFlag.GPU_FALLBACK)


def layers_off_dla(network: trt.INetworkDefinition, config: trt.IBuilderConfig) -> list[LayerPlacement]:
    """Layers of the parsed network that DLA cannot run (call after `configure_dla`)."""
    off: list[LayerPlacement] = []
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        if not config.can_run_on_DLA(layer):
            off.append(LayerPlacement(layer.name, layer.type.name))
    return off


def refuse_without_fallback(off: list[LayerPlacement], gpu_fallback: bool, total: int) -> None:
    if off and not gpu_fallback:
        shown = ", ".join(map(str, off[:10])) + (f" and {len(off) - 10} more" if len(off) > 10 else "")
        raise BuildError(f"{len(off)} of {total} layers cannot run on DLA and GPU fallback is off: {shown}",
                         where="engine.gpu_fallback",
                         fix="set engine.gpu_fallback: true (they then run on the GPU), or build for the GPU")
