"""Lab lessons headless: engine.lessons.lab_run's series line up with the network as the
claims read them (column k is the network after k steps), checked against the network's own
loss and gradient, and statuses keep their steps."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from engine import lab as L
from engine import lessons
from engine.nn import ops
from engine.nn import train_kernels as TK
from engine.race.status import Status
from engine.scenario import ExportOptions, LabOptions, Lesson, RacerConfig, Scenario

LAST = 12


def lab_scenario(last=LAST, **kw) -> Scenario:
    lab = LabOptions(dataset="moons", n=80, hidden=[6, 5], batch_size=8, seed=3,
                     contenders=[RacerConfig("sgd", {"lr": 0.1}), RacerConfig("adam", {"lr": 0.01}, label="fast")])
    return Scenario(mode="lab", lab=replace(lab, **kw), export=ExportOptions(last=last))


def layer_grad_norms(net, g):
    return np.array([np.linalg.norm(g[d.w.offset: d.w.offset + d.w.size]) for d in net.dense])


def test_column_k_is_the_network_after_k_steps():
    sc = lab_scenario()
    run = lessons.lab_run(sc)
    assert run.names == ("SGD", "fast") and run.steps == LAST
    assert set(run.series) == {"grad_norm", "train_loss", "val_loss", "val_acc", "dead_frac", "act_std",
                               "unit_spread", "best_step"}
    assert run.series["grad_norm"].shape == (2, 3, LAST + 1) and run.series["val_loss"].shape == (2, LAST + 1)
    assert all(np.isfinite(run.series[s]).all() for s in ("grad_norm", "train_loss", "val_loss", "val_acc",
                                                         "act_std"))
    # Replay by hand: the network as built, stepped by plain SGD on the race's mini-batches.
    net, split, _ = L.build(sc.lab)
    race = L.lab_race(sc.lab)
    for k in range(LAST + 1):
        v, a = net.evaluate(split.X_val, split.y_val)
        assert run.series["val_loss"][0, k] == pytest.approx(v, rel=1e-9)
        assert run.series["val_acc"][0, k] == pytest.approx(a, rel=1e-12)
        rows = race.batch_rows(k + 1)  # the next step's mini-batch, at these weights
        lv, g = net.loss_and_grad(split.X_train[rows], split.y_train[rows])
        assert run.series["train_loss"][0, k] == pytest.approx(lv, rel=1e-9)
        np.testing.assert_allclose(run.series["grad_norm"][0, :, k], layer_grad_norms(net, g), rtol=1e-9)
        net.params -= 0.1 * g
    # Every contender starts from the same weights: step 0 is the same for both.
    for s in ("val_loss", "train_loss", "grad_norm", "act_std", "unit_spread"):
        np.testing.assert_array_equal(run.series[s][0, ..., 0], run.series[s][1, ..., 0])
    assert [st.kind for st in run.status] == [Status.TRAINING] * 2


def test_the_series_match_the_races_telemetry():
    sc = lab_scenario()
    run = lessons.lab_run(sc)
    ch = L.lab_race(sc.lab, val_every=1, tel_every=1).run(LAST + 1)
    np.testing.assert_array_equal(run.series["grad_norm"], ch.dense[..., ops.W_GRAD_NORM].transpose(0, 2, 1))
    np.testing.assert_array_equal(run.series["train_loss"], ch.loss)
    np.testing.assert_array_equal(run.series["val_loss"][:, 1:], ch.val_loss[:, :LAST])


def test_divergence_keeps_its_step_and_leaves_nan_after_it():
    # A linear network at a learning rate of 3 blows up after a few steps (step 12 here).
    sc = lab_scenario(last=40, activation="identity", contenders=[RacerConfig("sgd", {"lr": 3.0}, label="wild"),
                                                                  RacerConfig("sgd", {"lr": 0.05})])
    run = lessons.lab_run(sc)
    kind, at = run.status[0]
    assert kind == Status.DIVERGED and 1 <= at <= 40
    # Step `at` blew up: the weights after it are never validated; its own loss (at the weights
    # after at - 1 steps) may already be huge.
    assert np.isnan(run.series["val_loss"][0, at:]).all() and np.isfinite(run.series["val_loss"][0, :at]).all()
    assert np.isnan(run.series["train_loss"][0, at:]).all()
    assert run.status[1].kind == Status.TRAINING and np.isfinite(run.series["val_loss"][1]).all()
    from engine import claims as C

    assert C.check(run, dict(kind="reaches", racer="wild", status="diverged", by_step=at, margin=0)).ok
    assert not C.check(run, dict(kind="still_racing", racer="wild", until_step=at, margin=0)).ok
    assert C.check(run, dict(kind="still_racing", racer="SGD", until_step=40, margin=0)).ok


def test_a_divergence_on_the_extra_step_is_still_training_at_the_last():
    # Find the step a contender diverges at, then end the lesson one step before it: the run
    # trains one step beyond export.last to read that step's gradient, but the contender was
    # still training at export.last.
    wild = [RacerConfig("sgd", {"lr": 3.0}, label="wild")]
    kind, at = lessons.lab_run(lab_scenario(last=40, activation="identity", contenders=wild)).status[0]
    assert kind == Status.DIVERGED and at >= 2
    run = lessons.lab_run(lab_scenario(last=at - 1, activation="identity", contenders=wild))
    assert run.status[0].kind == Status.TRAINING
    assert np.isfinite(run.series["val_loss"][0]).all()


def test_best_steps_pick_the_first_lowest_validated_loss():
    nan = np.nan
    val = np.array([[0.9, 0.8, 0.85, 0.7, 0.7, nan, nan],
                    [0.5, 0.6, 0.55, 0.58, nan, 0.4, 0.45],  # step 0 is never kept; NaN never counts
                    [0.5, nan, nan, 0.3, 0.3, 0.2, 0.9]])
    np.testing.assert_array_equal(lessons.best_steps(val), [[0, 1, 1, 3, 3, 3, 3],
                                                            [0, 1, 2, 2, 2, 5, 5],
                                                            [0, 0, 0, 3, 3, 5, 5]])


def test_best_step_is_the_step_whose_weights_early_stopping_keeps():
    # 30 noisy circles for 64-unit layers: Adam overfits within tens of steps and stops.
    sc = lab_scenario(last=300, dataset="circles", noise=0.3, n=60, val_fraction=0.5, hidden=[64, 64],
                      batch_size=30, patience=15,
                      contenders=[RacerConfig("adam", {"lr": 0.02}), RacerConfig("adam", {"lr": 0.01}, label="slow")])
    run = lessons.lab_run(sc)
    race = L.lab_race(sc.lab, val_every=1, tel_every=1)
    race.run(301)
    best = run.series["best_step"]
    for r in range(2):
        kind, at = run.status[r]
        assert kind == Status.STOPPED
        kept = int(best[r, -1])
        assert kept == race.es[r, TK.ES_STEP] and at == kept + 15  # patience 15 validations, one a step
        val = run.series["val_loss"][r]
        assert val[kept] == np.nanmin(val[1:])
        # Before it stopped the series moves with every new lowest loss.
        k = kept - 1
        assert best[r, k] < kept and val[int(best[r, k])] == np.nanmin(val[1:k + 1])
    from engine import claims as C

    assert C.check(run, dict(kind="value_below", racer="Adam", series="best_step", value=float(best[0, -1]) + 1,
                             at_step=300, margin=0.5)).ok


def test_regression_records_no_accuracy_and_a_missing_layer_fails_the_claim():
    sc = lab_scenario(dataset="sine", contenders=[RacerConfig("adam", {"lr": 0.01})])
    run = lessons.lab_run(sc)
    assert "val_acc" not in run.series
    sc.lesson = Lesson("t", claims=[
        dict(kind="value_above", racer="Adam", series="grad_norm", layer=9, value=1e-9, at_step=0),
        dict(kind="value_above", racer="Adam", series="grad_norm", layer=3, value=1e-9, at_step=0),
    ])
    report = lessons.check(sc)
    (_, bad), (_, good) = report.verdicts
    assert not bad.ok and "layer must be in 1..3" in bad.measured and good.ok


def test_claims_are_checked_on_each_seed_unless_the_lesson_fixes_its_seed():
    sc = lab_scenario()
    own, next_ = (lessons.lab_run(lessons.reseeded(sc, k)).series["val_loss"][0, LAST] for k in range(2))
    assert own != next_  # the next seed moves the weights, batches and data
    # A claim true on the lesson's own seed only: the value is on its side of the midpoint.
    kind = "value_below" if own < next_ else "value_above"
    sc.lesson = Lesson("t", claims=[dict(kind=kind, racer="SGD", series="val_loss", value=(own + next_) / 2,
                                         at_step=LAST, margin=1.0)])
    one = lessons.check(sc)
    assert one.ok and one.seeds == 1 and len(one.verdicts) == 1
    two = lessons.check(sc, seeds=2)
    assert not two.ok and two.seeds == 2 and "on 2 seeds" in two.line()
    assert [(w, v.ok) for w, v in two.verdicts] == [("seed +0, claims[0]", True), ("seed +1, claims[0]", False)]
    sc.lesson.fixed_seed = True
    assert lessons.check(sc, seeds=2).seeds == 1


def test_a_surface_race_is_checked_on_several_seeds_only_with_gradient_noise():
    sc = Scenario(racers=[RacerConfig("sgd", {"lr": 0.001})], export=ExportOptions(last=5))
    sc.lesson = Lesson("t", claims=[dict(kind="still_racing", racer="SGD", until_step=0, margin=0)])
    assert not lessons.has_randomness(sc) and lessons.check(sc, seeds=5).seeds == 1
    sc.noise = 0.5
    assert lessons.has_randomness(sc) and lessons.check(sc, seeds=5).seeds == 5
    assert lessons.reseeded(sc, 2).seed == sc.seed + 2


def test_the_hidden_layers_series_match_the_network_at_each_step():
    # ReLU units (dead_frac is theirs); replayed by hand with plain SGD as above.
    sc = lab_scenario(activation="relu", init="uniform", init_scale=0.5)
    run = lessons.lab_run(sc)
    assert run.series["dead_frac"].shape == run.series["act_std"].shape == (2, 2, LAST + 1)
    net, split, _ = L.build(sc.lab)
    race = L.lab_race(sc.lab)
    hidden = [i for i, t in enumerate(net.taps) if t.name.startswith("relu")]
    dead = []
    for k in range(LAST + 1):
        rows = race.batch_rows(k + 1)
        _, acts, _ = net.inspect(split.X_train[rows], split.y_train[rows])
        for j, i in enumerate(hidden):
            a = acts[i]
            assert run.series["act_std"][0, j, k] == pytest.approx(a.std(), rel=1e-9)
            assert run.series["dead_frac"][0, j, k] == np.mean(np.all(a <= 0.0, axis=0))
            dead.append(run.series["dead_frac"][0, j, k])
        net.params -= 0.1 * net.loss_and_grad(split.X_train[rows], split.y_train[rows])[1]
    assert max(dead) > 0  # the check above saw dead units, not only live ones
    # tanh units cannot die: NaN, which fails any claim on it.
    assert np.isnan(lessons.lab_run(lab_scenario()).series["dead_frac"]).all()


def test_unit_spread_is_zero_while_every_unit_of_a_layer_is_the_same():
    # Zero weights with sigmoid units: every unit of a hidden layer computes the same and gets
    # the same gradient, so it stays the same; Glorot's differ from the start.
    sc = lab_scenario(last=30, activation="sigmoid",
                      contenders=[RacerConfig("sgd", {"lr": 0.5}, label="zeros", init="zeros"),
                                  RacerConfig("sgd", {"lr": 0.5})])
    run = lessons.lab_run(sc)
    s = run.series["unit_spread"]
    assert s.shape == (2, 3, 31) and np.isnan(s[:, :, 1:30]).all()
    assert (s[0, :2, 0] == 0.0).all() and (s[1, :, 0] > 0.1).all() and (s[1, :, 30] > 0.1).all()
    # The hidden layers did learn (their weights moved), as one unit each: equal up to rounding
    # (the kernels' sums may be ordered differently for different units).
    race = L.lab_race(sc.lab)
    race.run(30)
    for i, (W, b) in enumerate(race.network(0).layer_params()[:2]):
        U = np.vstack([W, b[None]])
        assert np.abs(U).max() > 1e-4
        assert s[0, i, 30] == np.linalg.norm(U - U.mean(axis=1, keepdims=True), axis=0).max()
        assert s[0, i, 30] < 1e-12 * np.abs(U).max()
