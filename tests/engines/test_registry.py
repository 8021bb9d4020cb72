"""Engine backends are registered once: a module in edge_sdk/engines/backends/ holds the config section and the
engine, and the config schema, the config loader and `open_engine` all follow from what is registered."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import edge_sdk.engines.backends as backends_package
from edge_sdk.config.app import AppConfig
from edge_sdk.engines.registry import available_engines, backends

ROOT = Path(__file__).resolve().parents[2]

NUMPY_BACKEND = '''
"""A test backend: `engine.type: numpy_mean` runs the channel means in numpy."""
from typing import Literal

import numpy as np
from pydantic import Field

from edge_sdk.engines.base import Engine, EngineConfigBase, EngineInfo, TensorSpec
from edge_sdk.engines.base import Backend


class NumpyMeanConfig(EngineConfigBase):
    type: Literal["numpy_mean"] = "numpy_mean"
    scale: float = Field(1.0, gt=0, description="multiplies the means")


class NumpyMeanEngine(Engine):
    def __init__(self, path: str, cfg: NumpyMeanConfig) -> None:
        self.scale = cfg.scale
        self.info = EngineInfo("numpy_mean", path, "", "fp32", (TensorSpec("images", (1, 3, 4, 4), "float32"),),
                               (TensorSpec("means", (1, 3), "float32"),), "cpu")

    def infer_impl(self, inputs):
        return [inputs[0].mean(axis=(2, 3)) * self.scale]

    def close_impl(self) -> None:
        pass


BACKEND = Backend(NumpyMeanConfig, NumpyMeanEngine)
'''

PROBE = '''
import sys, json
import numpy as np
import edge_sdk.engines.backends as b
b.__path__.append(sys.argv[1])  # a folder holding one more backend module, as if dropped into the package
from edge_sdk.config import load_config_text
from edge_sdk.errors import ConfigError
from edge_sdk.engines.registry import open_engine
yaml = "sources: [{uri: 'file://v.mp4'}]\\nengine: {type: numpy_mean, scale: 2}\\n"
cfg = load_config_text(yaml)
with open_engine(cfg.engine.type, "m.onnx", cfg.engine) as engine:
    out = engine.infer(np.ones((1, 3, 4, 4), np.float32))[0].tolist()
try:
    load_config_text(yaml.replace("scale", "scal"))
    err = ""
except ConfigError as exc:
    err = str(exc)
schema = cfg.model_json_schema()["properties"]["engine"]["discriminator"]["mapping"]
print(json.dumps({"out": out, "err": err, "types": sorted(schema)}))
'''


def test_every_backend_module_is_registered_under_its_name_and_makes_the_config_schema() -> None:
    modules = sorted(m.name for m in pkgutil.iter_modules(backends_package.__path__))
    assert modules == available_engines() == ["onnxruntime", "tensorrt"]
    schema = AppConfig.model_json_schema()
    mapping = schema["properties"]["engine"]["discriminator"]["mapping"]
    assert sorted(mapping) == modules
    for name, backend in backends().items():
        assert backend.type == name and backend.config.__module__ == f"edge_sdk.engines.backends.{name}"
        assert backend.config.model_validate({}).type == name  # `type` defaults to its own key


def test_a_new_backend_is_one_module_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "numpy_mean.py").write_text(NUMPY_BACKEND)
    (tmp_path / "broken.py").write_text("import not_installed_anywhere\n")  # left out with a warning, not fatal
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(PROBE), str(tmp_path)], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["out"] == [[2.0, 2.0, 2.0]]
    assert got["types"] == ["numpy_mean", "onnxruntime", "tensorrt"]
    assert "engine.scal: unknown key (did you mean 'scale'?)" in got["err"]
    assert "engine backend broken left out: No module named 'not_installed_anywhere'" in proc.stderr
