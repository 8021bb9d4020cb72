"""Bad input to the INT8 build: one clear error each, and nothing written to the build directory."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from edge_sdk.errors import CalibrationError, ConfigError, ModelError
from edge_sdk.quant import build_int8
from tests.quant.helpers import scene_frames, write_config
from tests.quant.tiny_detector import tiny_detector
from tools.scenes import generate_still


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scene_frames(tmp_path_factory.mktemp("scenes"), 3_200_000, 14)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_detector(tmp_path_factory.mktemp("model") / "tiny.onnx")


def _nothing_written(tmp_path: Path) -> None:
    build = tmp_path / "state" / "build"
    leftovers = [p for p in build.rglob("*")] if build.exists() else []
    assert leftovers == [], leftovers


@pytest.mark.parametrize("case", ["missing", "empty", "too_few", "too_many_bad"])
def test_bad_frame_folders(tmp_path: Path, tiny: Path, scenes: Path, case: str) -> None:
    frames = tmp_path / "frames"
    if case == "empty":
        frames.mkdir()
    elif case == "too_few":
        frames.mkdir()
        for p in sorted(scenes.iterdir())[:5]:
            shutil.copy(p, frames)
    elif case == "too_many_bad":
        shutil.copytree(scenes, frames)
        for i in range(4):
            (frames / f"junk{i}.png").write_bytes(b"not a png")
    _, cfg = write_config(tmp_path, tiny, frames)
    expected = {"missing": "calibration folder not found", "empty": "is empty", "too_few": "only 5 usable frames",
                "too_many_bad": "4 of 18 files"}[case]
    with pytest.raises(CalibrationError, match=expected):
        build_int8(cfg, progress=False)
    _nothing_written(tmp_path)


def test_a_few_bad_files_are_skipped_and_counted_and_other_sizes_are_letterboxed(tmp_path: Path, tiny: Path,
                                                                                scenes: Path) -> None:
    frames = tmp_path / "frames"
    shutil.copytree(scenes, frames)
    (frames / "notes.txt").write_text("hello")
    for i, (w, h) in enumerate([(320, 240), (1280, 720), (333, 517)]):
        img, _ = generate_still(3_250_000 + i, w, h)
        cv2.imwrite(str(frames / f"odd_{i}.jpg"), img)
    _, cfg = write_config(tmp_path, tiny, frames, calibration={"max_bad_fraction": 0.1}, build={"max_map_drop": 100})
    rep = build_int8(cfg, progress=False).report
    assert rep["frames"]["skipped"] == 1 and rep["frames"]["skipped_examples"] == ["notes.txt: not an image"]
    assert rep["frames"]["sizes"] == {"640x480": 14, "320x240": 1, "1280x720": 1, "333x517": 1}


def test_a_file_that_is_not_onnx(tmp_path: Path, scenes: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage" * 100)
    _, cfg = write_config(tmp_path, bad, scenes)
    with pytest.raises(ModelError, match="cannot"):
        build_int8(cfg, progress=False)
    _nothing_written(tmp_path)


def test_a_model_that_fails_when_onnx_runtime_runs_it(tmp_path: Path, scenes: Path) -> None:
    # Loads fine (shapes are only known at run time), fails on the first frame: 3*64*64 values into [1, 7, 100].
    shape = numpy_helper.from_array(np.array([1, 7, 100], dtype=np.int64), "shape")
    weight = numpy_helper.from_array(np.ones((3, 3, 1, 1), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["images", "w"], ["c"], name="c"),
                               helper.make_node("Reshape", ["c", "shape"], ["output0"], name="r")], "g",
                              [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
                              [helper.make_tensor_value_info("output0", TensorProto.FLOAT, None)], [shape, weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    path = tmp_path / "broken.onnx"
    onnx.save(model, str(path))
    _, cfg = write_config(tmp_path, path, scenes)
    with pytest.raises(ModelError, match="fails on ONNX Runtime") as err:
        build_int8(cfg, progress=False)
    assert str(path) in (err.value.where or "")
    _nothing_written(tmp_path)


def test_missing_model_and_unmatched_exclusion(tmp_path: Path, tiny: Path, scenes: Path) -> None:
    _, cfg = write_config(tmp_path, tmp_path / "nope.onnx", scenes)
    with pytest.raises(ModelError, match="model file not found"):
        build_int8(cfg, progress=False)
    _, cfg = write_config(tmp_path, tiny, scenes, build={"exclude_nodes": ["/c0/*", "/nothing/like/this"]})
    with pytest.raises(ConfigError, match="/nothing/like/this") as err:
        build_int8(cfg, progress=False)
    assert err.value.where == "build.exclude_nodes"
    _nothing_written(tmp_path)
