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
    t = SequenceTracker(max_gaps=2)
    t.observe("d", "c", 1, "a")
    t.observe("d", "c", 50_001, "b")
    for i, seq in enumerate((50_003, 50_005, 50_007)):  # more gaps than are kept: the oldest is forgotten, counted
        t.observe("d", "c", seq, f"c{i}")
    stream = t.streams[("d", "c")]
    assert t.summary()["d/c"]["missing"] == 49_999 + 3
    assert sum(len(e.gaps) for e in stream.epochs.values()) <= 2
    assert t.observe("d", "c", 30_000, "late") is Verdict.DUPLICATE  # forgotten: no longer waited for


def test_one_spoofed_seq_cannot_silence_a_stream() -> None:
    t = SequenceTracker(window=1000)
    for seq in range(1, 101):
        t.observe("d", "c", seq, f"r{seq}")
    assert t.observe("d", "c", 9_000_000_000_000_000, "spoof") is Verdict.NEW  # a new epoch of its own
    verdicts = [t.observe("d", "c", seq, f"r{seq}") for seq in range(101, 201)]
    assert verdicts == [Verdict.NEW] * 100, "the real messages continue their own numbering"
    assert t.observe("d", "c", 150, "r150") is Verdict.DUPLICATE  # and duplicates are still found
    s = t.summary()["d/c"]
    assert s["missing"] == 0 and s["restarts"] == 1 and s["last_seq"] == 200


def test_streams_epochs_and_ids_stay_bounded_whatever_is_sent() -> None:
    t = SequenceTracker(max_streams=50, max_epochs=3, max_gaps=8, max_recent_ids=16)
    for cam in range(5000):  # fake cameras
        t.observe("fake", f"c{cam}", 1 + cam * 7919, f"id{cam}")
    for i in range(2000):  # one stream, numbers all over the place
        t.observe("fake", "c4999", (i * 2_654_435_761) % (1 << 62) + 1, f"x{i}")
    assert len(t.streams) == 50 and t.evicted == 4950
    s = t.streams[("fake", "c4999")]
    assert len(s.epochs) <= 3 and all(len(e.gaps) <= 8 for e in s.epochs.values()) and len(s.recent_ids) <= 16


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    rng = random.Random(1)
    for attempt, nominal in ((1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 30.0), (100, 30.0)):
        delays = [backoff_delay(attempt, 0.5, 30.0, rng) for _ in range(200)]
        assert all(nominal / 2 <= d <= nominal for d in delays)
        assert max(delays) - min(delays) > nominal / 4  # really jittered
    with pytest.raises(ValueError):
        backoff_delay(0, 1, 2)


def test_seq_one_redelivered_long_after_is_a_duplicate_not_a_restart() -> None:
    """CI, stop 29: a Mosquitto SIGKILLed and restarted restores the subscriber's session from its last
    autosave and sends seq 1 again, 340 messages later (recent_ids keeps 256). That was read as a
    publisher restart and delivered twice."""
    t = SequenceTracker(max_recent_ids=16)
    for seq in range(1, 342):
        t.observe("d", "c", seq, f"a{seq}")
    assert t.observe("d", "c", 1, "a1") is Verdict.DUPLICATE
    assert t.observe("d", "c", 2, "a2") is Verdict.DUPLICATE
    assert t.observe("d", "c", 1, "b1") is Verdict.RESTART, "a new id at seq 1 is still a restart"
    assert t.observe("d", "c", 1, "a1") is Verdict.DUPLICATE, "the old epoch's seq 1 is remembered too"
    assert t.observe("d", "c", 1, "b1") is Verdict.DUPLICATE
    s = t.summary()["d/c"]
    assert s["restarts"] == 1 and s["duplicates"] == 4 and s["unique"] == 342
