"""The gradient check against backprop with a classic mistake: each fails exactly the layers
engine.nn.mistakes.expected names, and the true backward pass passes everywhere."""
import numpy as np
import pytest

from engine import nn
from engine.nn import Activation, Dense, Residual, gradcheck as GC, mistakes as M


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 2))
    return X, (X[:, 0] * X[:, 1] > 0).astype(np.int64)


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_true_backprop_passes_every_layer(batch, act):
    net = nn.mlp([2, 8, 8, 8, 2], activation=act, seed=1)
    errs = GC.layer_errors(net, GC.gradcheck(net, *batch))
    assert errs.shape == (4,)
    assert np.all(errs < GC.PASS)


CASES = [(M.NO_DERIVATIVE, 1, (1,)), (M.NO_DERIVATIVE, 3, (1, 2, 3)), (M.TRANSPOSED, 2, (1,)),
         (M.TRANSPOSED, 3, (1, 2)), (M.BIAS_ONE_EXAMPLE, 1, (1,)), (M.BIAS_ONE_EXAMPLE, 3, (3,)),
         (M.BIAS_ONE_EXAMPLE, 4, (4,))]


@pytest.mark.parametrize("act", ["tanh", "sigmoid", "relu"])
@pytest.mark.parametrize("mistake,layer,fails", CASES)
def test_each_mistake_fails_exactly_where_stated(batch, act, mistake, layer, fails):
    net = nn.mlp([2, 8, 8, 8, 2], activation=act, seed=1)
    want = M.expected(net, mistake, layer)
    assert want.layers == fails
    gc = GC.gradcheck(net, *batch, mistake=mistake, layer=layer)
    for g in net.groups:
        if g.name in want.groups:
            assert gc.layers[g.name] > GC.FAIL, g.name
        else:  # sigmoid's first layer sits near the float64 floor of a small gradient: 2e-7
            assert gc.layers[g.name] < (1e-6 if act == "sigmoid" else GC.PASS), g.name
    errs = GC.layer_errors(net, gc)
    assert set(np.flatnonzero(errs > GC.FAIL) + 1) == set(fails)
    # The true gradient is untouched: the demonstration leaves the network as it found it.
    p0 = net.params.copy()
    _, g_true = net.loss_and_grad(*batch)
    M.analytic_grad(net, *batch, mistake, layer)
    np.testing.assert_array_equal(net.params, p0)
    np.testing.assert_array_equal(net.loss_and_grad(*batch)[1], g_true)


def test_the_bias_mistake_is_the_first_examples_output_gradient(batch):
    X, y = batch
    net = nn.mlp([2, 8, 2], activation="tanh", seed=2)
    _, g = M.analytic_grad(net, X, y, M.BIAS_ONE_EXAMPLE, 2)
    _, g1 = net.loss_and_grad(X[:1], y[:1])  # one example's mean loss: its own gradient, B times too large
    b = net.dense[1].b
    np.testing.assert_allclose(g[b.offset: b.offset + b.size], g1[b.offset: b.offset + b.size] / len(X), rtol=1e-12)


def test_why_is_stated_and_impossible_mistakes_are_refused(batch):
    net = nn.mlp([2, 8, 8, 2], activation="tanh", seed=0)
    assert "nearer the input" in M.expected(net, M.NO_DERIVATIVE, 2).why
    assert "stay right" in M.expected(net, M.TRANSPOSED, 2).why
    assert "leaf" in M.expected(net, M.BIAS_ONE_EXAMPLE, 1).why
    with pytest.raises(ValueError, match="square"):
        M.expected(net, M.TRANSPOSED, 3)
    with pytest.raises(ValueError, match="reads the input"):
        M.expected(nn.mlp([8, 8, 2], seed=0), M.TRANSPOSED, 1)
    with pytest.raises(ValueError, match="not followed by an activation"):
        M.expected(net, M.NO_DERIVATIVE, 3)
    with pytest.raises(ValueError, match="identity"):
        M.expected(nn.mlp([2, 8, 2], activation="identity"), M.NO_DERIVATIVE, 1)
    with pytest.raises(ValueError, match="layer must be"):
        M.analytic_grad(net, *batch, M.NO_DERIVATIVE, 0)
    with pytest.raises(ValueError, match="mistake must be"):
        M.analytic_grad(net, *batch, "typo", 1)


def test_a_residual_block_routes_the_wrong_gradient_around(batch):
    # A wrong signal inside a residual block reaches the layers before it through both paths.
    net = nn.build(2, [Dense(8), Activation("tanh"), Residual("tanh"), Dense(2)], seed=3)
    inner = next(i + 1 for i, d in enumerate(net.dense) if d.name.endswith(".dense1"))
    want = M.expected(net, M.NO_DERIVATIVE, inner)
    gc = GC.gradcheck(net, *batch, mistake=M.NO_DERIVATIVE, layer=inner)
    assert want.layers == (1, inner)
    assert {k for k, v in gc.layers.items() if v > GC.FAIL} == set(want.groups)


def test_eps_sweep_reference_lines_meet_at_the_best_step(batch):
    net = nn.mlp([2, 8, 8, 2], activation="tanh", seed=0)
    eps, err = GC.eps_sweep(net, *batch, sample=30)
    trunc, round_ = GC.reference_lines(eps, err)
    k = int(np.argmin(err))
    assert trunc[k] == pytest.approx(err[k]) and round_[k] == pytest.approx(err[k])
    np.testing.assert_allclose(np.diff(np.log10(trunc)), -2.0)  # eps falls a decade a step
    np.testing.assert_allclose(np.diff(np.log10(round_)), 1.0)
    # A broken backward pass floors the sweep at the mistake: no step size rescues it.
    _, bad = GC.eps_sweep(net, *batch, sample=30, mistake=M.NO_DERIVATIVE, layer=1)
    assert bad.min() > GC.FAIL


def test_a_diverged_network_has_no_gradient_check():
    from engine import lab as L
    from engine.nn.network import mlp

    net = mlp([2, 4, 2], seed=0)
    X, y = np.random.default_rng(0).standard_normal((8, 2)), np.arange(8) % 2
    assert L.check_gradients(net, X, y, sweep=False).layer_errors.max() < 1e-6
    net.params[3] = np.nan
    with pytest.raises(ValueError, match="diverged"):
        L.check_gradients(net, X, y, sweep=False)
