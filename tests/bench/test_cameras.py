"""The many-camera grid's figures from the published results' times: the steady window (once every camera has
published a few results), each camera's rate and the fairness by counts, which a camera starved anywhere in the
window loses, and a start-up where the cameras came up one after another does not."""

from __future__ import annotations

import pytest

from edge_sdk.bench.cameras import SETTLE, measure

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


def test_alike_cameras_in_turn_are_fair_and_the_window_starts_once_each_has_settled() -> None:
    cell = measure(round_robin(4, 23)[:-2], 4)  # the last round cut after two of the four cameras
    counts = {cam: figures["results"] for cam, figures in cell.per_camera.items()}
    assert counts == {"cam0": 20, "cam1": 20, "cam2": 19, "cam3": 19}  # after each one's first SETTLE results
    assert cell.fairness == pytest.approx(19 / 20) and cell.frames == 78
    assert list(cell.camera_fps.values()) == pytest.approx([20 / cell.window_s] * 2 + [19 / cell.window_s] * 2, abs=0.01)
    assert cell.detections_per_s == pytest.approx(2 * cell.fps, rel=0.01)
    assert cell.latency_ms_p50 == pytest.approx(50.0)


@pytest.mark.parametrize("silent", [range(4, 12), range(12, 20), range(8, 16)])  # start, end, middle of the window
def test_a_camera_starved_anywhere_in_the_window_is_unfair(silent: range) -> None:
    cell = measure(round_robin(2, 20, skip={"cam1": silent}), 2)
    assert cell.per_camera["cam1"]["results"] < cell.per_camera["cam0"]["results"] - 6 and cell.fairness < 0.6


def test_cameras_that_came_up_one_after_another_are_judged_after_they_settled() -> None:
    """cam1 comes up three rounds late and the reader serves it first until it has caught up (one extra frame a
    round, as the least-served rule does); the window starts after that."""
    rows = [r for r in round_robin(2, 26) if not (r[0] == "cam1" and r[1] < 0.3)]
    rows += [("cam1", 0.3 + 0.1 * r + 0.02, 0.3, 2) for r in range(2)]  # its catch-up frames
    rows.sort(key=lambda r: r[1])
    cell = measure(rows, 2)
    counts = {cam: figures["results"] for cam, figures in cell.per_camera.items()}
    assert SETTLE == 3 and counts == {"cam0": 21, "cam1": 22}  # from its first result it would be 23 against 25


def test_what_was_in_flight_when_every_camera_had_its_results_is_not_counted() -> None:
    rows = round_robin(2, 20)
    done_at = rows[-1][1]
    rows += [("cam1", done_at + 0.001 * k, done_at - 0.1, 2) for k in range(1, 5)]  # a last batch all of cam1
    assert measure(rows, 2).fairness < 0.9
    cell = measure(rows, 2, end=done_at)
    assert cell.fairness == 1.0 and cell.window_s == pytest.approx(done_at - 0.2 - 0.05, abs=0.001)


def test_every_camera_must_have_published_for_a_window() -> None:
    cell = measure(round_robin(2, 5), 3)
    assert cell.frames == 0 and cell.fairness == 0.0


def test_the_window_holds_whole_batches() -> None:
    """One camera batched by 4: a batch's four results are published within a millisecond, every 0.4 s. The 3rd
    result is inside the first batch: the window starts after that batch, not with its last result counted free."""
    rows: list[Row] = []
    batch_of: list[int] = []
    for b in range(10):
        for k in range(4):
            t = 0.4 * b + 0.0002 * k
            rows.append(("cam0", t, t - 0.5, 1))
            batch_of.append(b)
    whole = measure(rows, 1, batch_of=batch_of)
    assert whole.frames == 36 and whole.fps == pytest.approx(36 / 3.6, rel=0.001)  # 9 batches in 9 intervals
    cut = measure(rows, 1)
    assert cut.frames == 37 and cut.fps > whole.fps  # the first batch's last result counted without its time
