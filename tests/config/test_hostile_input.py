"""Hostile or broken input to `edge-sdk config validate`, run as a user would:
YAML alias bombs and deep nesting get one clear line quickly, a model that is truncated, random bytes or
Markdown is refused, and `--json` never prints a secret."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from edge_sdk.cli.main import main
from edge_sdk.config import load_config_text
from edge_sdk.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "models/demo/yolo-demo.onnx"
BOMB = "\n".join([f'l0: &l0 [{", ".join(["lol"] * 9)}]']
                 + [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]) + "\nsources: *l9\n"


def _app(tmp_path: Path, model: Path, extra: str = "") -> Path:
    (tmp_path / "clip.mp4").write_bytes(b"\0")
    cfg = tmp_path / "app.yaml"
    cfg.write_text(f"device_id: t\nmodel:\n  path: {model}\nsources:\n  - uri: file://{tmp_path / 'clip.mp4'}\n{extra}")
    return cfg


@pytest.mark.parametrize(("text", "message"), [
    (BOMB, "YAML expands to more than 100000 values"),
    ("sources: " + "[" * 50_000 + "]" * 50_000, "YAML nested more than 64 levels deep"),
    ("".join(f"{' ' * i}k{i}:\n" for i in range(200)) + " " * 200 + "v: 1\n", "YAML nested more than 64 levels deep"),
    ("a: &a [*a]\nsources: *a\n", "recursive anchor"),
])
def test_yaml_bombs_and_deep_nesting_are_one_clear_error(text: str, message: str) -> None:
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match=message) as err:
        load_config_text(text, "app.yaml")
    assert err.value.where is not None and err.value.where.startswith("app.yaml:")
    assert time.monotonic() - t0 < 30, "refused from the file's own size, not after expanding it"


def test_an_alias_bomb_through_the_cli_exits_2_without_a_traceback(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    out = subprocess.run([sys.executable, "-m", "edge_sdk.cli.main", "config", "validate", str(bomb)], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert f"{bomb}:" in out.stderr and "billion laughs" in out.stderr


def _no_image_input(path: Path) -> Path:
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 10])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_bytes(DEMO.read_bytes()[:200_000]), "not a readable ONNX model"),
    (lambda p: p.write_bytes(bytes(range(256)) * 4000), "not a readable ONNX model"),
    (lambda p: p.write_text("# yolo-demo\n\nThe model card, saved under the model's name.\n"), "is text, not an ONNX"),
    (lambda p: p.write_bytes(b""), "is empty"),
    (lambda p: _no_image_input(p), "a detector takes one image tensor"),
])
def test_validate_refuses_a_model_that_is_not_one(tmp_path: Path, make, message: str,  # type: ignore[no-untyped-def]
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "model.onnx"
    make(model)
    assert main(["config", "validate", str(_app(tmp_path, model))]) == 3  # ExitCode.MODEL, as `run` gives
    err = capsys.readouterr().err
    assert message in err and "model.path:" in err and "fix:" in err and "Traceback" not in err


def test_validate_json_masks_every_secret(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = _app(tmp_path, DEMO, "mqtt:\n  username: cam\n  password: hunter2\n")
    text = cfg.read_text().replace(f"file://{tmp_path / 'clip.mp4'}",
                                   "rtsp://admin:hunter3@10.0.0.5/live?token=hunter4")
    cfg.write_text(text)
    assert main(["config", "validate", str(cfg), "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["mqtt"]["password"] == "***" and data["mqtt"]["username"] == "cam"
    assert data["sources"][0]["uri"] == "rtsp://admin:***@10.0.0.5/live?token=***"
    assert "hunter" not in out
