"""The race: shapes, statuses, exact recomputation (chunks, checkpoints, state_at, extend),
seeded gradient noise, schedules, clipping, the step inspector and bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.optim import optimizers as O
from engine.race import kernels as K
from engine.surfaces import catalog as S
from engine.race.race import (FINISH_TOL, GROUP_MAX, Clip, Race, Racer, Schedule, run_race)
from engine.race.status import Status

ALL = O.names()


def _mixed_racers():
    """Every optimizer once, plus a scheduled + clipped pair and a run of identical racers
    (which the kernel steps as one group)."""
    racers = [Racer(o, {"lr": 0.01} if o in ("sgd", "momentum", "nesterov", "qhm") else {}) for o in ALL]
    racers += [
        Racer("momentum", {"lr": 0.01}, Schedule("cosine", every=40, floor=0.1, warmup=5), Clip("norm", 2.0)),
        Racer("adam", {"lr": 0.05}, Schedule("step", gamma=0.5, every=15), Clip("value", 0.5)),
    ]
    racers += [Racer("adam", {"lr": 0.02})] * 3
    return racers


def _same_snapshot(a, b):
    assert a.t == b.t
    for name in ("X", "G", "F", "state", "status", "status_step"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name


# -- shapes --------------------------------------------------------------------------------
def test_run_race_shapes_and_first_column_is_the_start():
    res = run_race("rosenbrock", (-1.2, 1.0), ["sgd", ("adam", {"lr": 0.01}), "newton"], 25)
    assert res.positions.shape == (3, 26, 2)
    assert res.losses.shape == (3, 26) and res.grad_norms.shape == (3, 26)
    assert res.positions.dtype == np.float64
    assert np.array_equal(res.positions[:, 0], np.tile([-1.2, 1.0], (3, 1)))
    surf = S.bind("rosenbrock")
    assert np.all(res.losses[:, 0] == surf.value(-1.2, 1.0))
    assert np.all(res.grad_norms[:, 0] == np.hypot(*surf.gradient(-1.2, 1.0)))
    # Loss and gradient norm are those of the recorded point at every step.
    for r in range(3):
        for k in (1, 10, 25):
            x = res.positions[r, k]
            assert res.losses[r, k] == surf.value(*x)
            assert res.grad_norms[r, k] == pytest.approx(np.hypot(*surf.gradient(*x)), rel=1e-15)
    assert res.names == ["SGD", "Adam", "Newton"]


# -- statuses ------------------------------------------------------------------------------
def test_finished_on_booth_within_the_stated_tolerance():
    res = run_race("booth", (-8.0, -6.0), ["newton", ("adam", {"lr": 0.5}), ("momentum", {"lr": 0.01})], 3000)
    tol = FINISH_TOL * 20.0  # Booth's domain is 20 wide
    for r, st in enumerate(res.status):
        assert st.kind == Status.FINISHED, st
        k = st.step
        assert np.hypot(*(res.positions[r, k] - (1.0, 3.0))) <= tol
        assert np.hypot(*(res.positions[r, k - 1] - (1.0, 3.0))) > tol
        assert np.all(res.positions[r, k:] == res.positions[r, k])  # a finished racer stays put
    assert res.status[0].step == 1  # Newton solves a quadratic in one step
    assert res.status[0] == (Status.FINISHED, 1)


def test_sgd_converges_elsewhere_in_a_six_hump_camel_local_minimum():
    res = run_race("six_hump_camel", (1.8, -0.7), [("sgd", {"lr": 0.02})], 5000)
    st = res.status[0]
    assert st.kind == Status.CONVERGED
    x = res.positions[0, st.step]
    surf = S.bind("six_hump_camel")
    assert np.hypot(*surf.gradient(*x)) <= 1e-8
    assert surf.value(*x) > surf.f_min + 0.5  # a local, not the global, minimum
    assert np.min(np.hypot(*(surf.minima - x).T)) > 1.0


def test_a_start_on_the_saddle_point_converges_elsewhere_at_once():
    res = run_race("saddle", (0.0, 0.0), ["sgd", "adam"], 10)
    assert [s.kind for s in res.status] == [Status.CONVERGED] * 2
    assert [s.step for s in res.status] == [1, 1]
    assert np.all(res.positions == 0.0)


def test_escaping_a_saddle_is_reported():
    res = run_race("saddle", (1.8, 1e-3), [("sgd", {"lr": 0.1})], 500)
    st = res.status[0]
    assert st.kind == Status.ESCAPED
    (x0, x1), (y0, y1) = S.get("saddle").domain
    margin = 5.0 * 4.0
    assert abs(res.positions[0, st.step, 1]) > y1 + margin
    assert abs(res.positions[0, st.step - 1, 1]) <= y1 + margin


def test_huge_lr_diverges_stops_at_the_last_finite_point_and_never_raises():
    res = run_race("rosenbrock", (-1.2, 1.0), [("sgd", {"lr": 10.0}), ("adam", {"lr": 1e-3})], 200)
    st = res.status[0]
    assert st.kind == Status.DIVERGED and st.step >= 1
    assert np.all(np.isfinite(res.positions)) and np.all(np.isfinite(res.losses))
    frozen = res.positions[0, st.step - 1]
    assert np.all(res.positions[0, st.step:] == frozen)
    assert res.status[1].kind == Status.RACING  # the other racer is unaffected


def test_huge_lr_on_every_optimizer_never_raises():
    racers = [(o, {"lr": O.spec(o).hyper[0].hi}) for o in ALL]
    res = run_race("rosenbrock", (-1.2, 1.0), racers, 300)
    assert np.all(np.isfinite(res.positions))
    assert {s.kind for s in res.status} <= {Status.RACING, Status.DIVERGED, Status.FINISHED, Status.CONVERGED}


# -- exact recomputation -------------------------------------------------------------------
def test_chunks_equal_one_long_run_bit_for_bit():
    racers = _mixed_racers()
    one = Race("himmelblau", (-0.5, -0.5), racers, noise=0.7, seed=11).advance(300)
    race = Race("himmelblau", (-0.5, -0.5), racers, noise=0.7, seed=11)
    parts = [race.advance(k) for k in (1, 0, 36, 63, 200)]
    assert [p.first for p in parts] == [0, 1, 1, 37, 100]
    for name in ("positions", "losses", "grad_norms"):
        joined = np.concatenate([getattr(p, name) for p in parts], axis=1)
        assert np.array_equal(joined, getattr(one, name))
    assert np.array_equal(parts[-1].status, one.status)
    assert np.array_equal(parts[-1].status_step, one.status_step)


def test_advance_into_given_arrays_equals_fresh_ones():
    racers = _mixed_racers()
    fresh = Race("rosenbrock", (-1.2, 1.0), racers, noise=0.2, seed=1)
    reuse = Race("rosenbrock", (-1.2, 1.0), racers, noise=0.2, seed=1)
    R = len(racers)
    out = (np.full((R, 50, 2), np.nan), np.full((R, 50), np.nan), np.full((R, 50), np.nan))
    for _ in range(3):
        a = fresh.advance(50)
        b = reuse.advance(50, out=out)
        assert b.positions is out[0]
        for name in ("positions", "losses", "grad_norms"):
            assert np.array_equal(getattr(a, name), getattr(b, name))
    with pytest.raises(ValueError, match="out must be C-contiguous float64"):
        reuse.advance(40, out=out)


@pytest.mark.parametrize("surface, start", [
    ("himmelblau", (-0.5, -0.5)),  # four minima: racers finish and stop
    ("booth", (0.0, 0.0)),  # finishes, and the huge step diverges
    ("saddle", (0.3, 1e-3)),  # unbounded below: racers escape
])
def test_positions_only_recording_and_derived_values_are_the_recorded_bits(surface, start):
    racers = _mixed_racers() + [Racer("sgd", {"lr": 10.0})]  # and one that may diverge
    full = Race(surface, start, racers, noise=0.1, seed=5)
    lean = Race(surface, start, racers, noise=0.1, seed=5)
    for k in (1, 120, 300):
        a = full.advance(k)
        b = lean.advance(k, values=False)
        assert b.losses is None and b.grad_norms is None
        assert np.array_equal(a.positions, b.positions)
        for name in ("status", "status_step"):
            assert np.array_equal(getattr(a, name), getattr(b, name))
        loss, gn = lean.values(b.positions)
        assert np.array_equal(loss, a.losses) and np.array_equal(gn, a.grad_norms)
    kinds = {s.kind for s in full.status()}
    assert Status.RACING in kinds and len(kinds) >= 2  # stopped racers are recorded where they stopped
    with pytest.raises(ValueError, match=r"positions must be \(R, k, 2\)"):
        lean.values(np.zeros((3, 4)))


def test_identical_racers_grouped_or_alone_give_the_same_bits():
    racers = [Racer("adam", {"lr": 0.05})] * 5
    race = Race("rastrigin", (3.3, 2.4), racers, noise=0.2, seed=3)
    assert race.groups == 1
    grouped = race.advance(150).positions
    alone = Race("rastrigin", (3.3, 2.4), racers[:1], noise=0.2, seed=3)
    assert alone.groups == 1
    assert np.array_equal(grouped, np.repeat(alone.advance(150).positions, 5, axis=0))
    many = Race("booth", (0, 0), ["sgd"] * (2 * GROUP_MAX + 1))
    assert many.groups == 3


def test_parallel_kernel_gives_the_same_bits(monkeypatch):
    import engine.race.race as race_module

    racers = [Racer(o) for o in ALL] * 4 + [Racer("adam", {"lr": 0.05})] * 70
    serial = Race("six_hump_camel", (-2.0, 1.5), racers, noise=0.3, seed=2).advance(40)
    monkeypatch.setattr(race_module, "PARALLEL_RACERS", 2)
    monkeypatch.setattr(race_module, "PARALLEL_WORK", 1)
    par = Race("six_hump_camel", (-2.0, 1.5), racers, noise=0.3, seed=2)
    assert par.groups > 2
    # The race times both kernels (two calls each) and then keeps the faster: same bits.
    chunks = [par.advance(8) for _ in range(5)]
    assert all(rate is not None for rate in par._rate.values())
    for name in ("positions", "losses", "grad_norms"):
        assert np.array_equal(np.concatenate([getattr(c, name) for c in chunks], axis=1), getattr(serial, name))
    for name in ("status", "status_step"):
        assert np.array_equal(getattr(chunks[-1], name), getattr(serial, name))


def test_state_at_reproduces_positions_and_optimizer_state_exactly():
    racers = _mixed_racers()
    race = Race("beale", (1.0, 1.5), racers, noise=0.5, seed=5, checkpoint_every=64)
    chunk = race.advance(400)
    for k in (0, 1, 63, 64, 65, 200, 399, 400):
        snap = race.state_at(k)
        assert snap.t == k
        if k:
            assert np.array_equal(snap.X, chunk.positions[:, k - 1])
            assert np.array_equal(snap.F, chunk.losses[:, k - 1])
        # The same as a race stopped at exactly k steps.
        direct = Race("beale", (1.0, 1.5), racers, noise=0.5, seed=5)
        direct.advance(k)
        _same_snapshot(snap, direct.checkpoint())
    assert race.t == 400  # state_at does not move the race
    with pytest.raises(ValueError, match="outside the computed range"):
        race.state_at(401)


def test_state_layout_is_each_racers_own():
    # The per-racer state equals what O.update produces when stepping that racer alone.
    racers = ([Racer("adam", {"lr": 0.05})] * 3 + [Racer("nadam")] * 2 + [Racer("rmsprop", {"centered": True})]
              + [Racer("newton", {"lr": 0.3})] * 2)
    race = Race("himmelblau", (-0.5, -0.5), racers)
    assert race.groups == 4
    race.advance(5)
    snap = race.state_at(5)
    surf = S.bind("himmelblau")
    for r, racer in enumerate(racers):
        spec = racer.spec
        x = np.array([-0.5, -0.5])
        state = spec.init(2, racer.hyper)
        for t in range(1, 6):
            hess = surf.hessian(*x) if spec.needs_hessian else None
            x = O.update(spec.id, x, surf.gradient(*x), state, t, racer.hyper, hess)
        assert np.array_equal(snap.X[r], x)
        assert np.array_equal(snap.state[r, : state.shape[0]], state)


def test_extend_equals_a_longer_run():
    racers = _mixed_racers()
    long = run_race("ackley", (3.5, 4.0), racers, 240, noise=0.3, seed=2)
    short = run_race("ackley", (3.5, 4.0), racers, 90, noise=0.3, seed=2).extend(100).extend(50)
    for name in ("positions", "losses", "grad_norms"):
        assert np.array_equal(getattr(short, name), getattr(long, name))
    assert short.status == long.status


def test_checkpoint_memory_stays_bounded_and_state_at_stays_exact():
    racers = [Racer("adam", {"lr": 1e-3}), Racer("momentum", {"lr": 1e-4})]
    race = Race("rosenbrock", (-1.2, 1.0), racers, noise=0.05, seed=9, checkpoint_every=3, max_checkpoints=8)
    total = 0
    for k in (7, 50, 1, 400, 1542):
        race.advance(k)
        total += k
        assert len(race.checkpoints) <= 8
        assert race.checkpoints[0] == 0
        assert all(c % race.checkpoint_every == 0 for c in race.checkpoints)
    assert race.checkpoint_every > 3  # thinned: the spacing doubled
    reference = Race("rosenbrock", (-1.2, 1.0), racers, noise=0.05, seed=9)
    positions = reference.advance(total).positions
    for k in (1, 5, 999, 1000, 1234, total - 1):
        assert np.array_equal(race.state_at(k).X, positions[:, k - 1])


# -- noise ---------------------------------------------------------------------------------
def test_noise_same_seed_same_bits_different_seed_differs():
    racers = ["sgd", "adam", ("momentum", {"lr": 0.01})]
    a = run_race("quadratic", (-2.5, 1.5), racers, 100, noise=1.0, seed=4)
    b = run_race("quadratic", (-2.5, 1.5), racers, 100, noise=1.0, seed=4)
    c = run_race("quadratic", (-2.5, 1.5), racers, 100, noise=1.0, seed=5)
    clean = run_race("quadratic", (-2.5, 1.5), racers, 100)
    assert np.array_equal(a.positions, b.positions)
    assert not np.array_equal(a.positions, c.positions)
    assert not np.array_equal(a.positions, clean.positions)


def test_noise_is_the_same_sequence_for_every_racer():
    race = Race("rosenbrock", (-1.2, 1.0), [("adam", {"lr": 0.01}), "sgd", ("adam", {"lr": 0.01})],
                noise=2.0, seed=8)
    chunk = race.advance(60)
    assert np.array_equal(chunk.positions[0], chunk.positions[2])  # identical racers stay identical
    for k in (0, 17, 59):
        e0, e1 = race.explain_step(0, k), race.explain_step(1, k)
        noise0 = e0.gradient_seen - race.state_at(k).G[0]
        noise1 = e1.gradient_seen - race.state_at(k).G[1]
        assert np.allclose(noise0, noise1, rtol=0, atol=1e-12)
        assert np.allclose(noise0, 2.0 * np.array([K.gauss(race.seed, k + 1, 0), K.gauss(race.seed, k + 1, 1)]),
                           rtol=0, atol=1e-12)


def test_gauss_is_standard_normal():
    z = np.array([K.gauss(123, t, i) for t in range(1, 4001) for i in (0, 1)])
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05
    assert K.gauss(123, 7, 0) == K.gauss(123, 7, 0) != K.gauss(124, 7, 0)


# -- schedules and clipping ------------------------------------------------------------------
def _factor(kind, gamma, every, floor, warmup, t):
    # The documented formulas, written out independently.
    f = 1.0
    if kind == "step":
        f = gamma ** ((t - 1) // every)
    elif kind == "exponential":
        f = gamma ** (t - 1)
    elif kind == "cosine":
        f = floor + (1 - floor) * (1 + math.cos(math.pi * min(t - 1, every) / every)) / 2
    if warmup and t <= warmup:
        f *= t / warmup
    return f


@pytest.mark.parametrize("kind,gamma,every,floor,warmup", [
    ("constant", 0.5, 100, 0.0, 0), ("constant", 0.5, 100, 0.0, 10), ("step", 0.3, 7, 0.0, 0),
    ("exponential", 0.99, 100, 0.0, 0), ("cosine", 0.5, 50, 0.05, 0), ("cosine", 0.5, 50, 0.0, 8),
    ("step", 0.5, 10, 0.0, 4),
])
def test_schedule_factor_matches_the_documented_formula(kind, gamma, every, floor, warmup):
    sched = Schedule(kind, gamma=gamma, every=every, floor=floor, warmup=warmup)
    arr = sched.array()
    for t in (1, 2, 3, 4, 5, 7, 8, 9, 15, 49, 50, 51, 52, 120):
        assert K.lr_factor(arr, t) == pytest.approx(_factor(kind, gamma, every, floor, warmup, t), rel=1e-13)
    race = Race("booth", (-8.0, -6.0), [Racer("sgd", {"lr": 0.01}, sched)])
    race.advance(60)
    for k in (0, 3, 9, 40, 59):
        e = race.explain_step(0, k)
        assert e.lr == pytest.approx(0.01 * _factor(kind, gamma, every, floor, warmup, k + 1), rel=1e-13)
        assert np.allclose(e.step, -e.lr * e.gradient, rtol=1e-12, atol=0)


def test_clipping_by_norm_and_by_value_bounds_the_gradient_used():
    racers = [Racer("sgd", {"lr": 1e-3}, clip=Clip("norm", 1.5)), Racer("sgd", {"lr": 1e-3}, clip=Clip("value", 0.25)),
              Racer("sgd", {"lr": 1e-3})]
    race = Race("rosenbrock", (-1.2, 1.0), racers, noise=0.5, seed=1)
    race.advance(40)
    for k in (0, 10, 39):
        by_norm, by_value, free = (race.explain_step(r, k) for r in range(3))
        g = by_norm.gradient_seen
        assert np.hypot(*g) > 1.5  # Rosenbrock's gradient needs clipping here
        # torch's form: scaled by 1.5 / (norm + 1e-6), so the clipped norm is within 1e-6 of 1.5.
        n = np.hypot(*g)
        assert np.hypot(*by_norm.gradient) == pytest.approx(1.5 * n / (n + 1e-6), rel=1e-14)
        assert 1.5 - 1e-6 < np.hypot(*by_norm.gradient) < 1.5
        assert np.allclose(by_norm.gradient / np.hypot(*by_norm.gradient), g / np.hypot(*g))
        assert np.all(np.abs(by_value.gradient) <= 0.25)
        assert np.array_equal(free.gradient, free.gradient_seen)
        assert np.hypot(*by_norm.step) <= 1e-3 * 1.5 * (1 + 1e-12)


# -- the step inspector ----------------------------------------------------------------------
def test_explain_step_is_the_step_the_race_took():
    racers = _mixed_racers()
    race = Race("goldstein_price", (-1.0, 1.2), racers, noise=0.4, seed=6)
    chunk = race.advance(80)
    for k in (0, 1, 30, 79):
        before = race.state_at(k)
        after = race.state_at(k + 1)
        for r, racer in enumerate(racers):
            if before.status[r] != Status.RACING:
                continue
            e = race.explain_step(r, k)
            assert e.t == k + 1 and e.optimizer == racer.optimizer and e.racer == racer.name
            assert np.array_equal(e.x, before.X[r])
            if after.status[r] != Status.DIVERGED:
                assert np.array_equal(e.x_new, chunk.positions[r, k])
                assert np.array_equal(e.step, e.x_new - e.x)
            slots = racer.spec.slots
            for i, name in enumerate(slots):
                assert np.array_equal(e.state_after[name], after.state[r, i])
                assert np.array_equal(e.state_before[name], before.state[r, i])


# -- bad input -------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,exc,match", [
    (dict(racers=["adamm"]), KeyError, "unknown optimizer 'adamm'"),
    (dict(racers=[]), ValueError, "at least one racer"),
    (dict(start=(1.0,)), ValueError, "start must be a finite point"),
    (dict(start=(float("nan"), 0.0)), ValueError, "start must be a finite point"),
    (dict(noise=-0.1), ValueError, "noise must be a finite number >= 0"),
    (dict(racers=[Racer("sgd", schedule=Schedule("linear"))]), ValueError, "unknown schedule 'linear'"),
    (dict(racers=[Racer("sgd", clip=Clip("max"))]), ValueError, "unknown clipping 'max'"),
    (dict(racers=[Racer("sgd", clip=Clip("norm", 0.0))]), ValueError,
     r"racer 0 \(SGD\): clipping norm: threshold=0.0 is outside its valid range"),
    (dict(racers=["adam", Racer("sgd", schedule=Schedule("step", every=0.0))]), ValueError,
     r"racer 1 \(SGD\): schedule step: every=0.0 is outside its valid range"),
    (dict(racers=[Racer("sgd", schedule=Schedule("cosine", warmup=-3))]), ValueError,
     "warmup=-3.0 is outside its valid range"),
    (dict(racers=[("adam", {"lr": -1.0})]), ValueError, "lr=-1.0 is outside its valid range"),
    (dict(racers=[("adam", {"betas": 0.9})]), ValueError, "betas must be a pair"),
    (dict(surface="nope"), KeyError, "unknown surface 'nope'"),
])
def test_bad_input_raises_a_clear_error(kwargs, exc, match):
    args = dict(surface="booth", start=(0.0, 0.0), racers=["sgd"])
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        Race(args["surface"], args["start"], args["racers"], **{k: v for k, v in args.items()
                                                                 if k not in ("surface", "start", "racers")})


def test_negative_steps_are_refused():
    race = Race("booth", (0.0, 0.0), ["sgd"])
    with pytest.raises(ValueError, match="k must be >= 0"):
        race.advance(-1)


def test_run_race_is_the_race_advanced_with_its_start_in_column_zero():
    racers = ["adam", ("sgd", {"lr": 5.0}), "momentum"]  # racing, diverged, finished
    r = run_race("beale", (1.0, 1.5), racers, 1500, noise=0.3, seed=4)
    race = Race("beale", (1.0, 1.5), racers, noise=0.3, seed=4)
    s0 = race.state_at(0)
    c = race.advance(1500)
    assert np.array_equal(r.positions[:, 0], s0.X) and np.array_equal(r.losses[:, 0], s0.F)
    assert np.array_equal(r.grad_norms[:, 0], np.hypot(s0.G[:, 0], s0.G[:, 1]))
    for got, want in ((r.positions, c.positions), (r.losses, c.losses), (r.grad_norms, c.grad_norms)):
        assert np.array_equal(got[:, 1:], want, equal_nan=True)
    assert [s.kind for s in r.status] == [Status.RACING, Status.DIVERGED, Status.FINISHED]
    assert run_race("booth", (0.0, 0.0), ["sgd"], 0).positions.shape == (1, 1, 2)
