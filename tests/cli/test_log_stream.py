"""edge-sdk's log handler follows sys.stderr: a command run in-process while sys.stderr was a stream that is closed
afterwards (pytest's capsys, a program that embeds edge-sdk) leaves no handler writing into the closed stream, so
later log lines, from any thread, still reach stderr instead of "--- Logging error --- I/O operation on closed
file" (seen in CI from a subscriber's network thread in a later test)."""

from __future__ import annotations

import io
import logging
import sys
import threading

import pytest

from edge_sdk.log import setup_logging


def test_log_lines_after_the_stream_of_an_in_process_command_closed(capsys: pytest.CaptureFixture[str],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    logger = logging.getLogger("edge_sdk")
    monkeypatch.setattr(logger, "handlers", list(logger.handlers))  # restored after the test
    monkeypatch.setattr(logger, "propagate", logger.propagate)
    monkeypatch.setattr(logger, "level", logger.level)
    errors: list[str] = []
    monkeypatch.setattr(logging, "raiseExceptions", True)
    monkeypatch.setattr(logging.Handler, "handleError", lambda _h, r: errors.append(r.getMessage()))

    temporary = io.StringIO()
    real = sys.stderr
    sys.stderr = temporary  # what a command run in-process writes to ...
    try:
        setup_logging("INFO", fmt="text")
        logging.getLogger("edge_sdk.cli").info("inside the command")
    finally:
        sys.stderr = real
    assert "inside the command" in temporary.getvalue()
    temporary.close()  # ... and that stream's owner closes it afterwards

    t = threading.Thread(target=lambda: logging.getLogger("edge_sdk.publish.subscriber").warning("connection lost"))
    t.start()
    t.join()
    assert errors == [], "a log line went to the closed stream"
    assert "connection lost" in capsys.readouterr().err
