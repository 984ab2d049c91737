"""Data sets: shapes, labels, seeding, noise, split and standardisation."""
import numpy as np
import pytest

from engine import data


@pytest.mark.parametrize("id", data.names())
def test_every_data_set_has_its_declared_shape(id):
    s = data.spec(id)
    X, y = data.make(id, seed=1)
    assert X.shape == (s.n, s.input_dim) and X.dtype == np.float64 and np.all(np.isfinite(X))
    assert y.shape == (s.n,)
    if s.kind == "classification":
        assert y.dtype == np.int64 and set(np.unique(y)) == set(range(s.n_classes))
        counts = np.bincount(y)
        assert counts.min() >= 0.5 * counts.max() or id == "digits" and counts.min() > 170
    else:
        assert y.dtype == np.float64


@pytest.mark.parametrize("id", [i for i in data.names() if not data.spec(i).fixed_size])
def test_seeded_reproducible_and_noise_changes_points(id):
    a = data.make(id, n=200, seed=3)
    b = data.make(id, n=200, seed=3)
    c = data.make(id, n=200, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    part = 1 if data.spec(id).kind == "regression" else 0  # the sine's noise is on y
    clean = data.make(id, n=200, noise=0.0, seed=3)[part]
    noisy = data.make(id, n=200, noise=0.3, seed=3)[part]
    assert np.std(noisy - clean) > 0.1


def test_clean_toys_follow_their_rule():
    X, y = data.make("xor", n=500, noise=0.0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))
    X, y = data.make("circles", n=500, noise=0.0)
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]), np.where(y == 0, 1.0, 0.5))
    X, y = data.make("checkerboard", n=500, noise=0.0)
    np.testing.assert_array_equal(y, (np.floor(X[:, 0]) + np.floor(X[:, 1])) % 2)
    X, y = data.make("sine", n=300, noise=0.0)
    np.testing.assert_allclose(y, np.sin(X[:, 0]))
    X, y = data.make("two_spirals", n=400, noise=0.0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.max() <= 1.0 + 1e-12
    # On each arm the angle grows with the radius by 1.75 turns; the second arm is rotated by pi.
    ang = np.arctan2(X[:, 1], X[:, 0]) - 1.75 * 2 * np.pi * r - np.pi * y
    np.testing.assert_allclose(np.cos(ang), 1.0, atol=1e-9)


def test_digits_come_from_the_package():
    X, y = data.make("digits")
    assert X.shape == (1797, 64) and X.min() == 0.0 and X.max() == 1.0
    with pytest.raises(ValueError, match="fixed size of 1797"):
        data.make("digits", n=100)


def test_split_and_standardisation():
    s = data.load("moons", n=500, seed=2, val_fraction=0.2)
    assert s.X_train.shape == (400, 2) and s.X_val.shape == (100, 2)
    np.testing.assert_allclose(s.X_train.mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(s.X_train.std(0), 1.0, rtol=1e-12)
    X, y = data.make("moons", n=500, seed=2)
    # The split is a permutation of the raw points, scaled with the training statistics.
    back = np.concatenate([s.X_train, s.X_val]) * s.std + s.mean
    order = np.lexsort(back.T)
    np.testing.assert_allclose(back[order], X[np.lexsort(X.T)], atol=1e-12)
    assert np.array_equal(np.sort(np.concatenate([s.y_train, s.y_val])), np.sort(y))
    again = data.load("moons", n=500, seed=2)
    np.testing.assert_array_equal(again.X_val, s.X_val)
    d = data.load("digits")
    assert np.all(d.std > 0) and np.all(np.isfinite(d.X_train))


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="unknown data set 'spiral'"):
        data.make("spiral")
    with pytest.raises(ValueError, match=r"noise=5.0 is outside its valid range \[0, 2.0\]"):
        data.make("moons", noise=5.0)
    with pytest.raises(ValueError, match=r"n must be an integer in \[4, 1000000\]"):
        data.make("moons", n=2)
    with pytest.raises(ValueError, match=r"val_fraction must be in \(0, 1\)"):
        data.load("moons", val_fraction=1.0)
