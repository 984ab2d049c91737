"""Network-lab experiments from a scenario: the [lab.experiment] table (read, written, refused
with clear errors), the experiments run headless (function space, landscape, initialisers) and
the claims' series they feed."""
from __future__ import annotations

import numpy as np
import pytest

from engine import claims as C
from engine import experiments as X
from engine import lessons as L
from engine import scenario as io
from engine.lab import build
from engine.nn.network import build as build_network
from engine.lab import layers


def scenario(experiment: dict, last: int = 40, **lab) -> io.Scenario:
    base = {"dataset": "moons", "n": 160, "hidden": [8], "activation": "sigmoid", "batch_size": 16,
            "contenders": [{"optimizer": "sgd", "hyper": {"lr": 0.5}}, {"optimizer": "adam", "hyper": {"lr": 0.02}},
                           {"optimizer": "momentum", "hyper": {"lr": 0.1}}]}
    return io.Scenario.from_dict({"schema": 2, "mode": "lab", "export": {"last": last},
                                  "lab": {**base, **lab, "experiment": experiment}})


def test_experiment_table_round_trips_and_names_the_claims_racers():
    sc = scenario({"kind": "function_space", "members": 2, "pretrain_steps": 10, "record_every": 10,
                   "projection": "tsne", "pretrain_noise": 0.1})
    back = io.loads(io.dumps(sc))
    assert back.lab.experiment == sc.lab.experiment
    assert back.racer_names() == ("Pre-trained", "Random init")
    land = scenario({"kind": "landscape", "through": [0, 2]})
    assert io.loads(io.dumps(land)).lab.experiment.through == [0, 2]
    assert land.racer_names() == ("SGD", "Adam", "Momentum")
    assert io.loads(io.dumps(scenario({"kind": "init_compare", "inits": ["zeros", "he_normal"]}))).racer_names() == (
        "zeros", "he_normal")
    assert io.loads(io.dumps(io.Scenario(mode="lab"))).lab.experiment is None


@pytest.mark.parametrize("experiment, lab, message", [
    ({"kind": "spectrum"}, {}, r"lab.experiment.kind must be one of"),
    ({"kind": "function_space", "families": ["pretrained", "dropout"]}, {}, r"families must list values of"),
    ({"kind": "function_space", "families": ["random"]}, {}, r"at least two different families"),
    ({"kind": "function_space", "members": 40}, {}, r"more than 64 networks"),
    ({"kind": "function_space", "members": 0}, {}, r"members must be in 1..64"),
    ({"kind": "function_space"}, {"skip": "residual"}, r"pre-training needs a plain stack"),
    ({"kind": "function_space"}, {"dataset": "sine"}, r"regression data set"),
    ({"kind": "function_space", "record_every": 50}, {}, r"record_every must be at most the run's length"),
    ({"kind": "landscape", "through": [0, 3]}, {}, r"through must give 2 different place"),
    ({"kind": "landscape", "through": [1, 1]}, {}, r"through must give 2 different place"),
    ({"kind": "landscape", "plane": "random", "through": [0, 1]}, {}, r"through must give 1 different place"),
    ({"kind": "landscape", "resolution": 2}, {}, r"resolution must be in 5..201"),
    ({"kind": "init_compare", "inits": []}, {}, r"inits must list at least one"),
    ({"kind": "function_space", "colour": 1}, {}, r"lab.experiment: unknown field\(s\) \['colour'\]"),
])
def test_bad_experiments_are_refused_naming_the_field(experiment, lab, message):
    with pytest.raises(io.ScenarioError, match=message):
        scenario(experiment, **lab)


def test_function_space_families_start_from_the_same_draws_and_are_measured_per_record():
    sc = scenario({"kind": "function_space", "members": 2, "pretrain_steps": 30, "record_every": 10})
    seen = []
    res = X.run(sc, progress=lambda f: seen.append(f) or True)
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert list(res.steps) == [0, 10, 20, 30, 40]
    assert res.points.shape == (4, 5, 2) and list(res.family) == [0, 0, 1, 1]
    assert res.names == ("Pre-trained", "Random init")
    assert res.member_name(3) == "Random init #1"
    # Random member i is the lab's network drawn from seed + 1 + i; its accuracy at step 0 is that network's.
    net, split, _ = build(sc.lab)
    first = build_network(2, layers(sc.lab), loss="softmax_ce", init=sc.lab.init, seed=sc.lab.seed + 2)
    logits = first.predict(split.X_val)
    assert res.accuracy[3, 0] == pytest.approx(np.mean(logits.argmax(axis=1) == split.y_val), abs=1e-12)
    from sklearn.metrics import silhouette_samples

    s = silhouette_samples(res.points[:, -1], res.family)
    np.testing.assert_allclose(res.silhouette[:, -1], [s[:2].mean(), s[2:].mean()], rtol=1e-12)
    with pytest.raises(X.Cancelled):
        X.run(sc, progress=lambda f: f < 0.5)


def test_landscape_paths_start_at_the_origin_and_two_contenders_end_in_the_plane():
    sc = scenario({"kind": "landscape", "record_every": 10, "resolution": 9, "through": [0, 1]})
    res = X.run(sc)
    assert res.grid.shape == (9, 9) and np.all(np.isfinite(res.grid))
    np.testing.assert_allclose(res.coords[:, 0], 0.0, atol=1e-12)  # one common initialisation
    np.testing.assert_allclose(res.distance[:2, -1], 0.0, atol=1e-9)  # the plane holds both end points
    assert res.distance[2, -1] > 1e-3  # the third contender leaves it
    np.testing.assert_allclose(res.plane_loss[:2, -1], res.loss[:2, -1], rtol=1e-9)
    np.testing.assert_allclose(res.plane_loss[:, 0], res.loss[:, 0], rtol=1e-12)
    # The grid covers every projected point.
    assert res.alphas[0] < res.coords[..., 0].min() and res.alphas[-1] > res.coords[..., 0].max()
    rnd = X.run(scenario({"kind": "landscape", "plane": "random", "through": [1], "record_every": 20,
                          "resolution": 5, "span": 0.5}))
    np.testing.assert_allclose(rnd.alphas, np.linspace(-0.5, 0.5, 5))
    np.testing.assert_allclose(rnd.coords[1, -1], 0.0, atol=1e-9)  # through Adam's final weights


def test_init_compare_skips_what_cannot_initialise_and_keeps_zeros_symmetric():
    res = X.run(scenario({"kind": "init_compare", "inits": ["zeros", "he_normal", "identity"], "record_every": 20},
                         hidden=[6, 6]))
    assert res.inits == ("zeros", "he_normal")
    assert res.skipped[0][0] == "identity" and "square" in res.skipped[0][1]
    assert res.symmetric == ((True, True), (False, False))
    assert res.val_loss.shape == (2, 3) and list(res.steps) == [0, 20, 40]
    assert res.stats[1].act_std.shape == (2,)


def test_experiment_runs_feed_the_claims():
    sc = scenario({"kind": "landscape", "record_every": 10, "resolution": 5})
    run = L.run(sc)
    assert run.series["plane_distance"].shape == (3, 41)
    assert run.series["val_loss"].shape == (3, 41)
    # Held between records: steps 10..19 read the record of step 10.
    np.testing.assert_array_equal(run.series["plane_distance"][:, 10], run.series["plane_distance"][:, 19])
    v = C.check(run, {"kind": "value_below", "racer": "Adam", "series": "plane_distance", "value": 1e-6,
                      "at_step": 40, "margin": 1.0})
    assert v.ok, v.measured
    fs = scenario({"kind": "function_space", "members": 2, "pretrain_steps": 10, "record_every": 20})
    run = L.run(fs)
    assert run.names == ("Pre-trained", "Random init") and run.series["silhouette"].shape == (2, 41)
    assert np.all(np.abs(run.series["silhouette"]) <= 1)
    C.validate({"kind": "value_above", "racer": "Pre-trained", "series": "silhouette", "value": 0.1,
                "at_step": 40, "margin": 0.05}, fs.racer_names(), 40, "lab")
    assert X.held(np.array([0, 10]), np.array([[1.0, 2.0]]), 12).tolist() == [[1.0] * 10 + [2.0] * 3]
