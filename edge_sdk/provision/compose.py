"""Compose the config to install: the user's config (or a minimal one), the command line's overrides, and
paths rewritten to the installed layout. Secrets are taken out of the file and installed as credentials."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from pydantic import ValidationError

from edge_sdk.config.app import AppConfig
from edge_sdk.errors import ConfigError
from edge_sdk.provision.layout import ETC, STATE, Layout
from edge_sdk.sources.uri import parse_uri


@dataclass
class Composed:
    data: dict[str, Any]  # the config to install, runtime paths
    files: dict[PurePosixPath, Path] = field(default_factory=dict)  # runtime path -> file to copy there
    secrets: dict[str, str] = field(default_factory=dict)  # credential name -> secret value
    secret_files: dict[str, Path] = field(default_factory=dict)  # credential name -> file to copy
    engine: str = "onnxruntime"  # the engine type installed (chosen by choose_engine)

    def yaml_text(self) -> str:
        head = "# Installed by `edge-sdk provision`; edit, then `systemctl reload edge-sdk` (model/engine/decode)\n" \
               "# or `systemctl restart edge-sdk` (everything else). Secrets are in credentials/, not here.\n"
        return head + yaml.safe_dump(self.data, sort_keys=False)


def parse_broker(url: str) -> dict[str, Any]:
    """`mqtt://[user[:password]@]host[:port]`, `mqtts://...` (TLS) or `host[:port]` -> mqtt settings."""
    if "://" not in url:
        url = "mqtt://" + url
    u = urllib.parse.urlsplit(url)
    if u.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not u.hostname:
        raise ConfigError(f"--broker {url!r}: expected mqtt://[user[:password]@]host[:port] or mqtts://...",
                          fix="e.g. --broker mqtt://127.0.0.1:1883")
    tls = u.scheme in ("mqtts", "ssl")
    try:
        port = u.port or (8883 if tls else 1883)
    except ValueError:
        raise ConfigError(f"--broker {url!r}: the port must be a number 1-65535") from None
    out: dict[str, Any] = {"host": u.hostname, "port": port}
    if u.username:
        out["username"] = urllib.parse.unquote(u.username)
    if u.password:
        out["password"] = urllib.parse.unquote(u.password)
    if tls:
        out["tls"] = {}
    return out


def _input_config(config: Path | None, source: str | None) -> tuple[AppConfig, dict[str, Any]]:
    from edge_sdk.config import load_config

    if config is not None:
        cfg = load_config(str(config))
    elif source is not None:
        cfg = AppConfig.model_validate({"sources": [{"name": "cam0", "uri": source}]})
    else:
        raise ConfigError("provision needs a config or a camera", fix="give --config FILE, or --source URI (and --model)")
    return cfg, cfg.model_dump(mode="json", exclude_unset=True)


def choose_engine(data: dict[str, Any], profile: str, profile_engine: str, asked: str | None) -> str:
    """Set `data["engine"]` to the engine to install and return its type: `asked` (--engine) if given, else
    the device profile's. A config that names another engine than the profile's is refused unless --engine
    names it too: installing ONNX Runtime on an Orin (or TensorRT on a CPU box) is never done quietly."""
    section = data.get("engine")
    configured = (section.get("type") or "onnxruntime") if isinstance(section, dict) else None
    target = asked or profile_engine
    if asked is None and configured is not None and configured != profile_engine:
        raise ConfigError(f"the config asks for engine.type {configured}, but the {profile} profile's engine is "
                          f"{profile_engine}", where="engine.type",
                          fix=f"pass --engine {configured} to install {configured} on this {profile} anyway, or set "
                              f"engine.type: {profile_engine} (or drop the engine section) to use the profile's")
    if configured != target or not isinstance(section, dict):
        data["engine"] = {"type": target}  # the other engine's settings do not apply
    return target


def compose(layout: Layout, *, device: str, config: Path | None, model: Path | None, source: str | None,
            broker: str | None, engine: str | None = None) -> Composed:
    from edge_sdk.device.profiles import load_profile

    cfg, data = _input_config(config, source)
    out = Composed(data)
    out.engine = choose_engine(data, device, load_profile(device).default_engine, engine)
    data["device"] = device
    data["state_dir"] = str(STATE)
    model_src = model.resolve() if model is not None else cfg.resolve(cfg.model.path)
    if not model_src.is_file():
        raise ConfigError("the model file does not exist", where=str(model_src),
                          fix="give --model path/to/model.onnx, or set model.path in the config")
    model_dst = layout.models_dir / model_src.name
    out.files[model_dst] = model_src
    data.setdefault("model", {})["path"] = str(model_dst)
    if model is not None and "name" not in data["model"]:
        data["model"]["name"] = model_src.stem
    if source is not None:
        data["sources"][0]["uri"] = source
    for entry in data["sources"]:
        uri = parse_uri(entry["uri"])
        if uri.scheme == "file":
            target = cfg.resolve(uri.target) if config is not None else Path(uri.target).resolve()
            if not target.is_file():
                raise ConfigError("the file source does not exist (folders are not installed)", where=str(target),
                                  fix="point the source at a video file, or at a camera (v4l2://, rtsp://, csi://)")
            dst = layout.media_dir / target.name
            out.files[dst] = target
            query = entry["uri"].split("?", 1)[1] if "?" in entry["uri"] else ""
            entry["uri"] = f"file://{dst}" + (f"?{query}" if query else "")
    cal = data.setdefault("calibration", {})
    for key in ("dir", "holdout_dir"):
        if cal.get(key):
            cal[key] = str(cfg.resolve(cal[key]))  # the user's frames stay where they are
    if not cal.get("dir"):
        cal["root"] = str(STATE / "calibration")  # frames captured by provision live with the state
    mqtt = data.setdefault("mqtt", {})
    if broker is not None:
        for key in ("host", "port", "username", "password", "password_env"):
            mqtt.pop(key, None)
        mqtt.update(parse_broker(broker))
    password = mqtt.pop("password", None)
    if password is None and cfg.mqtt.password and broker is None:
        password = cfg.mqtt.password
    if password:
        out.secrets["mqtt-password"] = password
    tls = mqtt.get("tls")
    if isinstance(tls, dict):
        for key in ("ca_file", "cert_file"):
            if tls.get(key):
                src = cfg.resolve(tls[key])
                dst = layout.tls_dir / src.name
                out.files[dst] = src
                tls[key] = str(dst)
        if tls.get("key_file"):
            out.secret_files["mqtt-tls-key"] = cfg.resolve(tls["key_file"])
            tls["key_file"] = str(layout.credentials_dir / "mqtt-tls-key")
    try:
        AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"the composed config is invalid: {exc.errors()[0]['msg']}",
                          where=".".join(map(str, exc.errors()[0]["loc"])), fix="check --config and the options") from None
    return out


def staged_config(composed: Composed, layout: Layout) -> AppConfig:
    """The installed config with its runtime paths mapped to where they are written (for the build steps and
    the smoke run)."""
    text = yaml.safe_dump(composed.data)
    if layout.prefix is not None:
        for runtime in (STATE, ETC):
            text = text.replace(f"{runtime}/", f"{layout.staged(runtime)}/").replace(f": {runtime}\n",
                                                                                  f": {layout.staged(runtime)}\n")
    return AppConfig.model_validate(yaml.safe_load(text))
