"""Initializers: variances on large layers, orthogonality, identity, zeros, reproducibility."""
import numpy as np
import pytest

from engine import nn
from engine.nn import Dense, initializers


def draw(id, fi, fo, seed=0, scale=None):
    return initializers.draw(id, np.random.default_rng(seed), fi, fo, scale)


@pytest.mark.parametrize("id, fi, fo, var", [
    ("glorot_uniform", 400, 600, 2.0 / 1000),
    ("glorot_normal", 400, 600, 2.0 / 1000),
    ("he_uniform", 500, 300, 2.0 / 500),
    ("he_normal", 500, 300, 2.0 / 500),
    ("lecun_normal", 500, 300, 1.0 / 500),
    ("uniform", 300, 300, 0.05**2 / 3),
    ("normal", 300, 300, 0.01**2),
])
def test_variance_on_large_layers(id, fi, fo, var):
    W = draw(id, fi, fo)
    assert W.shape == (fi, fo)
    # 1.2e5+ samples: the sample variance is within 2% of the target (about 4 standard errors).
    assert abs(W.var() / var - 1) < 0.02
    assert abs(W.mean()) < 4 * np.sqrt(var / W.size)


def test_uniform_bounds():
    a = np.sqrt(6.0 / (30 + 50))
    W = draw("glorot_uniform", 30, 50)
    assert np.all(np.abs(W) <= a) and np.abs(W).max() > 0.95 * a


@pytest.mark.parametrize("fi, fo", [(2, 64), (64, 2), (32, 32), (10, 7)])
def test_orthogonal_smaller_gram_is_identity(fi, fo):
    W = draw("orthogonal", fi, fo, seed=3)
    small = W.T @ W if fo <= fi else W @ W.T
    np.testing.assert_allclose(small, np.eye(min(fi, fo)), atol=1e-12)
    assert np.linalg.matrix_rank(W) == min(fi, fo)
    if fi != fo:  # the larger Gram matrix is a projection of rank min(fi, fo), not the identity
        big = W @ W.T if fo <= fi else W.T @ W
        assert abs(np.trace(big) - min(fi, fo)) < 1e-10 and not np.allclose(big, np.eye(max(fi, fo)))


def test_identity_init_square_only():
    np.testing.assert_array_equal(draw("identity", 5, 5), np.eye(5))
    with pytest.raises(ValueError, match="identity.*square.*fan_in 2 x fan_out 64"):
        draw("identity", 2, 64)
    with pytest.raises(ValueError, match="dense1.*square"):
        nn.mlp([2, 8, 2], init="identity")
    net = nn.build(4, [Dense(4, init="identity"), "relu", Dense(2, init="glorot_uniform")], init="identity")
    np.testing.assert_array_equal(net.layer_params()[0][0], np.eye(4))


def test_zeros_init_keeps_units_identical():
    # The symmetry problem: with all weights zero every hidden unit gets the same gradient.
    net = nn.mlp([2, 6, 6, 3], activation="tanh", init="zeros")
    X = np.random.default_rng(0).normal(size=(32, 2))
    y = np.arange(32) % 3
    _, g = net.loss_and_grad(X, y)
    net.params[:] = net.params - 0.5 * g
    net.params[:] += 0.0
    _, g = net.loss_and_grad(X, y)
    W2 = g[net.dense[1].w.offset: net.dense[1].w.offset + 36].reshape(6, 6)
    assert np.allclose(W2, W2[:, :1]) and np.allclose(W2, W2[:1, :])


def test_seeded_and_reproducible():
    a = nn.mlp([2, 16, 16, 2], init="he_normal", seed=5)
    b = nn.mlp([2, 16, 16, 2], init="he_normal", seed=5)
    c = nn.mlp([2, 16, 16, 2], init="he_normal", seed=6)
    np.testing.assert_array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)


def test_scale_only_for_uniform_and_normal():
    assert np.abs(draw("uniform", 100, 100, scale=0.5)).max() > 0.45
    with pytest.raises(ValueError, match="no scale"):
        draw("he_normal", 3, 3, scale=0.5)
    with pytest.raises(ValueError, match="scale=0.0 is outside"):
        draw("normal", 3, 3, scale=0.0)
    with pytest.raises(ValueError, match="unknown initializer 'xavier'"):
        nn.mlp([2, 3, 2], init="xavier")
