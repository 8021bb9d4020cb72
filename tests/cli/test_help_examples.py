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
