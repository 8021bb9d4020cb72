"""Calibration folders: scanning, bad files, duplicates, and the calibration / held-out split."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edge_sdk.calibration.dataset import load_split, scan_folder
from edge_sdk.errors import CalibrationError
from tests.quant.helpers import scene_frames, write_config

MODEL = Path("unused.onnx")


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scene_frames(tmp_path_factory.mktemp("scenes"), 3_000_000, 20, (160, 120))


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_split_is_disjoint_deterministic_and_independent_of_names(tmp_path: Path, scenes: Path) -> None:
    _, cfg = write_config(tmp_path, MODEL, scenes, calibration={"holdout_fraction": 0.25})
    split = load_split(cfg)
    cal = {f.sha256 for f in split.calibration}
    hold = {f.sha256 for f in split.holdout}
    assert len(cal) + len(hold) == 20 and not cal & hold
    assert len(hold) == 5
    renamed = _copy(scenes, tmp_path / "renamed")
    for p in sorted(renamed.iterdir()):
        p.rename(p.with_name("x" + p.stem[::-1] + p.suffix))
    _, cfg2 = write_config(tmp_path, MODEL, renamed, calibration={"holdout_fraction": 0.25}, name="b.yaml")
    split2 = load_split(cfg2)
    assert {f.sha256 for f in split2.holdout} == hold
    assert split2.digest() == split.digest()


def test_duplicates_count_once_and_never_land_on_both_sides(tmp_path: Path, scenes: Path) -> None:
    folder = _copy(scenes, tmp_path / "f")
    for p in sorted(folder.iterdir())[:6]:
        shutil.copy(p, folder / f"copy_{p.name}")
    _, cfg = write_config(tmp_path, MODEL, folder)
    split = load_split(cfg)
    assert split.duplicates == 6
    assert len(split.calibration) + len(split.holdout) == 20
    assert not {f.sha256 for f in split.calibration} & {f.sha256 for f in split.holdout}


def test_bad_files_are_skipped_and_counted(tmp_path: Path, scenes: Path) -> None:
    folder = _copy(scenes, tmp_path / "f")
    (folder / "notes.txt").write_text("not a frame")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    (folder / "manifest.json").write_text("{}")  # bookkeeping: neither a frame nor a bad file
    _, cfg = write_config(tmp_path, MODEL, folder, calibration={"max_bad_fraction": 0.2})
    split = load_split(cfg)
    reasons = sorted((s.path.name, s.reason.split(" ")[0]) for s in split.skipped)
    assert reasons == [("broken.png", "unreadable"), ("notes.txt", "not")]
    _, strict = write_config(tmp_path, MODEL, folder, calibration={"max_bad_fraction": 0.05}, name="s.yaml")
    with pytest.raises(CalibrationError, match=r"2 of 22 files .* unreadable, not images, too large or too small") as err:
        load_split(strict)
    assert "max_bad_fraction" in (err.value.fix or "")


def test_missing_empty_and_too_small_folders_are_clear_errors(tmp_path: Path, scenes: Path) -> None:
    _, cfg = write_config(tmp_path, MODEL, tmp_path / "nowhere")
    with pytest.raises(CalibrationError, match="calibration folder not found") as err:
        load_split(cfg)
    assert "edge-sdk calibrate capture" in (err.value.fix or "") and "nowhere" in (err.value.where or "")
    (tmp_path / "empty").mkdir()
    _, cfg = write_config(tmp_path, MODEL, tmp_path / "empty", name="e.yaml")
    with pytest.raises(CalibrationError, match="empty"):
        load_split(cfg)
    _, cfg = write_config(tmp_path, MODEL, scenes, calibration={"min_frames": 30}, name="m.yaml")
    with pytest.raises(CalibrationError, match=r"only 20 usable frames .* calibration.min_frames = 30"):
        load_split(cfg)


def test_holdout_dir_takes_precedence_over_overlapping_frames(tmp_path: Path, scenes: Path) -> None:
    hold = tmp_path / "hold"
    hold.mkdir()
    for p in sorted(scenes.iterdir())[:5]:
        shutil.copy(p, hold / p.name)
    _, cfg = write_config(tmp_path, MODEL, scenes, calibration={"holdout_dir": str(hold)})
    split = load_split(cfg)
    assert split.holdout_from == "holdout_dir"
    assert len(split.holdout) == 5 and len(split.calibration) == 15
    assert not {f.sha256 for f in split.calibration} & {f.sha256 for f in split.holdout}


def test_caps_spread_evenly(tmp_path: Path, scenes: Path) -> None:
    _, cfg = write_config(tmp_path, MODEL, scenes, calibration={"max_calibration_frames": 5, "max_holdout_frames": 4})
    split = load_split(cfg)
    assert len(split.calibration) == 5 and len(split.holdout) == 4
    names = [f.path.name for f in scan_folder(scenes, key="x").frames]
    picked = [names.index(f.path.name) for f in split.calibration]
    assert picked == sorted(picked) and picked[-1] - picked[0] >= 10
