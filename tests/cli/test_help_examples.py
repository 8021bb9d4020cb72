"""Every example in `edge-sdk --help` and in each command's `--help` is accepted by the real parser (a new user
copies them first: `subscribe --host` did not exist)."""

from __future__ import annotations

import contextlib
import io
import re
import shlex

import pytest

from edge_sdk.cli.main import EPILOG, _commands, build_parser


def examples() -> list[tuple[str, str]]:
    """(where, command line) for each `edge-sdk ...` line of the help texts; continued lines joined, the
    comment column and shell redirections cut off."""
    found = []
    for where, text in [("edge-sdk", EPILOG)] + [(m.COMMAND, getattr(m, "EPILOG", "") or "") for m in _commands()]:
        joined = re.sub(r"\s*\\\n\s*", " ", text)
        for line in joined.splitlines():
            m = re.match(r"\s+(edge-sdk\s.*)$", line)
            if m:
                command = re.split(r"\s{2,}|\s#", m.group(1))[0]
                found.append((where, re.split(r"\s[>|]\s", command)[0]))
    return found


def test_there_are_examples_for_every_command() -> None:
    assert {w for w, _ in examples()} == {"edge-sdk"} | {m.COMMAND for m in _commands()}


@pytest.mark.parametrize(("where", "command"), examples())
def test_example_parses(where: str, command: str) -> None:
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            build_parser().parse_args(shlex.split(command)[1:])
    except SystemExit:
        pytest.fail(f"the example in {where} --help does not parse: {command}\n{err.getvalue()}")


def test_the_parser_loads_no_heavy_module() -> None:
    """`edge-sdk --help`, `edge-sdk provision --help` and every command build all the commands' parsers: none may
    import numpy, pydantic, the config schema or an engine (provision's did: 0.45 s for --help, now 0.09 s)."""
    import subprocess
    import sys

    code = ("import sys; from edge_sdk.cli.main import build_parser; build_parser(); "
            "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('numpy', 'pydantic', 'onnx', 'onnxruntime', 'cv2', 'paho', 'yaml') "
            "or m.startswith(('edge_sdk.engines', 'edge_sdk.config.app')))))")
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert heavy == [], f"building the parser imported {heavy}"


def test_provision_offers_every_registered_engine_and_precision() -> None:
    """provision lists the engines from the backends folder without importing them: the same as the registry."""
    from typing import get_args

    from edge_sdk.cli.cmd_provision import engine_types
    from edge_sdk.config.app import ModelConfig
    from edge_sdk.config.precision import PRECISIONS
    from edge_sdk.engines.registry import available_engines

    assert engine_types() == available_engines()
    assert get_args(ModelConfig.model_fields["precision"].annotation) == PRECISIONS
    help_text = io.StringIO()
    with contextlib.redirect_stdout(help_text), pytest.raises(SystemExit):
        build_parser().parse_args(["provision", "--help"])
    assert "{onnxruntime,tensorrt}" in help_text.getvalue() and "{fp32,fp16,int8}" in help_text.getvalue()
