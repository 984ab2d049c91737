"""Schedules, clipping and gradient noise, one vocabulary for both races: the spec tables, the
racer type and its packing, torch's schedulers and clipping functions (committed reference
data from tests/reference/make_schedule_refs.py, and torch itself when it is importable),
networks trained with them against torch and a numpy reference, and the lecture's remedy for
exploding gradients."""
from __future__ import annotations

import dataclasses
import math

import numba
import numpy as np
import pytest

from engine.race.status import Status
from engine import data, nn
from engine.race import kernels as RK
from engine.race import step_kernels as SK
from engine.race.gradients import CLIPS, NOISE, Clip
from engine.nn import Dense, Dropout, ops
from engine.nn import train_kernels as TK
from engine.nn.train import NOISE_STREAM, NetRace, train
from engine.race.race import Race, Racer, run_race
from engine.race.racer import as_racer, pack_racers
from engine.race.schedules import SCHEDULES, WARMUP, Schedule
from tests.reference import make_schedule_refs as R

REFS = dict(np.load(R.OUT))
TOL = 1e-12  # relative to max(1, |reference|)


def assert_close(ours, ref, what, tol=TOL):
    ours, ref = np.asarray(ours, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    err = np.abs(ours - ref) / np.maximum(1.0, np.abs(ref))
    assert ours.shape == ref.shape and np.all(err <= tol), f"{what}: worst relative error {np.max(err):.3g} > {tol}"


# -- the spec tables ---------------------------------------------------------------------------
def test_every_schedule_parameter_is_a_field_with_the_specs_default():
    fields = {f.name for f in dataclasses.fields(Schedule)}
    codes = [s.code for s in SCHEDULES]
    assert len(set(codes)) == len(codes)
    for spec in SCHEDULES:
        assert spec.caption and spec.formula and spec.torch
        for h in spec.params + WARMUP.params:
            assert h.name in fields and h.help
        # A Schedule that leaves its values out gets the spec's defaults; they start at lr and
        # never exceed it.
        row = Schedule(spec.id).array()
        assert row[SK.SCHED_KIND] == spec.code and row[SK.SCHED_WARMUP] == WARMUP.params[0].default
        np.testing.assert_array_equal(row[SK.SCHED_P0:SK.SCHED_P0 + len(spec.params)], [h.default for h in spec.params])
        f = [SK.lr_factor(row, t) for t in (1, 2, 50, 1000)]
        assert all(0.0 <= v <= 1.0 for v in f) and f[0] == 1.0
    assert "cosine" in SCHEDULES.ids() and "rises" in SCHEDULES.get("cosine").notes


def test_clip_modes_and_noise_specs():
    codes = [s.code for s in CLIPS]
    assert len(set(codes)) == len(codes) and CLIPS.get("none").code == SK.NO_CLIP
    for spec in CLIPS:
        assert [h.name for h in spec.params] in ([], ["threshold"])
        assert Clip(spec.id).array()[0] == spec.code
    assert "1e-6" in CLIPS.get("norm").notes and "clip_grad_norm_" in CLIPS.get("norm").torch
    assert [h.name for h in NOISE.params] == ["noise"] and NOISE.params[0].default == 0.0


def test_a_racer_from_every_form_today_accepted():
    sched, clip = Schedule("step", gamma=0.3, every=5), Clip("norm", 2.0)
    assert as_racer("adam") == Racer("adam")
    assert as_racer(("adam", {"lr": 0.1})) == Racer("adam", {"lr": 0.1})
    assert as_racer(("adam", {"lr": 0.1}, "twin")) == Racer("adam", {"lr": 0.1}, label="twin")
    assert as_racer(("sgd", {}, sched, clip, "x")) == Racer("sgd", {}, sched, clip, "x")
    assert as_racer(("sgd", {}, clip, sched)) == Racer("sgd", {}, sched, clip)
    r = Racer("sgd", {}, sched)
    assert as_racer(r) is r
    for bad in [("sgd", {}, 3.0), ("sgd", {}, "a", "b"), (), 7]:
        with pytest.raises(ValueError, match="racer"):
            as_racer(bad)


def test_both_races_pack_racers_the_same_way():
    racers = [Racer("adam", {"lr": 0.01}, Schedule("cosine", every=40, floor=0.1, warmup=5), Clip("value", 0.5)),
              ("momentum", {"lr": 0.02}, Clip("norm", 1.5)), "rmsprop"]
    race = Race("booth", (1.0, 1.0), racers)
    split = data.load("moons", n=60, seed=0)
    net_race = NetRace(nn.mlp([2, 4, 2]), split, racers, batch_size=8)
    packed = pack_racers([as_racer(r) for r in racers], 2)
    for name in ("family", "hyper", "sched", "clip"):
        np.testing.assert_array_equal(getattr(race, name), getattr(packed, name))
        np.testing.assert_array_equal(getattr(net_race, name), getattr(packed, name))
    np.testing.assert_array_equal(packed.sched[0], [SK.COSINE, 5.0, 40.0, 0.1])
    np.testing.assert_array_equal(packed.clip[1], [SK.CLIP_NORM, 1.5])
    assert net_race.state.shape[2] == net_race.net.n_params
    with pytest.raises(ValueError, match=r"racer 2 \(Newton\): Newton needs the exact Hessian"):
        NetRace(nn.mlp([2, 4, 2]), split, ["adam", "sgd", "newton"], batch_size=8)


def test_network_and_race_masks_are_read_by_one_function():
    split = data.load("moons", n=80, seed=0)
    net = nn.build(2, [Dense(6, dropconnect=0.3), "relu", Dropout(0.4), Dense(2)], seed=1)
    race = NetRace(net, split, ["sgd"], batch_size=16, seed=3)
    rows = NetRace(net, split, ["sgd"], batch_size=16, seed=3)._batches(3)[2]
    race.advance(3)
    probe = net.copy()
    probe.params[:] = race.params[0]  # the masks depend only on (seed, step), not on weights
    probe.loss_and_grad(split.X_train[rows], split.y_train[rows], train=True, step=3, seed=3)
    ours, theirs = race.masks(0), probe.masks(16)
    assert list(ours) == ["op2.dropout", "dense1.dropconnect"] and list(theirs) == list(ours)
    for k in ours:
        np.testing.assert_array_equal(ours[k], theirs[k])
        assert 0 < ours[k].mean() < 1


# -- schedules against torch.optim.lr_scheduler ---------------------------------------------------
def engine_factors(name):
    kw, steps = R.SCHEDULE_CASES[name]
    row = Schedule(**kw).array()
    return np.array([SK.lr_factor(row, t) for t in range(1, steps + 1)])


def test_reference_file_covers_every_case_and_kind():
    assert {k.split("/")[1] for k in REFS if k.startswith("schedule/")} == set(R.SCHEDULE_CASES)
    assert {k.split("/")[1] for k in REFS if k.startswith("clip/")} == set(R.CLIP_CASES)
    kinds = {kw["kind"] for kw, _ in R.SCHEDULE_CASES.values()}
    assert kinds == set(SCHEDULES.ids()) and any(kw.get("warmup") for kw, _ in R.SCHEDULE_CASES.values())


@pytest.mark.parametrize("name", list(R.SCHEDULE_CASES))
def test_schedule_matches_torch_reference(name):
    assert_close(engine_factors(name), REFS[f"schedule/{name}"], name)


@pytest.mark.parametrize("name", list(R.SCHEDULE_CASES))
def test_schedule_matches_torch_live(name):
    pytest.importorskip("torch")
    assert_close(engine_factors(name), R.torch_factors(name), name)


def test_the_race_steps_with_the_scheduled_rate():
    # SGD's step is -lr_t * g: the race's steps divided by the gradients give torch's rates.
    kw, steps = R.SCHEDULE_CASES["step_warmup"]
    race = Race("booth", (-8.0, -6.0), [Racer("sgd", {"lr": 0.01}, Schedule(**kw))])
    chunk = race.advance(steps)
    X = np.vstack([race.state_at(0).X, chunk.positions[0]])
    G = np.array([race.state_at(k).G[0] for k in range(steps)])
    assert_close((X[:-1] - X[1:])[:, 0] / G[:, 0] / 0.01, REFS["schedule/step_warmup"], "race lr", 1e-10)


def test_cosine_holds_its_floor_where_torch_rises_again():
    row = Schedule("cosine", every=30, floor=0.2).array()
    after = [SK.lr_factor(row, t) for t in range(31, 80)]
    assert after == [pytest.approx(0.2, rel=1e-15)] * len(after)


# -- clipping against torch.nn.utils ------------------------------------------------------------
def engine_clip(name):
    mode = R.CLIP_CASES[name][0]
    grads, thr = R.clip_inputs(name)
    g = np.concatenate([a.ravel() for a in grads])
    finite = SK.perturb_and_clip(g, 0.0, 0, 1, Clip(mode, thr).array())
    assert finite
    return g


@pytest.mark.parametrize("name", list(R.CLIP_CASES))
def test_clipping_matches_torch_reference(name):
    ref = REFS[f"clip/{name}"]
    assert_close(engine_clip(name), ref, name)
    mode, shapes, _, _ = R.CLIP_CASES[name]
    grads, thr = R.clip_inputs(name)
    if shapes == [(2,)]:  # the 2-D race's clipping of one racer's gradient
        code = CLIPS.get(mode).code
        assert_close(RK.clip_gradient(grads[0][0], grads[0][1], code, thr), ref, f"{name} (2-D race)")


@pytest.mark.parametrize("name", list(R.CLIP_CASES))
def test_clipping_matches_torch_live(name):
    pytest.importorskip("torch")
    assert_close(engine_clip(name), R.torch_clip(name), name)


def test_near_the_threshold_the_reference_tells_torchs_form_from_the_textbook():
    # The cases would catch max_norm / norm in place of max_norm / (norm + 1e-6): torch scales
    # a gradient whose norm is below the threshold by less than 1e-6, and scales a longer one
    # by a different factor.
    for name, torch_scales, textbook_scales in (("norm_over", True, True), ("norm_under_within_eps", True, False),
                                                ("norm_under", False, False)):
        grads, thr = R.clip_inputs(name)
        g = np.concatenate([a.ravel() for a in grads])
        textbook = g * min(1.0, thr / np.linalg.norm(g))
        ref = REFS[f"clip/{name}"]
        assert (np.max(np.abs(ref - g)) > 1e-9) == torch_scales
        assert (np.max(np.abs(textbook - g)) > 1e-9) == textbook_scales
        assert (np.max(np.abs(textbook - ref)) > 1e3 * TOL) == (name != "norm_under")


# -- networks ---------------------------------------------------------------------------------
def engine_training(name, clip=True):
    sizes, act, init, opt_id, hyper, sched_kw, clip_kw, steps, batch = R.TRAIN_CASES[name]
    net, split, _ = R.train_inputs(name)
    racer = Racer(opt_id, hyper, Schedule(**sched_kw), Clip(**clip_kw) if clip else Clip())
    race = NetRace(net, split, [racer], batch_size=batch, seed=R.TRAIN_SEED, val_every=0, tel_every=0)
    chunk = race.advance(steps)
    return race.params[0], chunk.loss[0]


@pytest.mark.parametrize("name", list(R.TRAIN_CASES))
def test_network_trained_with_schedule_and_clipping_matches_torch(name):
    clipped = REFS[f"train/{name}/clipped"]
    assert clipped.sum() >= 3  # the reference run really clipped
    params, loss = engine_training(name)
    assert_close(loss, REFS[f"train/{name}/loss"], f"{name} losses")
    assert_close(params, REFS[f"train/{name}/params"], f"{name} parameters")
    # ... and the clipping mattered: without it the run ends elsewhere.
    free, _ = engine_training(name, clip=False)
    assert np.max(np.abs(free - REFS[f"train/{name}/params"])) > 1e-4


@pytest.mark.parametrize("name", list(R.TRAIN_CASES))
def test_network_trained_with_schedule_and_clipping_matches_torch_live(name):
    pytest.importorskip("torch")
    ref_params, ref_loss, _ = R.torch_training(name)
    params, loss = engine_training(name)
    assert_close(loss, ref_loss, f"{name} losses")
    assert_close(params, ref_params, f"{name} parameters")


def numpy_sgd(net, split, rows, lr, sched, noise, noise_seed, threshold, seed):
    """Plain SGD written out: backprop from the network, noise, clipping by norm in torch's
    form and the schedule's documented formula, one step at a time."""
    p = net.params.copy()
    probe = net.copy()
    for s, r in enumerate(rows):
        t = s + 1
        probe.params[:] = p
        _, g = probe.loss_and_grad(split.X_train[r], split.y_train[r], train=True, step=t, seed=seed)
        g = g + noise * np.array([SK.gauss(noise_seed, t, i) for i in range(g.size)])
        g = g * min(1.0, threshold / (math.sqrt(np.sum(g * g)) + 1e-6))
        f = sched.gamma ** ((t - 1) // sched.every) * (t / sched.warmup if t <= sched.warmup else 1.0)
        p = p - lr * f * g
    return p


def test_gradient_noise_and_clipping_match_a_numpy_reference():
    split = data.load("moons", n=120, noise=0.1, seed=0)
    net = nn.build(2, [Dense(8), "tanh", Dropout(0.2), Dense(2)], seed=5)
    sched = Schedule("step", gamma=0.5, every=4, warmup=3)
    racer = Racer("sgd", {"lr": 0.2}, sched, Clip("norm", 0.8))
    race = NetRace(net, split, [racer, racer, Racer("sgd", {"lr": 0.2}, sched, Clip("norm", 0.8))],
                   batch_size=16, seed=11, noise=0.7, val_every=0)
    race.advance(12)
    rows = NetRace(net, split, ["sgd"], batch_size=16, seed=11)._batches(12)
    ref = numpy_sgd(net, split, rows, 0.2, sched, 0.7, 11 | NOISE_STREAM, 0.8, 11)
    assert_close(race.params[0], ref, "noisy clipped SGD")
    # Every racer sees the same draws; a race without noise goes elsewhere, and the same seed
    # again repeats the run exactly.
    np.testing.assert_array_equal(race.params[0], race.params[2])
    quiet = NetRace(net, split, [racer], batch_size=16, seed=11, val_every=0)
    quiet.advance(12)
    assert np.max(np.abs(quiet.params[0] - ref)) > 1e-3
    again = NetRace(net, split, [racer], batch_size=16, seed=11, noise=0.7, val_every=0)
    again.advance(12)
    np.testing.assert_array_equal(again.params[0], race.params[0])
    # train() passes schedule, clipping and noise through.
    alone = net.copy()
    train(alone, split, "sgd", {"lr": 0.2}, steps=12, batch_size=16, seed=11, schedule=sched, clip=Clip("norm", 0.8),
          noise=0.7, val_every=0)
    np.testing.assert_array_equal(alone.params, race.params[0])


def test_a_gradient_clipped_by_value_still_reports_its_inf():
    # The network kernel marks the racer diverged on this answer: the clipped gradient is finite.
    g = np.array([1.0, np.inf, -3.0])
    assert not SK.perturb_and_clip(g, 0.0, 0, 1, Clip("value", 0.5).array())
    np.testing.assert_array_equal(g, [0.5, 0.5, -0.5])
    g = np.array([1.0, np.nan])
    assert not SK.perturb_and_clip(g, 0.0, 0, 1, Clip("norm", 0.5).array())
    # A finite gradient whose squared norm overflows is zeroed, as torch's clip_grad_norm_ does.
    g = np.array([1e300, -2.0])
    assert SK.perturb_and_clip(g, 0.0, 0, 1, Clip("norm", 0.5).array())
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_bad_network_race_noise_is_refused():
    with pytest.raises(ValueError, match="noise must be a finite number >= 0"):
        NetRace(nn.mlp([2, 4, 2]), data.load("moons", n=40), ["sgd"], batch_size=8, noise=-1.0)


def test_clipping_tames_exploding_gradients_in_a_deep_relu_net():
    # Six ReLU layers of 32 (He init), plain SGD at lr 2 on two spirals, batch 64: unclipped,
    # the loss overflows within a few steps; with the gradient norm clipped to 0.1 (the raw
    # norm is about 1, ten times more) it trains.  Measured for seeds 0..5: unclipped
    # diverges at step 6..8; clipped reaches 0.89..0.99 validation accuracy at step 800 and
    # its mean loss falls from 0.65..0.84 (first 20 steps) to 0.025..0.058 (last 50).
    split = data.load("two_spirals", n=400, noise=0.05, seed=0)
    net = nn.mlp([2] + [32] * 6 + [2], activation="relu", init="he_normal", seed=0)
    race = NetRace(net, split, [Racer("sgd", {"lr": 2.0}), Racer("sgd", {"lr": 2.0}, clip=Clip("norm", 0.1))],
                   batch_size=64, seed=0, val_every=100, tel_every=1)
    chunk = race.advance(800)
    kind, step = race.status_of(0)
    assert kind == Status.DIVERGED and step <= 10
    assert race.status_of(1) == (Status.TRAINING, 0)
    raw = np.sqrt((chunk.dense[1, :, :, ops.W_GRAD_NORM] ** 2).sum(-1))  # telemetry: before clipping
    assert np.mean(raw > 0.1) > 0.5
    assert np.mean(chunk.loss[1, -50:]) < 0.1 * np.mean(chunk.loss[1, :20])
    assert chunk.val_acc[1, -1] >= 0.9


# -- no recompilation --------------------------------------------------------------------------
@pytest.mark.skipif(numba.config.DISABLE_JIT, reason="without the JIT there are no compiled signatures")
def test_schedule_clip_and_noise_values_compile_nothing_new():
    split = data.load("moons", n=40, seed=0)
    net = nn.mlp([2, 4, 2])
    settings = [Racer("sgd", {"lr": 0.1}, Schedule("cosine", every=7, floor=0.2, warmup=2), Clip("norm", 0.5)),
                Racer("adam", {}, Schedule("exponential", gamma=0.9), Clip("value", 0.1)),
                Racer("momentum", {}, Schedule("step", gamma=0.5, every=3))]
    NetRace(net, split, settings[:1], batch_size=8).advance(3)
    NetRace(net, split, settings[1:], batch_size=8).advance(3)
    run_race("booth", (1.0, 2.0), settings[:1], 3)
    before = len(TK.train_chunk.signatures), len(TK.race_chunk.signatures), len(RK.advance.signatures)
    for i, noise in enumerate((0.0, 0.3, 2.0)):
        NetRace(net, split, [settings[i]], batch_size=8, noise=noise).advance(4)
        NetRace(net, split, settings[i:] + settings[:i], batch_size=8, noise=noise).advance(4)
        run_race("rosenbrock", (0.0, 0.5), settings[i:] + settings[:i], 4, noise=noise)
    after = len(TK.train_chunk.signatures), len(TK.race_chunk.signatures), len(RK.advance.signatures)
    assert after == before and before[0] == before[1] == 1
