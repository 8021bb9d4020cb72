"""One table of exit codes (errors.EXIT_CODES), documented where users look, and used by every command: the same
mistake exits the same way whichever command meets it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import edge_sdk.errors as errors
from edge_sdk.cli.main import main
from edge_sdk.errors import EXIT_CODES, EdgeSdkError, ExitCode
from tests.support.tiny_app import tiny_app

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_and_help_print_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| (\d+) \| (.+) \|$", readme, flags=re.M))
    assert {int(k): v for k, v in rows.items()} == dict(EXIT_CODES)
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(text in out for text in EXIT_CODES.values())


def test_every_error_class_exits_with_a_documented_code() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, EdgeSdkError)]
    assert len(classes) > 10
    assert {c.__name__: c.exit_code for c in classes if c.exit_code not in EXIT_CODES} == {}


def test_a_missing_model_exits_3_from_every_command(tmp_path: Path) -> None:
    cfg = tiny_app(tmp_path)
    (tmp_path / "const.onnx").unlink()
    for argv in (["config", "validate", str(cfg)], ["run", "--config", str(cfg)],
                 ["bench", "--config", str(cfg), "--repeats", "1"], ["model", "check", "--config", str(cfg)]):
        assert main(argv) == ExitCode.MODEL, argv


def test_a_missing_video_exits_4_from_every_command(tmp_path: Path) -> None:
    cfg = tiny_app(tmp_path)
    (tmp_path / "clip.avi").unlink()
    for argv in (["config", "validate", str(cfg)], ["run", "--config", str(cfg)]):
        assert main(argv) == ExitCode.INPUT, argv
