"""The scripting API, gradient checking, vanishing gradients and refused settings."""
import numpy as np
import pytest

from engine import data, nn
from engine.nn import Activation, BatchNorm, Dense, Dropout, Highway, Residual, gradcheck
from engine.nn.network import MAX_WIDTH


@pytest.fixture(scope="module")
def batch():
    d = data.load("two_spirals", noise=0.05, seed=0)
    return d.X_train[:128], d.y_train[:128]


def test_mlp_api(batch):
    X, y = batch
    net = nn.mlp([2, 64, 64, 2], activation="tanh", init="glorot_uniform", loss="softmax_ce", seed=0)
    assert net.params.dtype == np.float64 and net.params.shape == (2 * 64 + 64 + 64 * 64 + 64 + 64 * 2 + 2,)
    pairs = net.layer_params()
    assert [W.shape for W, _ in pairs] == [(2, 64), (64, 64), (64, 2)]
    assert [b.shape for _, b in pairs] == [(64,), (64,), (2,)]
    for W, b in pairs:  # views into params, not copies
        assert np.shares_memory(W, net.params) and np.shares_memory(b, net.params)
    lv, g = net.loss_and_grad(X, y)
    assert g.shape == net.params.shape and np.isfinite(lv)
    pairs[0][0][0, 0] += 1.0  # editing a view edits the network
    assert net.loss_and_grad(X, y)[0] != lv
    # The loss is the mean cross-entropy of the logits computed from those views.
    pairs[0][0][0, 0] -= 1.0
    h = X
    for i, (W, b) in enumerate(pairs):
        h = h @ W + b
        if i < 2:
            h = np.tanh(h)
    ref = np.mean(np.log(np.exp(h).sum(1)) - h[np.arange(len(y)), y])
    assert lv == pytest.approx(ref, rel=1e-13)
    np.testing.assert_allclose(net.predict(X), h, rtol=1e-12, atol=1e-14)


def test_regression_targets_and_bce():
    X = np.random.default_rng(0).normal(size=(10, 3))
    net = nn.mlp([3, 5, 1], loss="mse")
    lv, _ = net.loss_and_grad(X, np.ones(10))
    assert lv == pytest.approx(np.mean((net.predict(X)[:, 0] - 1.0) ** 2), rel=1e-13)
    assert np.isnan(net.evaluate(X, np.ones(10))[1])
    bce = nn.mlp([3, 5, 1], loss="bce")
    y = (X[:, 0] > 0).astype(float)
    z = bce.predict(X)[:, 0]
    lv, acc = bce.evaluate(X, y)
    p = 1 / (1 + np.exp(-z))
    assert lv == pytest.approx(np.mean(-y * np.log(p) - (1 - y) * np.log(1 - p)), rel=1e-12)
    assert acc == np.mean((z > 0) == (y > 0.5))


def test_gradcheck_every_parameter_and_a_sample(batch):
    X, y = batch
    net = nn.build(2, [Dense(8), Activation("elu"), Residual("tanh"), Highway("gelu"), Dense(2)], seed=1)
    full = gradcheck.gradcheck(net, X[:32], y[:32])
    assert full.index.size == net.n_params
    assert set(full.layers) == {g.name for g in net.groups}
    assert full.max_error < 1e-7
    part = gradcheck.gradcheck(net, X[:32], y[:32], sample=20, seed=3)
    assert part.index.size == 20 and len(np.unique(part.index)) == 20
    np.testing.assert_allclose(part.numeric, full.numeric[part.index], rtol=1e-12)
    # A wrong gradient is caught: perturb one analytic entry.
    assert gradcheck._rel(full.numeric, full.analytic + 1e-3 * (np.arange(full.analytic.size) == 0)) > 1e-6


def test_eps_sweep_shows_truncation_then_roundoff(batch):
    X, y = batch
    net = nn.mlp([2, 16, 16, 2], activation="tanh", seed=0)
    eps, err = gradcheck.eps_sweep(net, X[:64], y[:64], sample=40)
    np.testing.assert_allclose(eps, 10.0 ** -np.arange(1, 13))
    best = int(np.argmin(err))
    # Measured: 2e-3 at 1e-1, a minimum near 1e-10 at eps 1e-5 or 1e-6, 1e-3 at 1e-12.
    assert 3 <= best <= 7
    assert err[best] < 1e-8
    assert err[0] > 1e3 * err[best] and err[-1] > 1e3 * err[best]
    assert np.all(np.diff(err[: best + 1]) < 0)  # truncation error falls as eps shrinks
    assert err[0] / err[2] > 1e3  # ... like eps^2 (two decades of eps, four of error, minus noise)


def _first_to_last(kind, seed, X, y):
    width, depth = 32, 10
    if kind == "sigmoid":
        layers = sum([[Dense(width), Activation("sigmoid")] for _ in range(depth)], []) + [Dense(2)]
        net = nn.build(2, layers, init="glorot_uniform", seed=seed)
        taps = [i for i, t in enumerate(net.taps) if t.name.startswith("sigmoid")]
    elif kind == "relu":
        layers = sum([[Dense(width), Activation("relu")] for _ in range(depth)], []) + [Dense(2)]
        net = nn.build(2, layers, init="he_normal", seed=seed)
        taps = [i for i, t in enumerate(net.taps) if t.name.startswith("relu")]
    else:
        layers = [Dense(width)] + [Residual("relu") for _ in range(depth - 1)] + [Dense(2)]
        net = nn.build(2, layers, init="he_normal", seed=seed)
        taps = [0] + [i for i, t in enumerate(net.taps) if t.name.startswith("residual")]
    assert len(taps) == depth
    _, _, grads = net.inspect(X, y)
    return np.linalg.norm(grads[taps[0]]) / np.linalg.norm(grads[taps[-1]])


def test_vanishing_gradients(batch):
    # ||dL/dh_1|| / ||dL/dh_10|| at step 0 (geometric mean over seeds 0..4), 128 spiral points,
    # width 32.  Measured: sigmoid + Glorot 1e-6 .. 5e-6; ReLU + He 0.66 .. 1.47; residual
    # blocks x + W2 relu(W1 x) with He 74 .. 137 (the gradient grows towards the input).
    X, y = batch
    ratio = {k: np.exp(np.mean([np.log(_first_to_last(k, s, X, y)) for s in range(5)]))
             for k in ("sigmoid", "relu", "residual")}
    assert 1e-8 < ratio["sigmoid"] < 1e-4
    assert 0.2 < ratio["relu"] < 5.0
    assert 10.0 < ratio["residual"] < 1e4
    assert ratio["sigmoid"] * 100 <= ratio["relu"]
    assert ratio["sigmoid"] * 100 <= ratio["residual"]


def test_highway_gate_starts_mostly_closed(batch):
    X, y = batch
    net = nn.build(2, [Dense(8), Activation("tanh"), Highway("relu", gate_bias=-3.0), Dense(2)], seed=0)
    np.testing.assert_array_equal(net.group("highway2.gate.b"), np.full(8, -3.0))
    _, acts, _ = net.inspect(X, y)
    names = [t.name for t in net.taps]
    carried, out = acts[names.index("tanh1")], acts[names.index("highway2")]
    # Gate ~ sigmoid(-3) = 0.05: the block passes its input through almost unchanged.
    assert np.abs(out - carried).mean() < 0.2 * np.abs(carried).mean()


@pytest.mark.parametrize("make, message", [
    (lambda: nn.mlp([2, 0, 2]), r"units must be an integer in \[1, 16384\], got 0"),
    (lambda: nn.mlp([2, 8, 2], dropout=1.0), r"drop probability p must be in \[0, 1\).*got 1.0"),
    (lambda: nn.build(2, [Dense(4, dropconnect=-0.1), Dense(2)]), r"dropconnect must be in \[0, 1\)"),
    (lambda: nn.build(2, [Dense(4), Dropout(0.5, mode="scaled"), Dense(2)]), r"mode must be one of"),
    (lambda: nn.mlp([2, 8, 2], activation="swish"), r"layer 1 \(Activation\): unknown activation 'swish'"),
    (lambda: nn.mlp([2, 8, 2], loss="hinge"), r"unknown loss 'hinge'"),
    (lambda: nn.mlp([2, 8, 1]), r"loss 'softmax_ce' needs at least 2 outputs"),
    (lambda: nn.mlp([2]), r"sizes needs an input and an output width"),
    (lambda: nn.mlp([2, MAX_WIDTH + 1, 2]), r"units must be an integer in \[1, 16384\]"),
    (lambda: nn.mlp([16384, 16384, 16384, 16384]), r"network too large for memory: dense1 brings it to 268,451,840 parameters.*limit is 2 GiB"),
    (lambda: nn.build(2, [BatchNorm(eps=0.0), Dense(2)]), r"eps must be in \(0, 1\]"),
    (lambda: nn.build(2, [Highway(gate_bias=-50.0), Dense(2)]), r"gate_bias must be in \[-20, 20\]"),
    (lambda: nn.build(2, ["relu", 3]), r"layer 1 \(int\): not a layer spec"),
    (lambda: nn.build(2, [Activation("relu", per_unit=True)]), r"layer 0 \(Activation\): per_unit applies only to"),
])
def test_bad_settings_are_refused_before_training(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_inputs_are_refused():
    net = nn.mlp([2, 4, 3])
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"X must have shape \(rows >= 1, 2\), got \(5, 3\)"):
        net.loss_and_grad(np.zeros((5, 3)), np.zeros(5, int))
    with pytest.raises(ValueError, match=r"labels for softmax_ce must be 5 integers in \[0, 2\]"):
        net.loss_and_grad(X, np.array([0, 1, 2, 3, 0]))
    with pytest.raises(ValueError, match=r"targets for mse must have shape \(5, 1\)"):
        nn.mlp([2, 4, 1], loss="mse").loss_and_grad(X, np.zeros((5, 2)))
    with pytest.raises(ValueError, match="batch norm in training mode needs a batch of at least 2"):
        nn.build(2, [BatchNorm(), Dense(2)]).loss_and_grad(X[:1], np.zeros(1, int), train=True)
