"""model.precision from the config to the engine, through the real open_model (loader, model checks, build,
probe, decoder) with the `fake_tensorrt`/`fake_pycuda` STAND-INS building and "running" the engine: fp32 builds
FP32 (no FP16 flag, no conversion: never FP16 quietly), fp16 runs the FP16 form of the model (FP16 flag on 8.6/10.x,
the float16 ONNX as it is on 11.x), and fp16 on ONNX Runtime's CPU provider is a config error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from edge_sdk.config.loader import load_config_text
from edge_sdk.errors import ConfigError
from edge_sdk.pipeline.build import open_model
from tests.support.run_model import config_for
from tests.trt.conftest import InstallTrt
from tests.trt.fake_tensorrt import FakeState
from tests.trt.models import tiny_detector


def zeros(cuda: Any) -> Any:
    def run(addresses: dict[str, int], stream: int) -> None:
        cuda.memory.view(addresses["output0"])[:] = 0

    return run


@pytest.mark.parametrize("name", ["10.3", "11"])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_model_precision_reaches_the_tensorrt_build(name: str, precision: str, install_fake_trt: InstallTrt,
                                                    fake_cuda: Any, tmp_path: Path) -> None:
    _, rec = install_fake_trt(name, FakeState(on_execute=zeros(fake_cuda)))
    model = tiny_detector(tmp_path / "tiny.onnx")
    (tmp_path / "frames").mkdir()
    text = config_for(tmp_path, model, tmp_path / "frames", model_extra=f"  precision: {precision}\n",
                      extra="engine:\n  type: tensorrt\n")
    bundle = open_model(load_config_text(text, base_dir=tmp_path))
    try:
        assert bundle.engine.info.precision == precision
        flags = sorted(c.args[0].name for c in rec.of("IBuilderConfig.set_flag"))
        parsed = Path(rec.args_of("OnnxParser.parse_from_file")[0][0]).name
        if precision == "fp32":
            assert flags == [] and parsed == "tiny.onnx"
        else:
            assert flags == ([] if name == "11" else ["FP16"]) and parsed.endswith(".fp16.onnx")
        out = bundle.engine.infer(np.zeros((1, 3, 32, 32), np.float32))
        assert out[0].dtype == np.float32  # I/O stays float32 in the FP16 form
    finally:
        bundle.engine.close()


def test_fp16_on_the_onnxruntime_cpu_provider_is_a_config_error(tmp_path: Path) -> None:
    model = tiny_detector(tmp_path / "tiny.onnx")
    text = config_for(tmp_path, model, tmp_path, model_extra="  precision: fp16\n")
    with pytest.raises(ConfigError, match=r"model\.precision fp16 needs a GPU engine"):
        load_config_text(text, base_dir=tmp_path)
    load_config_text(text + "engine:\n  type: onnxruntime\n  providers: [CUDAExecutionProvider]\n  tf32: false\n"
                     "  cuda_graph: false\n", base_dir=tmp_path)
