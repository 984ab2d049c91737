"""Ensembles, pre-training, function-space projections and initialisation statistics: each racer
starts from its own weights, records are the networks' functions, projections recover known
structure, pre-training trains each hidden layer as an autoencoder, and zero initialisation keeps
a layer's units identical."""
from __future__ import annotations

import numpy as np
import pytest

from engine import data as DATA
from engine.nn import ensemble as E
from engine.nn import function_space as F
from engine.nn import init_stats as S
from engine.nn.landscape import plane_through
from engine.nn.layers import Activation, Dense, Dropout, Residual
from engine.nn.network import build, mlp
from engine.nn.train import NetRace


@pytest.fixture(scope="module")
def moons():
    X, y = DATA.make("moons", n=160, noise=0.1, seed=0)
    return X[:120], y[:120], X[120:], y[120:]


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_each_racer_starts_from_its_own_weights(moons):
    nets = [mlp([2, 8, 2], seed=s) for s in range(3)]
    initial = np.stack([n.params for n in nets])
    race = NetRace(nets[0], moons, ["sgd"] * 3, batch_size=16, initial=initial)
    np.testing.assert_array_equal(race.params, initial)
    race.advance(5)
    for s, n in enumerate(nets):  # racer s trains exactly as network s alone, on the same batches
        alone = NetRace(n, moons, ["sgd"], batch_size=16)
        alone.advance(5)
        np.testing.assert_allclose(race.params[s], alone.params[0], rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match=r"shape \(3, "):
        NetRace(nets[0], moons, ["sgd"] * 3, batch_size=16, initial=initial[:2])


def test_ensemble_records_every_networks_function_on_the_probe(moons):
    nets = [mlp([2, 6, 2], seed=s) for s in range(4)]
    members = [E.Member("a", 0), E.Member("a", 1), E.Member("b", 0), E.Member("b", 1)]
    probe = moons[2][:10]
    run = E.run_ensemble(nets[0], moons, np.stack([n.params for n in nets]), members, ("adam", {"lr": 0.01}),
                         steps=25, record_every=10, probe=probe, batch_size=16)
    assert list(run.steps) == [0, 10, 20, 25]
    assert run.outputs.shape == (4, 4, 10 * 2)
    for r, n in enumerate(nets):
        np.testing.assert_allclose(run.outputs[r, 0], softmax(n.predict(probe)).ravel(), rtol=1e-12)
        np.testing.assert_allclose(run.outputs[r, -1], softmax(run.race.network(r).predict(probe)).ravel(),
                                   rtol=1e-12)
    assert list(run.families()) == [0, 0, 1, 1]
    stopped = E.run_ensemble(nets[0], moons, np.stack([n.params for n in nets]), members, "sgd", steps=40,
                             record_every=10, probe=probe, batch_size=16, progress=lambda f: f < 0.5)
    assert list(stopped.steps) == [0, 10, 20]  # cancelled after the record at half-way


@pytest.mark.filterwarnings("ignore:The number of connected components")  # two far clusters: meant
@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")  # sklearn joins them itself
def test_projections_recover_known_structure():
    rng = np.random.default_rng(0)
    # Points on a 2-D plane inside 12-D: PCA keeps every pairwise distance.
    basis = np.linalg.qr(rng.standard_normal((12, 2)))[0]
    flat = rng.standard_normal((6, 5, 2)) @ basis.T + 3.0
    P = F.project(flat, "pca")
    d = lambda A: np.linalg.norm(A.reshape(-1, A.shape[-1])[:, None] - A.reshape(-1, A.shape[-1])[None], axis=-1)
    np.testing.assert_allclose(d(P), d(flat), atol=1e-10)
    # Two far clusters: every method separates them.
    blobs = np.concatenate([rng.normal(0, 1, (5, 4, 20)), rng.normal(12, 1, (5, 4, 20))])
    fam = np.repeat([0, 1], 5)
    for m in ("pca", "tsne", "isomap"):
        Q = F.project(blobs, m)
        assert F.separation(Q.reshape(-1, 2), np.repeat(fam, 4)) > 0.8, m
    # One cloud split at random: no separation.
    mixed = rng.normal(0, 1, (40, 1, 20))
    assert abs(F.separation(F.project(mixed, "pca")[:, 0], np.arange(40) % 2)) < 0.1
    with pytest.raises(ValueError, match="NaN"):
        F.project(np.full((2, 2, 3), np.nan))
    with pytest.raises(ValueError, match="unknown projection"):
        F.project(blobs, "umap")


def test_pretraining_trains_each_hidden_layer_as_an_autoencoder():
    rng = np.random.default_rng(1)
    # 8-D inputs near a 3-D subspace: a 3-unit code can keep them only along the right directions.
    X = (rng.standard_normal((300, 3)) * [2.0, 1.0, 0.5]) @ rng.standard_normal((3, 8)) + 0.02 * rng.standard_normal((300, 8))
    net = build(8, [Dense(3), Activation("sigmoid"), Dropout(0.2), Dense(2), Activation("sigmoid"), Dense(4)], seed=0)
    params = E.pretrain(net, X, "sigmoid", steps=600, hyper={"lr": 0.02}, seed=0)
    groups = lambda p: [(p[d.w.offset: d.w.offset + d.w.size].reshape(d.w.shape), p[d.b.offset: d.b.offset + d.b.size])
                        for d in net.dense]
    (W1, b1), (W2, _), (W3, _) = groups(params)
    (V1, c1), (V2, _), (V3, _) = groups(net.params)
    np.testing.assert_array_equal(W3, V3)  # the output layer as initialised
    assert not np.allclose(W2, V2)  # every hidden layer trained

    def reconstruction(W, b):  # the best linear decoder of the code, refitted by least squares
        H = 1 / (1 + np.exp(-(X @ W + b)))
        A = np.hstack([H, np.ones((len(H), 1))])
        return np.mean((A @ np.linalg.lstsq(A, X, rcond=None)[0] - X) ** 2)

    assert reconstruction(W1, b1) < 0.5 * reconstruction(V1, c1)
    with pytest.raises(ValueError, match="plain stack"):
        E.pretrain(build(2, [Dense(4), Activation("tanh"), Residual("tanh"), Dense(2)]), X[:, :2], "tanh")


def test_zero_initialisation_keeps_every_unit_of_a_layer_identical(moons):
    sig = mlp([2, 6, 6, 2], activation="sigmoid", init="zeros", seed=0)
    NetRace(sig, moons, ["sgd"], batch_size=16).advance(0)
    race = NetRace(sig, moons, [("sgd", {"lr": 0.5})], batch_size=16)
    race.advance(100)
    trained = race.network(0)
    assert S.symmetric_units(trained) == [True, True]
    assert not np.allclose(trained.params, 0)  # it learned something, all units alike
    tanh = mlp([2, 6, 6, 2], activation="tanh", init="zeros", seed=0)
    race = NetRace(tanh, moons, [("sgd", {"lr": 0.5})], batch_size=16)
    race.advance(100)
    hidden = [race.network(0).params[d.w.offset: d.w.offset + d.w.size] for d in tanh.dense]
    assert all(np.all(w == 0) for w in hidden)  # tanh(0) = 0: no weight gradient ever reaches them
    drop = build(2, [Dense(6), Activation("sigmoid"), Dropout(0.3), Dense(6), Activation("sigmoid"), Dropout(0.3), Dense(2)],
                 init="zeros", seed=0)
    race = NetRace(drop, moons, [("sgd", {"lr": 0.5})], batch_size=16)
    race.advance(100)
    assert S.symmetric_units(race.network(0)) == [False, False]  # each unit's own mask breaks the tie


def test_initialisation_statistics_per_layer():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((256, 64)), rng.integers(0, 2, 256)
    stats = S.compare(lambda i: mlp([64] + [64] * 6 + [2], activation="relu", init=i, seed=0),
                      ["he_normal", "lecun_normal"], X, y)
    he, lecun = stats
    assert he.act_std.shape == (6,) and he.grad_std.shape == (7,)
    # He keeps ReLU activations' scale across depth; Var(W) = 1/n halves the second moment per layer.
    assert 0.5 < he.act_std[-1] / he.act_std[0] < 2.0
    assert lecun.act_std[-1] / lecun.act_std[0] < 0.35
    net = mlp([64] + [64] * 6 + [2], activation="relu", init="he_normal", seed=0)
    _, acts, _ = net.inspect(X, y)
    relu_outs = [a for a, t in zip(acts, net.taps) if t.name.startswith("relu")]
    np.testing.assert_allclose(he.act_std, [np.std(a) for a in relu_outs], rtol=1e-12)


def test_paths_in_the_plane_through_the_initialisation_start_at_its_origin(moons):
    net = mlp([2, 8, 2], seed=0)
    race = NetRace(net, moons, [("sgd", {"lr": 0.1}), ("adam", {"lr": 0.01})], batch_size=16, snapshot_every=10)
    race.advance(50)
    plane = plane_through(net.params, race.params[0], race.params[1])
    xy, dist = plane.project(np.stack([s.params[0] for s in race.snapshots]))
    np.testing.assert_allclose(xy[0], 0, atol=1e-12)
    np.testing.assert_allclose(dist[[0, -1]], 0, atol=1e-10)
    assert xy[-1, 0] == pytest.approx(np.linalg.norm(race.params[0] - net.params))
    assert np.all(dist[1:-1] >= 0)
