"""edge_sdk.ByteLookup (the native ONNX Runtime op built from edge_sdk/engines/ops/byte_lookup.c) and the
qdq-silu-lookup rewrite that uses it: every byte against numpy and against ONNX Runtime's own Q/DQ SiLU."""

from __future__ import annotations

import ctypes
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge_sdk.engines import graph_rewrite, ops
from edge_sdk.engines.backends.onnxruntime import OnnxRuntimeEngine
from edge_sdk.engines.graph_rewrite_lut import silu_lookup, silu_table


def _library() -> Path:
    path = ops.byte_lookup_library()
    assert path is not None, ops.missing_reason()  # setup.py builds it wherever a C compiler is (CI installs gcc)
    return path


def _cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def test_every_length_and_byte_matches_numpy_on_each_code_path() -> None:
    lib = ctypes.CDLL(str(_library()))
    lib.edge_sdk_byte_lookup_path.restype = ctypes.c_char_p
    lib.edge_sdk_byte_lookup.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_int]
    path = lib.edge_sdk_byte_lookup_path().decode()
    vbmi = {"avx512vbmi", "avx512bw"} <= _cpu_flags()
    assert path == ("avx512vbmi" if vbmi else "scalar")
    rng = np.random.default_rng(0)
    table = rng.integers(0, 256, 256, dtype=np.uint8)
    for n in (0, 1, 5, 63, 64, 65, 127, 128, 129, 1000, 4096 + 7, (1 << 16) * 2 + 17):
        x = rng.integers(0, 256, n, dtype=np.uint8)
        x[: min(n, 256)] = np.arange(min(n, 256), dtype=np.uint8)  # every byte value where there is room
        for scalar in (1, 0):
            y = np.full(n + 64, 7, np.uint8)  # the tail past n must stay untouched
            lib.edge_sdk_byte_lookup(x.ctypes.data, y.ctypes.data, n, table.ctypes.data, scalar)
            np.testing.assert_array_equal(y[:n], table[x])
            assert (y[n:] == 7).all()


def _lookup_model(shape: list[Any], table: np.ndarray) -> bytes:
    graph = helper.make_graph(
        [helper.make_node("ByteLookup", ["x", "table"], ["y"], domain=ops.DOMAIN)], "lookup",
        [helper.make_tensor_value_info("x", TensorProto.UINT8, shape)],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, None)], [numpy_helper.from_array(table, "table")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(ops.DOMAIN, 1)])
    model.ir_version = 8
    return model.SerializeToString()


def _session(model: bytes, threads: int = 2) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.register_custom_ops_library(str(_library()))
    return ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("shape", [[1, 5, 37, 41], [1, 80, 80, 64], [3, 1000]])
def test_the_op_in_an_onnx_runtime_session_single_and_multi_chunk(shape: list[int]) -> None:
    rng = np.random.default_rng(1)
    table = rng.integers(0, 256, 256, dtype=np.uint8)
    session = _session(_lookup_model(["n", *shape[1:]], table))
    x = rng.integers(0, 256, shape, dtype=np.uint8)  # [1,80,80,64]: 409600 bytes, 7 parallel chunks
    (y,) = session.run(None, {"x": x})
    assert y.dtype == np.uint8 and y.shape == x.shape
    np.testing.assert_array_equal(y, table[x])


def test_a_table_of_the_wrong_size_fails_the_run_with_a_message() -> None:
    session = _session(_lookup_model([4], np.zeros(255, np.uint8)))
    with pytest.raises(Exception, match="256 entries"):
        session.run(None, {"x": np.zeros(4, np.uint8)})


def _qdq_silu_bytes(x: tuple[float, int], sig: tuple[float, int], out: tuple[float, int]) -> bytes:
    """UINT8 bytes -> DequantizeLinear -> Sigmoid -> Q/DQ -> Mul -> QuantizeLinear: ONNX Runtime's own INT8 SiLU."""
    inits = [numpy_helper.from_array(np.array(v, dt), n) for n, v, dt in
             [("sx", x[0], np.float32), ("zx", x[1], np.uint8), ("ss", sig[0], np.float32), ("zs", sig[1], np.uint8),
              ("so", out[0], np.float32), ("zo", out[1], np.uint8)]]
    nodes = [helper.make_node("DequantizeLinear", ["x", "sx", "zx"], ["xf"]),
             helper.make_node("Sigmoid", ["xf"], ["s"]),
             helper.make_node("QuantizeLinear", ["s", "ss", "zs"], ["sq"]),
             helper.make_node("DequantizeLinear", ["sq", "ss", "zs"], ["sf"]),
             helper.make_node("Mul", ["xf", "sf"], ["m"]),
             helper.make_node("QuantizeLinear", ["m", "so", "zo"], ["y"])]
    graph = helper.make_graph(nodes, "silu", [helper.make_tensor_value_info("x", TensorProto.UINT8, [256])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, [256])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


def test_the_table_is_what_onnx_runtime_computes_for_every_byte() -> None:
    """QLinearSigmoid + QLinearMul (ONNX Runtime fuses the Q/DQ SiLU into them) against silu_table, for scales and
    zero points like a calibrated model's and some far from them."""
    rng = np.random.default_rng(2)
    cases = [((0.0473, 141), (1 / 255, 0), (0.0221, 13)), ((0.1, 0), (1 / 256, 0), (0.05, 128)),
             ((0.02, 255), (0.004, 3), (0.3, 200))]
    cases += [((float(rng.uniform(0.005, 0.2)), int(rng.integers(0, 256))), (1 / 255, 0),
               (float(rng.uniform(0.005, 0.2)), int(rng.integers(0, 64)))) for _ in range(20)]
    x = np.arange(256, dtype=np.uint8)
    for params in cases:
        session = ort.InferenceSession(_qdq_silu_bytes(*params), providers=["CPUExecutionProvider"])
        (reference,) = session.run(None, {"x": x})
        np.testing.assert_array_equal(silu_table(*params), reference, err_msg=str(params))


def _conv_silu_model(path: Path, *, extra_reader: bool = False) -> Path:
    """images [1,3,16,20] -> Q/DQ -> INT8 3x3 conv (8 ch) -> Q/DQ -> SiLU as Sigmoid, Q/DQ, Mul -> Q/DQ -> out:
    the pattern of every conv of a YOLO model quantized by edge-sdk build (CPU form). With `extra_reader` the
    conv's dequantized output is also an output of the graph (then it is not a SiLU alone)."""
    rng = np.random.default_rng(3)
    w = rng.integers(-127, 128, (8, 3, 3, 3), dtype=np.int8)
    inits = [numpy_helper.from_array(np.array(v, dt), n) for n, v, dt in
             [("s_in", 1 / 255, np.float32), ("z0", 0, np.uint8), ("s1", 0.031, np.float32), ("z1", 120, np.uint8),
              ("s_sig", 1 / 255, np.float32), ("s3", 0.017, np.float32), ("z3", 16, np.uint8)]]
    inits += [numpy_helper.from_array(w, "wq"), numpy_helper.from_array(np.full(8, 0.006, np.float32), "ws"),
              numpy_helper.from_array(np.zeros(8, np.int8), "wz")]
    nodes = [helper.make_node("QuantizeLinear", ["images", "s_in", "z0"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "s_in", "z0"], ["x"]),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["w"], axis=0),
             helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("QuantizeLinear", ["c", "s1", "z1"], ["cq"]),
             helper.make_node("DequantizeLinear", ["cq", "s1", "z1"], ["cf"]),
             helper.make_node("Sigmoid", ["cf"], ["s"]),
             helper.make_node("QuantizeLinear", ["s", "s_sig", "z0"], ["sq"]),
             helper.make_node("DequantizeLinear", ["sq", "s_sig", "z0"], ["sf"]),
             helper.make_node("Mul", ["cf", "sf"], ["m"]),
             helper.make_node("QuantizeLinear", ["m", "s3", "z3"], ["mq"]),
             helper.make_node("DequantizeLinear", ["mq", "s3", "z3"], ["out"])]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 8, 16, 20])]
    if extra_reader:
        outputs.append(helper.make_tensor_value_info("cf", TensorProto.FLOAT, [1, 8, 16, 20]))
    graph = helper.make_graph(nodes, "conv_silu", [helper.make_tensor_value_info("images", TensorProto.FLOAT,
                                                                                [1, 3, 16, 20])], outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(path))
    return path


def test_an_int8_silu_becomes_one_lookup_with_the_same_bytes(tmp_path: Path) -> None:
    path = _conv_silu_model(tmp_path / "silu.onnx")
    model = onnx.load(str(path))
    assert silu_lookup(model) == 1
    ops_left = [n.op_type for n in model.graph.node]
    assert "Sigmoid" not in ops_left and "Mul" not in ops_left and ops_left.count("ByteLookup") == 1
    x = np.random.default_rng(4).random((1, 3, 16, 20), dtype=np.float32)
    with OnnxRuntimeEngine(path, graph_rewrites=False) as plain, OnnxRuntimeEngine(path, intra_op_threads=2) as fast:
        assert fast.info.extra["graph_rewrites"] == {"qdq-silu-lookup": 1}
        reference, y = plain.infer(x)[0], fast.infer(x)[0]
    np.testing.assert_array_equal(y, reference)
    assert len(np.unique(reference)) > 100  # the bytes span much of the table, not one value


def test_a_silu_whose_input_is_read_elsewhere_is_left_alone(tmp_path: Path) -> None:
    model = onnx.load(str(_conv_silu_model(tmp_path / "silu.onnx", extra_reader=True)))
    assert silu_lookup(model) == 0
    assert [n.op_type for n in model.graph.node].count("Sigmoid") == 1


def test_without_the_native_library_the_rewrite_is_skipped_with_a_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    path = _conv_silu_model(tmp_path / "silu.onnx")
    monkeypatch.setattr(ops, "byte_lookup_library", lambda: None)
    with caplog.at_level(logging.WARNING):
        rewritten = graph_rewrite.rewrite_for_cpu(path)
    assert rewritten is None or "qdq-silu-lookup" not in rewritten.applied
    assert "qdq-silu-lookup skipped" in caplog.text and "C compiler" in caplog.text
    assert rewritten is None or rewritten.libraries == ()


def test_sessions_come_and_go_and_run_side_by_side(tmp_path: Path) -> None:
    """One op domain serves every session of the process: engines closed and made again, and two running at
    once, all give the same bytes."""
    path = _conv_silu_model(tmp_path / "silu.onnx")
    x = np.random.default_rng(5).random((1, 3, 16, 20), dtype=np.float32)
    with OnnxRuntimeEngine(path, graph_rewrites=False) as plain:
        reference = plain.infer(x)[0]
    for _ in range(3):
        with OnnxRuntimeEngine(path) as engine:
            np.testing.assert_array_equal(engine.infer(x)[0], reference)
    engines = [OnnxRuntimeEngine(path, intra_op_threads=1) for _ in range(2)]
    results: list[np.ndarray] = []

    def work(engine: OnnxRuntimeEngine) -> None:
        results.extend(engine.infer(x)[0] for _ in range(20))

    threads = [threading.Thread(target=work, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in engines:
        e.close()
    assert len(results) == 40
    for y in results:
        np.testing.assert_array_equal(y, reference)


def test_the_scalar_loop_can_be_forced_for_measuring_it() -> None:
    code = ("import ctypes, sys; lib = ctypes.CDLL(sys.argv[1]); lib.edge_sdk_byte_lookup_path.restype = ctypes.c_char_p; "
            "print(lib.edge_sdk_byte_lookup_path().decode())")
    env = {**os.environ, "EDGE_SDK_BYTE_LOOKUP": "scalar"}
    out = subprocess.run([sys.executable, "-c", code, str(_library())], env=env, capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "scalar"


def test_the_portable_build_compiles_warning_free_and_gives_the_same_bytes(tmp_path: Path) -> None:
    """What other architectures (a Jetson's Arm cores) compile: the scalar loop alone, built here with
    -DEDGE_SDK_PORTABLE and -Werror, then run through ONNX Runtime."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler here")
    source = Path(ops.__file__).with_name("byte_lookup.c")
    out = tmp_path / "portable.so"
    subprocess.run([cc, "-DEDGE_SDK_PORTABLE", "-O2", "-std=c11", "-Wall", "-Wextra", "-Wundef", "-Werror", "-shared",
                    "-fPIC", "-fvisibility=hidden", "-o", str(out), str(source), "-lpthread"], check=True, timeout=120)
    lib = ctypes.CDLL(str(out))
    lib.edge_sdk_byte_lookup_path.restype = ctypes.c_char_p
    assert lib.edge_sdk_byte_lookup_path().decode() == "scalar"
    rng = np.random.default_rng(6)
    table = rng.integers(0, 256, 256, dtype=np.uint8)
    opts = ort.SessionOptions()
    opts.register_custom_ops_library(str(out))
    session = ort.InferenceSession(_lookup_model(["n", 64, 80, 80], table), opts, providers=["CPUExecutionProvider"])
    x = rng.integers(0, 256, (1, 64, 80, 80), dtype=np.uint8)
    np.testing.assert_array_equal(session.run(None, {"x": x})[0], table[x])
