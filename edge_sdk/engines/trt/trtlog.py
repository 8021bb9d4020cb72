"""TensorRT's log messages, routed into Python logging (`edge_sdk.engines.trt.tensorrt`).

The logger also keeps the last errors, so a failed build or deserialization can say why in its exception
instead of "returned None". A TensorRT logger must outlive every object created with it: the builder and the
runtime keep a reference to the `TrtLog` that owns it.
"""

from __future__ import annotations

import collections
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tensorrt as trt

log = logging.getLogger("edge_sdk.engines.trt.tensorrt")

# ILogger.Severity values: INTERNAL_ERROR 0, ERROR 1, WARNING 2, INFO 3, VERBOSE 4.
_LEVELS = {0: logging.CRITICAL, 1: logging.ERROR, 2: logging.WARNING, 3: logging.DEBUG, 4: logging.DEBUG}


class TrtLog:
    """Owns one TensorRT ILogger that forwards to Python logging and remembers recent errors."""

    def __init__(self, verbose: bool = False) -> None:
        self.errors: collections.deque[str] = collections.deque(maxlen=20)
        self.warnings: collections.deque[str] = collections.deque(maxlen=50)
        self.verbose = verbose
        self.logger: trt.ILogger = _make_logger(self)

    def record(self, severity: int, msg: str) -> None:
        if severity >= 4 and not self.verbose:
            return
        if severity <= 1:
            self.errors.append(msg)
        elif severity == 2:
            self.warnings.append(msg)
        log.log(_LEVELS.get(severity, logging.DEBUG), "%s", msg)

    def last_errors(self, n: int = 5) -> str:
        return "; ".join(list(self.errors)[-n:]) or "TensorRT logged no error (run with -v for its full log)"


def _make_logger(owner: TrtLog) -> trt.ILogger:
    import tensorrt as trt

    class _Bridge(trt.ILogger):
        def __init__(self) -> None:
            trt.ILogger.__init__(self)

        def log(self, severity: trt.ILogger.Severity, msg: str) -> None:
            owner.record(int(severity), msg)

    return _Bridge()
