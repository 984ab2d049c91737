"""The network's loss landscape: the grid's values are the network's own loss at those weights,
filter-normalised directions keep each filter's norm and leave biases alone, the plane through
three points holds them, and projected paths come back with their distance from the plane."""
from __future__ import annotations

import numpy as np
import pytest

from engine import data as DATA
from engine.nn import landscape as LS
from engine.nn.layers import Activation, BatchNorm, Dense, Dropout
from engine.nn.network import build, mlp


@pytest.fixture(scope="module")
def spirals():
    return DATA.make("two_spirals", n=120, noise=0.1, seed=1)  # (X, y)


def _xy(split):
    return split


def test_grid_values_are_the_networks_loss_at_those_weights(spirals):
    net = mlp([2, 12, 12, 2], activation="tanh", seed=3)
    X, y = _xy(spirals)
    plane = LS.random_plane(net, seed=5)
    alphas, betas = np.linspace(-1, 1, 5), np.linspace(-0.5, 1.5, 4)
    grid = LS.loss_grid(net, X, y, plane, alphas, betas)
    assert grid.shape == (4, 5)
    probe = net.copy()
    for j, b in enumerate(betas):
        for i, a in enumerate(alphas):
            probe.params[:] = plane.at(a, b)
            assert grid[j, i] == pytest.approx(probe.loss_value(X, y), rel=1e-12, abs=1e-14)
    assert grid[2, 2] != grid[0, 0]  # the plane is not flat
    centre = LS.loss_grid(net, X, y, plane, np.zeros(1), np.zeros(1))
    assert centre[0, 0] == pytest.approx(net.loss_value(X, y), rel=1e-13)


def test_test_mode_uses_running_statistics_and_no_dropout(spirals):
    net = build(2, [Dense(10), BatchNorm(), Activation("relu"), Dropout(0.5), Dense(2)], seed=2)
    X, y = _xy(spirals)
    net.running[:] = np.random.default_rng(0).uniform(0.5, 1.5, net.running.shape)
    plane = LS.random_plane(net, seed=1)
    grid = LS.loss_grid(net, X, y, plane, np.array([0.0, 0.3]), np.array([0.2]))
    probe = net.copy()
    probe.params[:] = plane.at(0.3, 0.2)
    assert grid[0, 1] == pytest.approx(probe.evaluate(X, y)[0], rel=1e-12)


def test_filter_normalised_direction_keeps_each_filters_norm_and_zero_biases():
    net = build(3, [Dense(7), Activation("tanh"), Dense(5), BatchNorm(), Activation("relu"), Dense(2)], seed=4)
    d = LS.filter_normalized(net, np.random.default_rng(0))
    touched = np.zeros(net.n_params, dtype=bool)
    for layer in net.dense:
        w = layer.w
        sl = slice(w.offset, w.offset + w.size)
        W, D = net.params[sl].reshape(w.shape), d[sl].reshape(w.shape)
        np.testing.assert_allclose(np.linalg.norm(D, axis=0), np.linalg.norm(W, axis=0), rtol=1e-12)
        assert not np.allclose(D, W)  # a random direction, not the weights
        touched[sl] = True
    assert np.all(d[~touched] == 0)  # biases and batch norm's gamma and beta
    assert touched.sum() < net.n_params


def test_plane_through_three_points_holds_them_with_orthonormal_axes():
    rng = np.random.default_rng(7)
    o, p, q = rng.standard_normal((3, 50))
    plane = LS.plane_through(o, p, q)
    assert plane.d1 @ plane.d1 == pytest.approx(1) and plane.d2 @ plane.d2 == pytest.approx(1)
    assert abs(plane.d1 @ plane.d2) < 1e-12
    xy, dist = plane.project(np.stack([o, p, q]))
    np.testing.assert_allclose(dist, 0, atol=1e-12)
    np.testing.assert_allclose(xy[0], 0, atol=1e-12)
    assert xy[1, 0] == pytest.approx(np.linalg.norm(p - o)) and abs(xy[1, 1]) < 1e-12
    np.testing.assert_allclose(plane.at(*xy[2]), q, atol=1e-12)
    off = q + 0.25 * np.linalg.svd(np.stack([plane.d1, plane.d2]), full_matrices=True)[2][5]
    assert plane.project(off)[1][0] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="one line"):
        LS.plane_through(o, p, o + 2 * (p - o))


def test_random_plane_projects_its_own_points_back():
    net = mlp([2, 8, 2], seed=0)
    plane = LS.random_plane(net, seed=3)
    xy, dist = plane.project(np.stack([plane.at(0.5, -0.25), plane.origin]))
    np.testing.assert_allclose(xy, [[0.5, -0.25], [0, 0]], atol=1e-10)
    np.testing.assert_allclose(dist, 0, atol=1e-10)
