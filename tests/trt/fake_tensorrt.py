"""fake_tensorrt: a recording STAND-IN for the `tensorrt` module, one per TensorRT version. Not TensorRT.

Why: TensorRT cannot be installed in this workplace. This stand-in lets tests check edge-sdk's own logic on
each API path (which flags, memory limits, DLA settings, calibrator and timing cache the builder sets; how
the cache rebuilds and refuses; how the runtime binds tensors) and that edge-sdk only uses names the real
TensorRT of that path has. It builds nothing real, runs nothing on a GPU, and proves nothing about
TensorRT's behaviour, engines, accuracy or speed.

How it stays honest: its surface is the committed API dump of the real bindings of that version
(tests/data/trt_api/, made by tools/trt_api/dump_trt_api.py). Every public name is gated: a class, member or
enum value that the version's dump lacks raises AttributeError (and is recorded in `Recorder.missing`), as
the real module would. tests/trt/test_fake_surface.py checks that every name the fake implements exists in
the dumps, with the same parameter names. Every access and call is recorded for the contract tests.

    fake, rec = make_fake_tensorrt("10.3", FakeState(num_dla_cores=2))
    monkeypatch.setitem(sys.modules, "tensorrt", fake)

Targets (`TARGETS`): "8.6" (JetPack 6.0), "10.3" (JetPack 6.1/6.2), "10.16" (JetPack 7.2) and "11" (11.4, JetPack
7.2.2 on AGX Orin), each with its own dump; "10" is an alias of "10.3".
"""

from __future__ import annotations

import functools
import json
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

API_DIR = Path(__file__).resolve().parents[1] / "data" / "trt_api"


@dataclass(frozen=True)
class Target:
    """One TensorRT version the stand-in can be: its API path, the committed dump of its bindings, what it reports."""

    name: str
    path: str  # edge-sdk's API path ("8.6", "10", "11")
    dump: str  # tests/data/trt_api/tensorrt-<dump>.json
    version_text: str  # trt.__version__
    jetpack: str


TARGETS: dict[str, Target] = {t.name: t for t in (
    Target("8.6", "8.6", "8.6.1", "8.6.1.6", "6.0"), Target("10.3", "10", "10.3.0", "10.3.0.30", "6.2"),
    Target("10.16", "10", "10.16.1.11", "10.16.1.11", "7.2"), Target("11", "11", "11.4.0.106", "11.4.0.106", "7.2.2"))}
ALIASES = {"10": "10.3"}
TARGET_NAMES = tuple(TARGETS)


def target(name: str) -> Target:
    return TARGETS[ALIASES.get(name, name)]
SEVERITY = {"INTERNAL_ERROR": 0, "ERROR": 1, "WARNING": 2, "INFO": 3, "VERBOSE": 4}
_ONNX_DTYPE = {1: "FLOAT", 10: "HALF", 7: "INT64", 6: "INT32", 3: "INT8", 2: "UINT8", 9: "BOOL"}
_LAYER_TYPE = {"Conv": "CONVOLUTION", "ConvTranspose": "DECONVOLUTION", "Relu": "ACTIVATION", "Sigmoid": "ACTIVATION",
               "LeakyRelu": "ACTIVATION", "Tanh": "ACTIVATION", "Add": "ELEMENTWISE", "Mul": "ELEMENTWISE",
               "Sub": "ELEMENTWISE", "Div": "ELEMENTWISE", "MaxPool": "POOLING", "AveragePool": "POOLING",
               "Concat": "CONCATENATION", "Reshape": "SHUFFLE", "Transpose": "SHUFFLE", "Resize": "RESIZE",
               "QuantizeLinear": "QUANTIZE", "DequantizeLinear": "DEQUANTIZE", "ReduceSum": "REDUCE",
               "Softmax": "SOFTMAX", "Slice": "SLICE", "MatMul": "MATRIX_MULTIPLY", "Cast": "CAST"}


@functools.cache
def load_api(dump_version: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((API_DIR / f"tensorrt-{dump_version}.json").read_text(encoding="utf-8"))
    return data


def class_members(api: dict[str, Any], name: str) -> dict[str, Any]:
    """Members of a dumped class including those of its dumped bases (the dump lists each class's own)."""
    cls = api["classes"].get(name)
    if cls is None:
        return {}
    members = dict(cls["members"])
    for base in cls["bases"]:
        for k, v in api["classes"].get(base, {}).get("members", {}).items():
            members.setdefault(k, v)
    return members


@dataclass
class Call:
    target: str  # "IBuilderConfig.set_flag", or "IBuilderConfig.DLA_core=" for a property set
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    receiver: Any = None  # the fake object called (tells execution contexts apart)


@dataclass
class Recorder:
    calls: list[Call] = field(default_factory=list)
    accessed: set[str] = field(default_factory=set)  # "BuilderFlag.INT8", "IBuilderConfig.set_flag", "Builder"
    missing: set[str] = field(default_factory=set)  # names asked for that this version does not have

    def of(self, target: str) -> list[Call]:
        return [c for c in self.calls if c.target == target]

    def args_of(self, target: str) -> list[tuple[Any, ...]]:
        return [c.args for c in self.of(target)]


@dataclass
class FakeState:
    """How the stand-in behaves (what a real TensorRT would decide)."""

    num_dla_cores: int = 0
    unsupported_ops: frozenset[str] = frozenset()  # the parser rejects these ONNX op types
    dla_unsupported_ops: frozenset[str] = frozenset()  # can_run_on_DLA is False for layers made from these
    build_fails: bool = False
    calibrator_short: bool = False  # the build asks the calibrator for data (the cache lacks scales)
    on_execute: Callable[[dict[str, int], int], None] | None = None  # (addresses by tensor name, stream)
    batches: list[int | None] = field(default_factory=list)  # each execution's batch (None: a static engine)
    built_engines: list[dict[str, Any]] = field(default_factory=list)
    gpu: tuple[str, str] = ("8.7", "Orin")  # (compute capability, model) of the "GPU": engines record it


# --- enums -------------------------------------------------------------------------------------------------

class _EnumMeta(type):
    _values: list[str]
    _rec: Recorder
    _cache: dict[str, Any]

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in cls._values:
            cls._rec.missing.add(f"{cls.__name__}.{name}")
            raise AttributeError(f"type object '{cls.__name__}' has no attribute '{name}'")
        cls._rec.accessed.add(f"{cls.__name__}.{name}")
        if name not in cls._cache:
            member = object.__new__(cls)
            member.name, member.value = name, cls._values.index(name)
            cls._cache[name] = member
        return cls._cache[name]


class _EnumValue:
    name: str
    value: int

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.name == self.name  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name))

    def __repr__(self) -> str:
        return f"<{type(self).__name__}.{self.name}: {self.value}>"


def _make_enum(name: str, values: list[str], rec: Recorder) -> type:
    return _EnumMeta(name, (_EnumValue,), {"_values": list(values), "_rec": rec, "_cache": {}})


# --- gated base --------------------------------------------------------------------------------------------

class _Gated:
    """Public attributes must be in this version's dump; every access and call is recorded."""

    _api_name: ClassVar[str]
    _members: ClassVar[dict[str, Any]]
    _rec: ClassVar[Recorder]
    _state: ClassVar[FakeState]
    _cls: ClassVar[dict[str, Any]]  # this version's fake classes and enums by name
    _version: ClassVar[str]

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_"):
            return object.__getattribute__(self, name)
        cls = type(self)
        target = f"{cls._api_name}.{name}"
        if name not in cls._members:
            cls._rec.missing.add(target)
            raise AttributeError(f"TensorRT {cls._version} has no {target}")
        cls._rec.accessed.add(target)
        value = object.__getattribute__(self, name)
        if callable(value) and isinstance(cls._members[name], list):
            rec = cls._rec

            def recorded(*args: Any, **kwargs: Any) -> Any:
                rec.calls.append(Call(target, args, kwargs, self))
                return value(*args, **kwargs)

            return recorded
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        cls = type(self)
        target = f"{cls._api_name}.{name}"
        if cls._members.get(name) not in ("property", "attribute"):
            cls._rec.missing.add(target + "=")
            raise AttributeError(f"TensorRT {cls._version} has no settable {target}")
        cls._rec.calls.append(Call(target + "=", (value,), {}, self))
        object.__setattr__(self, name, value)

    def _get(self, name: str, default: Any = None) -> Any:
        return object.__getattribute__(self, "__dict__").get(name, default)


# --- the classes edge-sdk uses -----------------------------------------------------------------------------

class ILogger(_Gated):
    _api_name = "ILogger"

    def __init__(self) -> None:
        pass

    def log(self, severity: Any, msg: str) -> None:
        pass


class Dims(_Gated):
    _api_name = "Dims"

    def __init__(self, shape: tuple[int, ...]) -> None:
        self._shape = tuple(shape)

    def __len__(self) -> int:
        return len(self._shape)

    def __getitem__(self, arg0: int) -> int:
        return self._shape[arg0]


class ITensor(_Gated):
    _api_name = "ITensor"

    def __init__(self, name: str, shape: tuple[int, ...], dtype: str) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "dtype", getattr(self._cls["DataType"], dtype))


class ILayer(_Gated):
    _api_name = "ILayer"

    def __init__(self, name: str, op: str) -> None:
        self._op = op
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "type", getattr(self._cls["LayerType"], _LAYER_TYPE.get(op, "IDENTITY")))


class INetworkDefinition(_Gated):
    _api_name = "INetworkDefinition"

    def __init__(self, flags: int) -> None:
        self._flags = flags
        self._fp16_weights = False
        self._qdq = False
        self._layers: list[Any] = []
        self._inputs: list[Any] = []
        self._outputs: list[Any] = []

    @property
    def num_layers(self) -> int:
        return len(self._layers)

    @property
    def num_inputs(self) -> int:
        return len(self._inputs)

    @property
    def num_outputs(self) -> int:
        return len(self._outputs)

    def get_layer(self, index: int) -> Any:
        return self._layers[index]

    def get_input(self, index: int) -> Any:
        return self._inputs[index]

    def get_output(self, index: int) -> Any:
        return self._outputs[index]


class ParserError(_Gated):
    _api_name = "ParserError"

    def __init__(self, desc: str, node: int, node_name: str, op: str) -> None:
        self._desc, self._node, self._node_name, self._op = desc, node, node_name, op

    def desc(self) -> str:
        return self._desc

    def node(self) -> int:
        return self._node

    def node_name(self) -> str:
        return self._node_name

    def node_operator(self) -> str:
        return self._op

    def code(self) -> Any:
        return self._cls["ErrorCode"].UNSUPPORTED_NODE


class OnnxParser(_Gated):
    _api_name = "OnnxParser"

    def __init__(self, network: Any, logger: Any) -> None:
        self._network, self._logger, self._errors = network, logger, []

    @property
    def num_errors(self) -> int:
        return len(self._errors)

    def get_error(self, index: int) -> Any:
        return self._errors[index]

    def clear_errors(self) -> None:
        self._errors = []

    def parse_from_file(self, model: str) -> bool:
        import onnx

        graph = onnx.load(model).graph
        inits = {t.name for t in graph.initializer}
        net = self._network
        for i, node in enumerate(graph.node):
            name = node.name or f"{node.op_type}_{i}"
            if node.op_type in self._state.unsupported_ops:
                self._errors.append(self._cls["ParserError"](
                    f"No importer registered for op: {node.op_type}", i, node.name, node.op_type))
                continue
            net._layers.append(self._cls["ILayer"](name, node.op_type))
        net._fp16_weights = any(t.data_type == 10 for t in graph.initializer)  # onnx.TensorProto.FLOAT16
        net._qdq = any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in graph.node)
        for vi in graph.input:
            if vi.name not in inits:
                net._inputs.append(_tensor(self._cls, vi))
        for vi in graph.output:
            net._outputs.append(_tensor(self._cls, vi))
        return not self._errors


def _tensor(classes: dict[str, Any], vi: Any) -> Any:
    t = vi.type.tensor_type
    shape = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in t.shape.dim)
    return classes["ITensor"](vi.name, shape, _ONNX_DTYPE.get(t.elem_type, "FLOAT"))


class IHostMemory(_Gated):
    _api_name = "IHostMemory"

    def __init__(self, data: bytes) -> None:
        self._data = bytes(data)

    def __bytes__(self) -> bytes:
        return self._data

    @property
    def nbytes(self) -> int:
        return len(self._data)


class ITimingCache(_Gated):
    _api_name = "ITimingCache"

    def __init__(self, entries: list[str], valid: bool = True) -> None:
        self._entries, self._valid = entries, valid

    def serialize(self) -> Any:
        head = f"FAKE-TIMING-CACHE|{self._version}|"
        return self._cls["IHostMemory"]((head + "\n".join(self._entries)).encode())

    def reset(self) -> bool:
        self._entries = []
        return True


class IOptimizationProfile(_Gated):
    _api_name = "IOptimizationProfile"

    def __init__(self) -> None:
        self._shapes: dict[str, list[list[int]]] = {}

    def set_shape(self, input: str, min: Any, opt: Any, max: Any) -> None:
        dims = [[int(d) for d in shape] for shape in (min, opt, max)]
        if any(len(d) != len(dims[0]) for d in dims) or any(lo > hi for lo, hi in zip(dims[0], dims[2])) or \
                any(not lo <= o <= hi for lo, o, hi in zip(*dims)):
            raise ValueError(f"optimization profile of {input!r}: min <= opt <= max fails for {dims}")
        self._shapes[input] = dims

    def get_shape(self, input: str) -> list[Any]:
        return [self._cls["Dims"](tuple(d)) for d in self._shapes[input]]


class IBuilderConfig(_Gated):
    _api_name = "IBuilderConfig"

    def __init__(self) -> None:
        self._flags: set[str] = set()
        self._pools: dict[str, int] = {}
        self._timing: Any = None
        self._profiles: list[Any] = []
        self._preview: set[str] = set()

    def add_optimization_profile(self, profile: Any) -> int:
        self._profiles.append(profile)
        return len(self._profiles) - 1

    def set_preview_feature(self, feature: Any, enable: bool) -> None:
        (self._preview.add if enable else self._preview.discard)(feature.name)

    def set_flag(self, flag: Any) -> None:
        self._flags.add(flag.name)

    def get_flag(self, flag: Any) -> bool:
        return flag.name in self._flags

    def clear_flag(self, flag: Any) -> None:
        self._flags.discard(flag.name)

    def set_memory_pool_limit(self, pool: Any, pool_size: int) -> None:
        self._pools[pool.name] = pool_size

    def get_memory_pool_limit(self, pool: Any) -> int:
        return self._pools.get(pool.name, 0)

    def create_timing_cache(self, serialized_timing_cache: bytes) -> Any:
        data = bytes(serialized_timing_cache)
        head = f"FAKE-TIMING-CACHE|{self._version}|".encode()
        if not data:
            return self._cls["ITimingCache"]([])
        if not data.startswith(head):
            return self._cls["ITimingCache"]([], valid=False)
        body = data[len(head):].decode()
        return self._cls["ITimingCache"](body.split("\n") if body else [])

    def set_timing_cache(self, cache: Any, ignore_mismatch: bool) -> bool:
        if not cache._valid:
            return False
        self._timing = cache
        return True

    def get_timing_cache(self) -> Any:
        return self._timing

    def can_run_on_DLA(self, layer: Any) -> bool:
        return layer._op not in self._state.dla_unsupported_ops


class Builder(_Gated):
    _api_name = "Builder"

    def __init__(self, logger: Any) -> None:
        self._logger = logger

    @property
    def num_DLA_cores(self) -> int:
        return self._state.num_dla_cores

    def create_network(self, flags: int = 0) -> Any:
        return self._cls["INetworkDefinition"](flags)

    def create_builder_config(self) -> Any:
        return self._cls["IBuilderConfig"]()

    def create_optimization_profile(self) -> Any:
        return self._cls["IOptimizationProfile"]()

    def build_serialized_network(self, network: Any, config: Any) -> Any:
        state, sev = self._state, self._cls["ILogger"].Severity
        monitor = config._get("progress_monitor")
        if monitor is not None:
            monitor.phase_start("Building engine", None, 2)
            for step in range(2):
                monitor.step_complete("Building engine", step)
            monitor.phase_finish("Building engine")
        calibrator = config._get("int8_calibrator")
        if calibrator is not None:
            calibrator.read_calibration_cache()
            if state.calibrator_short:
                calibrator.get_batch([t.name for t in network._inputs])
        if state.build_fails:
            self._logger.log(sev.ERROR, "fake build failure: out of workspace memory")
            return None
        dynamic = [t.name for t in network._inputs if any(d < 0 for d in t.shape)]
        profiles = [p._shapes for p in config._profiles]
        if dynamic and not profiles:
            self._logger.log(sev.ERROR, "4: [network.cpp::validate::3478] Error Code 4: Internal Error (Network has "
                             "dynamic or shape inputs, but no optimization profile has been defined.)")
            return None
        if any(set(p) != set(dynamic) for p in profiles):
            self._logger.log(sev.ERROR, "4: an optimization profile must give the shape of every dynamic input")
            return None
        if config._timing is not None:
            config._timing._entries.extend(f"{layer.name}" for layer in network._layers)
        flag_names = [n for n in self._cls["NetworkDefinitionCreationFlag"]._values
                      if network._flags >> self._cls["NetworkDefinitionCreationFlag"]._values.index(n) & 1]
        engine = {"fake_tensorrt_engine": self._version, "network_flags": flag_names, "gpu": list(state.gpu),
                  "builder_flags": sorted(config._flags), "dla_core": config._get("DLA_core"),
                  "profiles": profiles, "preview_features": sorted(config._preview),
                  "layers": _layer_information(network, flag_names, config._flags),
                  "io": [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype.name, "input": True}
                         for t in network._inputs]
                  + [{"name": t.name, "shape": list(t.shape), "dtype": t.dtype.name, "input": False}
                     for t in network._outputs]}
        state.built_engines.append(engine)
        return self._cls["IHostMemory"](json.dumps(engine).encode())


# How a layer's output type reads in TensorRT's engine inspector JSON (ProfilingVerbosity.DETAILED).
_FORMAT = {"FP32": "Row major linear FP32 format", "FP16": "Channel major FP16 format where channel % 8 == 0",
           "INT8": "Thirty-two wide channel vectorized row major Int8 format"}


def _layer_information(network: Any, network_flags: list[str], builder_flags: set[str]) -> list[dict[str, Any]]:
    """What the stand-in "chose" per layer, as a real TensorRT would report it: strongly typed networks take the
    ONNX's types (float16 weights: FP16; Q/DQ: INT8 convolutions); otherwise INT8 convolutions need the INT8
    flag and Q/DQ nodes, and FP16 needs the FP16 flag. Never a lower precision than the flags allow."""
    strongly = "STRONGLY_TYPED" in network_flags
    fp16 = network._fp16_weights if strongly else "FP16" in builder_flags
    int8 = network._qdq and (strongly or "INT8" in builder_flags)
    out = []
    for layer in network._layers:
        kind = "INT8" if int8 and layer._op == "Conv" else "FP16" if fp16 else "FP32"
        out.append({"Name": layer.name, "LayerType": _LAYER_TYPE.get(layer._op, "IDENTITY"),
                    "Inputs": [{"Name": f"{layer.name}_in", "Format/Datatype": _FORMAT[kind]}],
                    "Outputs": [{"Name": f"{layer.name}_out", "Format/Datatype": _FORMAT[kind]}]})
    return out


class EngineInspector(_Gated):
    _api_name = "EngineInspector"

    def __init__(self, layers: list[dict[str, Any]]) -> None:
        self._layers = layers

    def get_engine_information(self, format: Any) -> str:
        if format.name == "JSON":
            return json.dumps({"Layers": self._layers, "Bindings": []})
        return "\n".join(layer["Name"] for layer in self._layers)

    def get_layer_information(self, layer_index: int, format: Any) -> str:
        return json.dumps(self._layers[layer_index])


class IProgressMonitor(_Gated):
    _api_name = "IProgressMonitor"

    def __init__(self) -> None:
        pass


class IInt8EntropyCalibrator2(_Gated):
    _api_name = "IInt8EntropyCalibrator2"

    def __init__(self) -> None:
        pass


class IExecutionContext(_Gated):
    _api_name = "IExecutionContext"

    def __init__(self, engine: Any) -> None:
        self._engine = engine
        self._addresses: dict[str, int] = {}
        self._shapes: dict[str, tuple[int, ...]] = {}  # dynamic inputs' shapes, as set_input_shape set them

    def set_input_shape(self, name: str, shape: Any) -> bool:
        """Within the engine's profile 0 (every context shares it: TensorRT 10's default, 8.6 with
        PROFILE_SHARING_0806); a shape outside it is refused (False), as TensorRT does."""
        dims = tuple(int(d) for d in shape)
        tensor = self._engine._by_name(name)
        profiles = self._engine._profiles
        if not tensor["input"] or not profiles or name not in profiles[0]:
            return all(d == s for d, s in zip(dims, tensor["shape"])) and len(dims) == len(tensor["shape"])
        low, _, high = profiles[0][name]
        if len(dims) != len(low) or any(not lo <= d <= hi for lo, d, hi in zip(low, dims, high)):
            return False
        self._shapes[name] = dims
        return True

    def get_tensor_shape(self, name: str) -> Any:
        """An input's shape as set; an output's with its dynamic (batch) dimension that of the inputs."""
        tensor = self._engine._by_name(name)
        if tensor["input"]:
            return self._cls["Dims"](self._shapes.get(name, tuple(tensor["shape"])))
        batch = next(iter(self._shapes.values()), (-1,))[0]
        return self._cls["Dims"](tuple(batch if d < 0 else d for d in tensor["shape"]))

    def set_tensor_address(self, name: str, memory: int) -> bool:
        if name not in [t["name"] for t in self._engine._io]:
            return False
        self._addresses[name] = memory
        return True

    def execute_async_v3(self, stream_handle: int) -> bool:
        return self._run(dict(self._addresses), stream_handle)

    def execute_async_v2(self, bindings: list[int], stream_handle: int, input_consumed: Any = None) -> bool:
        io = self._engine._io
        if len(bindings) != len(io):
            return False
        return self._run({t["name"]: ptr for t, ptr in zip(io, bindings)}, stream_handle)

    def _run(self, addresses: dict[str, int], stream: int) -> bool:
        if set(addresses) != {t["name"] for t in self._engine._io} or not all(addresses.values()):
            return False
        dynamic = [t["name"] for t in self._engine._io if t["input"] and any(d < 0 for d in t["shape"])]
        if any(name not in self._shapes for name in dynamic):
            return False  # TensorRT: "input shape not specified"
        self._state.batches.append(self._shapes[dynamic[0]][0] if dynamic else None)
        if self._state.on_execute is not None:
            self._state.on_execute(addresses, stream)
        return True


class ICudaEngine(_Gated):
    _api_name = "ICudaEngine"

    def __init__(self, desc: dict[str, Any]) -> None:
        self._io: list[dict[str, Any]] = desc["io"]
        self._layers: list[dict[str, Any]] = desc.get("layers", [])
        self._profiles: list[dict[str, list[list[int]]]] = desc.get("profiles", [])

    @property
    def num_optimization_profiles(self) -> int:
        return max(1, len(self._profiles))

    def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[Any]:
        if not 0 <= profile_index < len(self._profiles) or name not in self._profiles[profile_index]:
            return []
        return [self._cls["Dims"](tuple(d)) for d in self._profiles[profile_index][name]]

    @property
    def num_layers(self) -> int:
        return len(self._layers)

    def create_engine_inspector(self) -> Any:
        return self._cls["EngineInspector"](self._layers)

    @property
    def num_io_tensors(self) -> int:
        return len(self._io)

    def get_tensor_name(self, index: int) -> str:
        return str(self._io[index]["name"])

    def _by_name(self, name: str) -> dict[str, Any]:
        return next(t for t in self._io if t["name"] == name)

    def get_tensor_mode(self, name: str) -> Any:
        mode = self._cls["TensorIOMode"]
        return mode.INPUT if self._by_name(name)["input"] else mode.OUTPUT

    def get_tensor_shape(self, name: str) -> Any:
        return self._cls["Dims"](tuple(self._by_name(name)["shape"]))

    def get_tensor_dtype(self, name: str) -> Any:
        return getattr(self._cls["DataType"], self._by_name(name)["dtype"])

    @property
    def num_bindings(self) -> int:
        return len(self._io)

    def get_binding_name(self, index: int) -> str:
        return str(self._io[index]["name"])

    def binding_is_input(self, index: int) -> bool:
        return bool(self._io[index]["input"])

    def get_binding_shape(self, index: int) -> Any:
        return self._cls["Dims"](tuple(self._io[index]["shape"]))

    def get_binding_dtype(self, index: int) -> Any:
        return getattr(self._cls["DataType"], self._io[index]["dtype"])

    def create_execution_context(self) -> Any:
        return self._cls["IExecutionContext"](self)


class Runtime(_Gated):
    _api_name = "Runtime"

    def __init__(self, logger: Any) -> None:
        self._logger = logger

    def deserialize_cuda_engine(self, serialized_engine: bytes) -> Any:
        """Refuses as TensorRT does, with TensorRT's own log lines: not a plan, another version, another GPU;
        a plan of another GPU model with the same compute capability loads with TensorRT's warning."""
        sev = self._cls["ILogger"].Severity
        try:
            desc = json.loads(bytes(serialized_engine))
        except ValueError:
            self._logger.log(sev.ERROR, "1: [stdArchiveReader.cpp::StdArchiveReader::32] Error Code 1: Serialization "
                             "(Serialization assertion magicTagRead == kMAGIC_TAG failed.Magic tag does not match)")
            return None
        if desc.get("fake_tensorrt_engine") != self._version:
            self._logger.log(sev.ERROR, "1: [runtime.cpp::parsePlan::314] Error Code 1: Serialization (Serialization "
                             "assertion plan->header.magicTag == rt::kPLAN_MAGIC_TAG failed. The engine plan file is "
                             f"not compatible with this version of TensorRT, expecting library version {self._version} "
                             f"got {desc.get('fake_tensorrt_engine')}, please rebuild.)")
            return None
        cc, model = desc.get("gpu", list(self._state.gpu))
        if cc != self._state.gpu[0]:
            self._logger.log(sev.ERROR, "1: [runtime.cpp::deserializeCudaEngine] Error Code 1: Serialization (The "
                             f"engine plan file is generated on an incompatible device, expecting compute "
                             f"{self._state.gpu[0]} got compute {cc}, please rebuild.)")
            return None
        if model != self._state.gpu[1]:
            self._logger.log(sev.WARNING, "Using an engine plan file across different models of devices is not "
                             "recommended and is likely to affect performance or even cause errors.")
        return self._cls["ICudaEngine"](desc)


IMPLEMENTED: tuple[type[_Gated], ...] = (
    ILogger, Dims, ITensor, ILayer, INetworkDefinition, ParserError, OnnxParser, IHostMemory, ITimingCache,
    IOptimizationProfile, IBuilderConfig, Builder, IProgressMonitor, IInt8EntropyCalibrator2, IExecutionContext,
    ICudaEngine, Runtime, EngineInspector)


class _FakeModule(types.ModuleType):
    """Module attributes are gated like members: names the version lacks raise AttributeError."""

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("_"):
            return super().__getattribute__(name)
        d = super().__getattribute__("__dict__")
        api, rec = d["_api"], d["_recorder"]
        if name not in api["classes"] and name not in api["enums"] and name not in api["functions"]:
            rec.missing.add(name)
            raise AttributeError(f"module 'tensorrt' (fake_tensorrt {d['__version__']}) has no attribute '{name}'")
        rec.accessed.add(name)
        if name not in d:
            raise AttributeError(f"fake_tensorrt does not implement tensorrt.{name} (TensorRT has it)")
        return d[name]


def make_fake_tensorrt(name: str, state: FakeState | None = None,
                       version_text: str | None = None) -> tuple[types.ModuleType, Recorder]:
    """A fresh stand-in `tensorrt` module for target "8.6", "10.3" (alias "10"), "10.16" or "11" (its surface: that
    version's dump), and its recorder. `version_text` overrides the reported version (e.g. "10.7.0.23")."""
    tgt = target(name)
    version = version_text or tgt.version_text
    api = load_api(tgt.dump)
    rec, state = Recorder(), state or FakeState()
    module = _FakeModule("tensorrt", f"fake_tensorrt stand-in for TensorRT {version} (not TensorRT)")
    classes: dict[str, Any] = {}
    for enum_name, values in api["enums"].items():
        classes[enum_name] = _make_enum(enum_name, values, rec)
    for impl in IMPLEMENTED:
        if impl._api_name not in api["classes"]:
            continue
        classes[impl._api_name] = type(impl.__name__, (impl,), {
            "_members": class_members(api, impl._api_name), "_rec": rec, "_state": state, "_cls": classes,
            "_version": version, "__module__": "tensorrt"})
    # ILogger.Severity is nested (not in the dump's enums); values as TensorRT's: INTERNAL_ERROR 0 .. VERBOSE 4.
    # edge-sdk only receives severities, so they are not recorded.
    classes["ILogger"].Severity = _make_enum("Severity", list(SEVERITY), Recorder())
    module.__dict__.update(classes)
    module.__dict__.update({"__version__": version, "_api": api, "_recorder": rec, "_state": state})
    return module, rec
