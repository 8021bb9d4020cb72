"""Where each preprocessing field and the labels come from: config, the model's metadata, a PaddleDetection
infer_cfg.yml beside it, the family's convention, the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_sdk.config.loader import load_config_text
from edge_sdk.errors import ConfigError
from edge_sdk.model.resolve import apply_family, resolve_model
from tests.model.test_prepare import conv_model

INFER_CFG = """arch: PicoDet
Preprocess:
- {interp: 2, keep_ratio: false, target_size: [64, 96], type: Resize}
- {is_scale: true, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], type: NormalizeImage}
- {type: Permute}
label_list: [text, title, figure]
fpn_stride: [8, 16, 32, 64]
"""


def model_cfg(text: str = "") -> object:
    return load_config_text("sources: [{uri: 'file:///x.mp4'}]\nmodel:\n  path: m.onnx\n" + text).model


def test_ultralytics_metadata_states_everything(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "y.onnx", ["batch", 3, "height", "width"],
                   props={"author": "Ultralytics", "imgsz": "[64, 64]", "stride": "32", "names": "{0: 'a', 1: 'b'}"})
    r = resolve_model(m, None, cache_dir=tmp_path / "c")
    assert r.preprocess.size == (64, 64) and r.labels == {0: "a", 1: "b"} and not r.stated_nothing()
    assert r.preprocess.origin["channel_order"] == "Ultralytics metadata"


def test_paddle_infer_cfg_beside_the_model_is_read(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "picodet.onnx", [1, 3, 64, 96])
    (tmp_path / "infer_cfg.yml").write_text(INFER_CFG)
    r = resolve_model(m, None, cache_dir=tmp_path / "c")
    spec = r.preprocess
    assert (spec.resize, spec.channel_order, spec.mean, spec.std) == ("stretch", "rgb", (0.485, 0.456, 0.406),
                                                                     (0.229, 0.224, 0.225))
    assert spec.scale == pytest.approx(1 / 255) and r.labels == {0: "text", 1: "title", 2: "figure"}
    assert r.conventions.strides == (8, 16, 32, 64) and r.conventions.hints["arch"] == "PicoDet"


def test_config_overrides_the_model_field_by_field(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "picodet.onnx", [1, 3, 64, 96])
    (tmp_path / "infer_cfg.yml").write_text(INFER_CFG)
    (tmp_path / "labels.txt").write_text("# my classes\nperson\ncar\n")
    cfg = model_cfg("  labels: labels.txt\n  preprocess: {channel_order: bgr, pad_value: 0}\n")
    r = resolve_model(m, cfg, base_dir=tmp_path, cache_dir=tmp_path / "c")
    assert r.preprocess.channel_order == "bgr" and r.preprocess.origin["channel_order"] == "config"
    assert r.preprocess.resize == "stretch" and r.labels == {0: "person", 1: "car"}
    assert r.metadata.names == {0: "person", 1: "car"}


def test_labels_from_other_metadata_keys_and_a_missing_labels_file(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "layout.onnx", [1, 3, 32, 32], props={"character": "text\ntitle\nfigure"})
    assert resolve_model(m, None, cache_dir=tmp_path / "c").labels == {0: "text", 1: "title", 2: "figure"}
    with pytest.raises(ConfigError, match="labels file not found"):
        resolve_model(m, model_cfg("  labels: nope.txt\n"), base_dir=tmp_path, cache_dir=tmp_path / "c")


def test_a_model_that_states_nothing_gets_its_familys_convention_where_unstated(tmp_path: Path) -> None:
    m = conv_model(tmp_path / "yolox.onnx", [1, 3, 32, 32])
    r = resolve_model(m, model_cfg("  preprocess: {pad_value: 0}\n"), cache_dir=tmp_path / "c")
    spec = apply_family(r.preprocess, {"channel_order": "bgr", "scale": 1.0, "pad_value": 114}, "YOLOX")
    assert (spec.channel_order, spec.scale, spec.pad_value) == ("bgr", 1.0, 0)
    assert spec.origin["scale"] == "YOLOX convention" and spec.origin["pad_value"] == "config"


def test_a_uint8_input_takes_the_pixels_whatever_the_model_family(tmp_path: Path) -> None:
    from onnx import TensorProto

    m = conv_model(tmp_path / "u8.onnx", [1, 32, 32, 3], nhwc=True, dtype=TensorProto.UINT8)
    r = resolve_model(m, None, cache_dir=tmp_path / "c")
    assert (r.preprocess.dtype, r.preprocess.layout, r.preprocess.scale) == ("uint8", "nhwc", 1.0)
    assert apply_family(r.preprocess, {"scale": 1 / 255, "mean": (0.5, 0.5, 0.5)}, "X").scale == 1.0
