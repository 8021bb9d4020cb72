"""Config validation: every error names file:line, the key path, the bad value and what is allowed."""

from pathlib import Path

import pytest

from edge_sdk.cli.main import main
from edge_sdk.config import load_config, load_config_text
from edge_sdk.config.secrets import resolve_secret
from edge_sdk.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
GOOD = """\
device: cpu
device_id: test-01
model:
  path: models/demo/yolo-demo.onnx
sources:
  - name: front
    uri: file://samples/demo.mp4
mqtt:
  host: 127.0.0.1
  port: 1883
"""


def test_valid_config_loads_and_resolves_relative_paths(tmp_path: Path) -> None:
    f = tmp_path / "app.yaml"
    f.write_text(GOOD)
    cfg = load_config(f)
    assert cfg.device_id == "test-01" and cfg.sources[0].name == "front"
    assert cfg.resolve(cfg.model.path) == tmp_path.resolve() / "models/demo/yolo-demo.onnx"
    assert cfg.engine.type == "onnxruntime" and cfg.mqtt.qos == 1


def test_unknown_key_reports_line_and_suggestion() -> None:
    text = GOOD.replace("  port: 1883", "  port: 1883\n  qso: 1")
    with pytest.raises(ConfigError) as err:
        load_config_text(text, "app.yaml")
    msg = str(err.value)
    assert "app.yaml:11: mqtt.qso: unknown key" in msg and "did you mean 'qos'" in msg


def test_out_of_range_value_reports_value_and_bound() -> None:
    text = GOOD.replace("port: 1883", "port: 70000")
    with pytest.raises(ConfigError) as err:
        load_config_text(text, "app.yaml")
    msg = str(err.value)
    assert "app.yaml:10: mqtt.port:" in msg and "70000" in msg and "65535" in msg


def test_bad_source_uri_and_engine_type() -> None:
    text = GOOD.replace("file://samples/demo.mp4", "ftp://cam").replace("model:", "engine:\n  type: openvino\nmodel:")
    with pytest.raises(ConfigError) as err:
        load_config_text(text, "app.yaml")
    msg = str(err.value)
    assert "sources.0.uri" in msg and "ftp" in msg
    assert "engine" in msg and "openvino" in msg and "2 problems" in msg


def test_malformed_yaml_and_duplicate_keys() -> None:
    with pytest.raises(ConfigError, match=r"app.yaml:3: malformed YAML"):
        load_config_text("device: cpu\nsources:\n\t- uri: x\n", "app.yaml")
    with pytest.raises(ConfigError, match=r"app.yaml:2: key 'device' appears twice \(first on line 1\)"):
        load_config_text("device: cpu\ndevice: orin-nx\n", "app.yaml")


def test_password_must_come_with_username() -> None:
    text = GOOD + "  password: secret\n"
    with pytest.raises(ConfigError, match=r"password .* must come with a username"):
        load_config_text(text, "app.yaml")


def test_secret_order_credentials_then_env_then_inline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    assert resolve_secret("mqtt-password", env_var="EDGE_PW", inline="inline") == "inline"
    monkeypatch.setenv("EDGE_PW", "from-env")
    assert resolve_secret("mqtt-password", env_var="EDGE_PW", inline="inline") == "from-env"
    (tmp_path / "mqtt-password").write_text("from-cred\n")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert resolve_secret("mqtt-password", env_var="EDGE_PW", inline="inline") == "from-cred"


def test_cli_validate_prints_error_without_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(GOOD.replace("device_id: test-01", "device_id: test 01"))
    assert main(["config", "validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert f"{f}:2: device_id" in err and "Traceback" not in err
    f.write_text(GOOD)
    assert main(["config", "validate", str(f)]) == 3  # a missing model: ExitCode.MODEL, as `run` exits
    err = capsys.readouterr().err
    assert "model.path:" in err and "sources.0.uri:" in err and "does not exist" in err
    (tmp_path / "models/demo").mkdir(parents=True)
    (tmp_path / "models/demo/yolo-demo.onnx").write_bytes((ROOT / "models/demo/yolo-demo.onnx").read_bytes())
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples/demo.mp4").write_bytes(b"x")
    assert main(["config", "validate", str(f)]) == 0
    assert main(["config", "validate", str(tmp_path / "missing.yaml")]) == 2
    assert "config file not found" in capsys.readouterr().err


def test_schema_lists_descriptions_and_bounds(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    assert main(["config", "schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    port = schema["$defs"]["MqttConfig"]["properties"]["port"]
    assert port["maximum"] == 65535 and port["description"]
    assert schema["$defs"]["MqttConfig"]["additionalProperties"] is False


def test_the_config_directory_is_no_key_of_the_schema_or_the_yaml(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Relative paths resolve from the config file's folder, which the loader sets; a YAML cannot move it."""
    import json

    assert main(["config", "schema"]) == 0
    assert "base_dir" not in json.dumps(json.loads(capsys.readouterr().out))
    with pytest.raises(ConfigError, match=r"app.yaml:1: base_dir: unknown key"):
        load_config_text("base_dir: /etc\n" + GOOD, "app.yaml")
    (tmp_path / "app.yaml").write_text(GOOD)
    assert load_config(tmp_path / "app.yaml").base_dir == tmp_path.resolve()


def test_engine_keys_are_checked_against_the_engine_type_in_use() -> None:
    """Inside the `engine:` union: did-you-mean from the chosen type's keys, and a mistyped type named as such."""
    text = GOOD + "engine:\n  type: tensorrt\n  slotz: 2\n"
    with pytest.raises(ConfigError, match=r"app.yaml:13: engine.slotz: unknown key \(did you mean 'slots'\?\)"):
        load_config_text(text, "app.yaml")
    text = GOOD + "engine:\n  type: tensorr\n"
    with pytest.raises(ConfigError, match=r"app.yaml:12: engine.type: unknown type 'tensorr' \(did you mean "
                                          r"'tensorrt'\?\) \[allowed: onnxruntime, tensorrt\]"):
        load_config_text(text, "app.yaml")


def test_errors_never_echo_passwords() -> None:
    text = GOOD.replace("file://samples/demo.mp4", "rtsp://admin:hunter2@10.0.0.5/live?latncy=200")
    text += "  username: u\n  password: [hunter3]\n"
    with pytest.raises(ConfigError) as err:
        load_config_text(text, "app.yaml")
    msg = str(err.value)
    assert "sources.0.uri" in msg and "mqtt.password" in msg
    assert "hunter2" not in msg and "hunter3" not in msg
