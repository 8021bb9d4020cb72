"""Exponential backoff with jitter for reconnects."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, min_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Delay before reconnect attempt number `attempt` (1, 2, ...): min_s * 2**(attempt-1), capped at
    max_s, then "equal jitter": a uniform draw in [delay/2, delay], so many devices that lost the same
    broker do not all come back in the same instant."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    delay = min(max_s, min_s * (2.0 ** min(attempt - 1, 32)))
    return delay / 2 + (rng or random).uniform(0.0, delay / 2)
