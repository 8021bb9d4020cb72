"""Sequence tracking (gaps, duplicates, late arrivals, restarts) and reconnect backoff."""

from __future__ import annotations

import random

import pytest

from edge_sdk.publish.backoff import backoff_delay
from edge_sdk.publish.tracking import SequenceTracker, Verdict


def test_gaps_duplicates_and_late_arrivals_are_counted_per_camera() -> None:
    t = SequenceTracker()
    verdicts = [t.observe("d", "cam0", seq, f"id{seq}") for seq in (5, 6, 9, 7, 6, 10)]
    assert verdicts == [Verdict.NEW, Verdict.NEW, Verdict.NEW, Verdict.LATE, Verdict.DUPLICATE, Verdict.NEW]
    assert t.observe("d", "cam1", 1, "x") is Verdict.NEW  # another stream starts its own count
    s = t.summary()["d/cam0"]
    assert s == {"received": 6, "unique": 5, "first_seq": 5, "last_seq": 10, "missing": 1, "duplicates": 1,
                 "late": 1, "restarts": 0}
    assert t.summary()["d/cam1"]["received"] == 1
    assert any("1 missing" in line for line in t.summary_lines())


def test_a_publisher_that_lost_its_spool_is_a_restart_not_duplicates() -> None:
    t = SequenceTracker()
    for seq in range(1, 50):
        t.observe("d", "c", seq, f"a{seq}")
    assert t.observe("d", "c", 1, "a1") is Verdict.DUPLICATE
    assert t.observe("d", "c", 1, "b1") is Verdict.RESTART
    assert t.observe("d", "c", 2, "b2") is Verdict.NEW
    assert t.summary()["d/c"]["restarts"] == 1 and t.summary()["d/c"]["missing"] == 0


def test_huge_gaps_are_counted_without_remembering_each_seq() -> None:
    t = SequenceTracker(max_missing=10)
    t.observe("d", "c", 1, "a")
    t.observe("d", "c", 1000, "b")
    assert t.summary()["d/c"]["missing"] == 998


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    for attempt, nominal in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 30.0), (100, 30.0)):
        delays = [backoff_delay(attempt, 0.5, 30.0, rng) for _ in range(200)]
        assert all(nominal / 2 <= d <= nominal for d in delays)
        assert max(delays) - min(delays) > nominal / 4  # really jittered
    with pytest.raises(ValueError):
        backoff_delay(0, 1, 2)
