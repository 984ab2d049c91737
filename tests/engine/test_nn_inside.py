"""What the lab's diagram and distribution views read from the engine: layers of units, their
outputs over the input plane, per-unit statistics, and percentile bands."""
import numpy as np
import pytest

from engine import nn
from engine.nn import Activation, Dense, Dropout, inside as I


@pytest.fixture(scope="module")
def net():
    return nn.build(2, [Dense(6), Activation("tanh"), Dropout(0.5), Dense(5), Activation("relu"), Dense(3)], seed=0)


def test_columns_are_the_dense_layers_inputs_then_the_output(net):
    cols = I.columns(net)
    assert [c.name for c in cols] == ["input", "hidden 1", "hidden 2", "output"]
    assert [c.width for c in cols] == [2, 6, 5, 3]
    assert [c.activation for c in cols] == ["", "tanh", "relu", ""]
    assert (cols[1].dropout, cols[1].p) == ("op2.dropout", 0.5)
    # The dropout mask keys are the network's own (Network.masks_at).
    assert cols[1].dropout in net.masks_at(4, 0, 1)


def test_unit_grids_are_the_networks_outputs_on_the_grid(net):
    g = I.unit_grids(net, (-2.0, 1.0, -1.0, 3.0), 7)
    assert [a.shape for a in g] == [(7, 7, 2), (7, 7, 6), (7, 7, 5), (7, 7, 3)]
    gx, gy = np.meshgrid(np.linspace(-2, 1, 7), np.linspace(-1, 3, 7))
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    np.testing.assert_allclose(g[0].reshape(-1, 2), pts)
    np.testing.assert_allclose(g[-1].reshape(-1, 3), net.predict(pts), rtol=1e-12)
    W, b = net.layer_params()[0]
    np.testing.assert_allclose(g[1].reshape(-1, 6), np.tanh(pts @ W + b), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="2-D inputs"):
        I.unit_grids(nn.mlp([3, 4, 2]), (0, 1, 0, 1), 5)


def test_unit_stats_hold_the_batchs_outputs_and_backprops_gradients(net):
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(9, 2)), rng.integers(0, 3, 9)
    s = I.unit_stats(net, X, y)
    lv, G = net.loss_and_grad(X, y)
    assert s.loss == pytest.approx(lv, rel=1e-12)
    for i, d in enumerate(net.dense):
        np.testing.assert_allclose(s.dW[i].ravel(), G[d.w.offset: d.w.offset + d.w.size], rtol=1e-12)
        np.testing.assert_allclose(s.db[i], G[d.b.offset: d.b.offset + d.b.size], rtol=1e-12)
    np.testing.assert_allclose(s.values[-1], net.predict(X), rtol=1e-12)
    np.testing.assert_array_equal(s.values[0], X)
    # dL/d(output) of softmax cross-entropy: (softmax - onehot) / B.
    p = np.exp(s.values[-1] - s.values[-1].max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(s.grads[-1], (p - np.eye(3)[y]) / 9, rtol=1e-10)


def test_bands_are_numpys_percentiles_and_axes_ignore_outliers():
    v = np.concatenate([np.random.default_rng(2).normal(size=1000), [1e6, np.nan]])
    np.testing.assert_array_equal(I.bands(v), np.percentile(v[np.isfinite(v)], I.BAND_PERCENTILES))
    lo, hi = I.robust_range(v)
    assert -4 < lo < -2 and 2 < hi < 4
    counts, edges, below, above = I.histogram(v, lo, hi, 20)
    assert counts.sum() + below + above == 1001 and above >= 1
    assert edges[0] == lo and edges[-1] == hi
    assert np.all(np.isnan(I.bands([np.nan])))


def test_dead_and_saturated_fractions():
    v = np.array([[0.0, 0.5, 0.0], [0.0, 0.0, 2.0]])
    assert I.dead_units(v) == pytest.approx(1 / 3)
    word, f = I.inactive_fraction(v, "relu")
    assert word == "dead" and f.tolist() == [1.0, 0.5, 0.5]
    word, f = I.inactive_fraction(np.array([[0.99, 0.1], [-0.97, 0.96]]), "tanh")
    assert word == "saturated" and f.tolist() == [1.0, 0.5]
    word, f = I.inactive_fraction(np.array([[0.99, 0.5], [0.01, 0.3]]), "sigmoid")
    assert f.tolist() == [1.0, 0.0]
    assert I.inactive_fraction(v, "gelu")[0] == ""


def test_misclassified_lists_the_wrong_predictions(net):
    X = np.random.default_rng(3).normal(size=(20, 2))
    pred = np.argmax(net.predict(X), axis=1)
    labels = pred.copy()
    labels[[2, 7, 11]] = (labels[[2, 7, 11]] + 1) % 3
    idx, p = I.misclassified(net, X, labels, limit=2)
    assert idx.tolist() == [2, 7] and p.tolist() == pred[[2, 7]].tolist()


def test_distributions_per_layer(net):
    X = np.random.default_rng(4).normal(size=(50, 2))
    ds = I.distributions(net, X)
    assert [d.name for d in ds] == ["hidden 1", "hidden 2", "output"]
    s = I.unit_stats(net, X, np.zeros(50, dtype=np.int64))
    for d, v, W in zip(ds, s.values[1:], s.W):
        np.testing.assert_allclose(d.values, v.ravel(), rtol=1e-12)
        np.testing.assert_array_equal(d.weights, W.ravel())
        np.testing.assert_array_equal(d.value_bands, np.percentile(d.values, I.BAND_PERCENTILES))
    assert ds[0].word == "saturated" and ds[1].word == "dead" and ds[2].word == ""
    assert ds[1].fraction == I.dead_units(s.values[2])


def test_raw_validation_is_the_split_before_standardisation():
    from engine import lab as L
    from engine.scenario import LabOptions

    lab = LabOptions(dataset="digits")
    raw = L.raw_validation(lab)
    race = L.lab_race(lab)
    # The race's validation inputs are these, standardised with the training part's statistics.
    corr = [np.corrcoef(raw[:, j], race.Xv[:, j])[0, 1] for j in range(64) if raw[:, j].std() > 0]
    assert raw.shape == race.Xv.shape and np.min(corr) > 0.999999
