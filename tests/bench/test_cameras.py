"""The many-camera grid's figures from the published results' times: each camera's rate and the fairness, which
must not read a window cut mid-round as unfairness, nor hide a camera starved at the window's edge."""

from __future__ import annotations

import pytest

from edge_sdk.bench.cameras import camera_rate, measure

Row = tuple[str, float, float, int]


def round_robin(cameras: int, rounds: int, round_s: float = 0.1, skip: dict[str, range] | None = None) -> list[Row]:
    """Results of `cameras` alike cameras taken in turn, one per camera per round; `skip`: rounds a camera misses."""
    rows: list[Row] = []
    step = round_s / cameras
    for r in range(rounds):
        for k in range(cameras):
            name = f"cam{k}"
            if skip and r in skip.get(name, range(0)):
                continue
            t = r * round_s + k * step
            rows.append((name, t, t - 0.05, 2))
    return rows


def test_alike_cameras_in_turn_are_fair_even_where_the_window_ends_mid_round() -> None:
    rows = round_robin(4, 11)[:-2]  # the last round cut after two of the four cameras (10 results vs 9)
    cell = measure(rows, 4)
    assert cell.fairness == pytest.approx(1.0, abs=0.005)
    assert list(cell.camera_fps.values()) == pytest.approx([10.0] * 4)  # one result per 0.1 s round each
    counts = {cam: figures["results"] for cam, figures in cell.per_camera.items()}
    assert counts == {"cam0": 10, "cam1": 10, "cam2": 9, "cam3": 9}  # what a plain count would have called unfair


def test_a_camera_that_misses_every_other_round_is_unfair() -> None:
    rows = round_robin(3, 20, skip={"cam1": range(0, 20, 2)})
    rows = [r for r in rows if not (r[0] == "cam1" and r[1] == 0.1 / 3)]  # (its first round is already skipped)
    cell = measure(rows, 3)
    assert cell.camera_fps["cam1"] == pytest.approx(5.0, rel=0.05) and cell.camera_fps["cam0"] == pytest.approx(10.0)
    assert cell.fairness == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize("edge", ["start", "end"])
def test_a_camera_silent_at_an_edge_of_the_window_is_measured_over_the_whole_window(edge: str) -> None:
    silent = range(3, 12) if edge == "start" else range(10, 20)  # rounds it gets nothing (after its first result)
    rows = round_robin(2, 20, skip={"cam1": silent})
    cell = measure(rows, 2)
    assert cell.fairness < 0.7  # its own first-to-last span would have called it as fast as cam0


def test_the_rate_of_a_camera_is_the_slope_of_its_results_over_time() -> None:
    assert camera_rate([1.0, 1.1, 1.2, 1.3], 0.95, 1.35) == pytest.approx(10.0)
    bursts = [0.0, 0.001, 0.5, 0.501, 1.0, 1.001, 1.5, 1.501, 2.0, 2.001]  # two results per batch, twice a second
    assert camera_rate(bursts, -0.2, 2.2) == pytest.approx(4.0, rel=0.02)  # not 9 / 2.001 s
    assert camera_rate(bursts[:6], -0.2, 4.0) == pytest.approx(5 / 4.2)  # silent for 3 s at the end: whole window
    assert camera_rate([1.0, 1.1], 0.0, 2.0) == pytest.approx(1.0)  # too few to fit: counted over the window
    assert camera_rate([], 0.0, 2.0) == 0.0


def test_every_camera_must_have_published_for_a_window() -> None:
    cell = measure(round_robin(2, 5), 3)
    assert cell.frames == 0 and cell.fairness == 0.0
