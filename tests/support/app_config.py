"""The app config the end-to-end tests run: the bundled model on the sample video, a test broker."""

from __future__ import annotations

from pathlib import Path


def demo_app_config(tmp_path: Path, device_id: str, model: Path, video: Path, port: int, extra: str = "") -> Path:
    cfg = tmp_path / "app.yaml"
    cfg.write_text(f"""device: cpu
device_id: {device_id}
state_dir: {tmp_path / 'state'}
model:
  path: {model}
sources:
  - name: cam0
    uri: file://{video}
mqtt:
  host: 127.0.0.1
  port: {port}
{extra}""")
    return cfg
