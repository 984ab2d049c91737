"""The recorder of named series (Qt-free): bounded memory, exact entries, even thinning."""
import numpy as np
import pytest

from app.shell.recorder import Recorder
from engine.race.race import Race


def History(R, x0, f0, g0, capacity):
    return Recorder({"pos": np.zeros((R, 2)) + x0, "loss": f0, "grad": g0}, capacity)


def _chunk(first, k, R=2):
    steps = np.arange(first + 1, first + k + 1, dtype=float)
    pos = np.stack([np.column_stack([steps + r, -steps]) for r in range(R)])
    return {"pos": pos, "loss": np.tile(steps, (R, 1)) * 2, "grad": np.tile(steps, (R, 1)) * 3}


def test_history_keeps_every_step_until_full():
    h = History(2, np.zeros(2), np.zeros(2), np.zeros(2), capacity=64)
    h.append(0, _chunk(0, 40))
    assert h.stride == 1 and h.n == 41
    assert np.array_equal(h.steps[:41], np.arange(41))
    assert h["pos"][1, 10, 0] == 11 and h["loss"][0, 40] == 80


def test_history_thins_by_powers_of_two_and_stays_bounded():
    h = History(2, np.zeros(2), np.zeros(2), np.zeros(2), capacity=64)
    nbytes = h.nbytes()
    first = 0
    for k in (50, 7, 300, 1, 999, 5000):
        h.append(first, _chunk(first, k))
        first += k
    assert h.nbytes() == nbytes  # preallocated, never grows
    assert h.n <= 64 and h.stride & (h.stride - 1) == 0 and h.stride > 1
    kept = h.steps[: h.n]
    assert np.all(kept % h.stride == 0) and kept[0] == 0
    assert np.all(np.diff(kept) == h.stride)
    # Every kept entry holds the values of its own step.
    assert np.array_equal(h["loss"][0, : h.n], kept * 2.0)
    assert np.array_equal(h["pos"][1, 1: h.n, 0], kept[1:] + 1.0)


def test_history_rejects_a_gap():
    h = History(1, np.zeros(2), np.zeros(1), np.zeros(1), capacity=8)
    with pytest.raises(ValueError, match="expected 0"):
        h.append(5, _chunk(5, 3, R=1))


def test_history_series_from_a_race_matches_the_engine():
    race = Race("rosenbrock", (-1.2, 1.0), ["sgd", "adam"])
    s0 = race.state_at(0)
    h = History(2, s0.X, s0.F, np.hypot(*s0.G.T), capacity=32)
    c = race.advance(500)
    h.append(c.first, {"pos": c.positions, "loss": c.losses, "grad": c.grad_norms})
    steps, loss, grad = h.sample(400, ("loss", "grad"), max_points=10)
    assert len(steps) <= 11 and steps[-1] <= 400
    for j, k in enumerate(steps):
        if k:
            assert np.allclose(loss[:, j], c.losses[:, k - 1])
            assert np.allclose(grad[:, j], c.grad_norms[:, k - 1])


def test_recorder_holds_series_of_any_shape_and_refuses_a_missing_one():
    # The network lab records per-layer norms: (contenders, steps, layers).
    rec = Recorder({"norms": np.ones((3, 5)), "loss": np.zeros(3)}, capacity=8)
    rec.append(0, {"norms": np.full((3, 20, 5), 2.0), "loss": np.ones((3, 20))})
    assert rec.stride == 4 and rec["norms"].shape == (3, 9, 5) and rec.rows == 3
    assert np.all(rec["norms"][:, 1:rec.n] == 2.0) and np.all(rec["norms"][:, 0] == 1.0)
    with pytest.raises(ValueError, match="expected series"):
        rec.append(20, {"loss": np.ones((3, 1))})
    with pytest.raises(ValueError, match="same number of rows"):
        Recorder({"a": np.zeros(2), "b": np.zeros(3)})
