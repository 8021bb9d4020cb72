"""Progress: a tqdm bar on a terminal; plain log lines (every ~10 %) when stderr is not a TTY (journald, CI)."""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType
from typing import Any


class Progress:
    """`with Progress(total, "calibrating") as p: p.update()`. Also usable without a total (None)."""

    def __init__(self, total: int | None, desc: str, *, unit: str = "frame", initial: int = 0,
                 logger: logging.Logger | None = None, enabled: bool = True) -> None:
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self._log = logger or logging.getLogger("edge_sdk.progress")
        self._enabled = enabled
        self._bar: Any = None
        self._next_log = 0.0
        self._t0 = time.monotonic()
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True, leave=False)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def update(self, n: int = 1, **postfix: object) -> None:
        self.n += n
        if self._bar is not None:
            if postfix:
                self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(n)
            return
        if not self._enabled:
            return
        share = self.n / self.total if self.total else 0.0
        if self.total is None or share >= self._next_log or self.n == self.total:
            extra = "".join(f", {k} {v}" for k, v in postfix.items())
            of = f"/{self.total}" if self.total is not None else ""
            self._log.info("%s: %d%s %ss (%.0f s)%s", self.desc, self.n, of, self.unit, time.monotonic() - self._t0, extra)
            self._next_log = share + 0.1

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
