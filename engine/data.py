"""Data sets for the network lab: 2-D toys with a noise level, a 1-D regression and the 8x8
digits; seeded generation, a seeded train/validation split and standardisation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .optim.registry import Registry


@dataclass(frozen=True)
class DataSpec:
    id: str
    name: str
    kind: str  # "classification" or "regression"
    input_dim: int
    n_classes: int  # 0 for regression
    make: Callable[[np.random.Generator, int, float, int], tuple[np.ndarray, np.ndarray]]
    n: int = 1000  # default number of points
    noise: float = 0.1  # default noise level
    max_noise: float = 2.0
    caption: str = ""
    fixed_size: bool = False  # digits: n and noise do not apply


@dataclass(frozen=True)
class Split:
    """Standardised train and validation parts (inputs scaled with the training mean and std)."""

    id: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    kind: str
    n_classes: int

    @property
    def input_dim(self) -> int:
        return self.X_train.shape[1]


def _spirals(rng, n, noise, classes):
    # Arms of 1.75 turns growing from the centre to radius 1, one per class, rotated evenly.
    per = np.full(classes, n // classes)
    per[: n % classes] += 1
    X, y = [], []
    for c in range(classes):
        t = np.sqrt(rng.uniform(0.0, 1.0, per[c]))  # uniform density along the area
        ang = 1.75 * 2 * np.pi * t + 2 * np.pi * c / classes
        pts = np.stack([t * np.cos(ang), t * np.sin(ang)], axis=1)
        X.append(pts + noise * rng.normal(size=pts.shape))
        y.append(np.full(per[c], c))
    return np.concatenate(X), np.concatenate(y)


def _moons(rng, n, noise, _):
    n0 = (n + 1) // 2
    a0 = rng.uniform(0.0, np.pi, n0)
    a1 = rng.uniform(0.0, np.pi, n - n0)
    X = np.concatenate([np.stack([np.cos(a0), np.sin(a0)], 1), np.stack([1 - np.cos(a1), 0.5 - np.sin(a1)], 1)])
    y = np.concatenate([np.zeros(n0, int), np.ones(n - n0, int)])
    return X + noise * rng.normal(size=X.shape), y


def _circles(rng, n, noise, _):
    n0 = (n + 1) // 2
    a = rng.uniform(0.0, 2 * np.pi, n)
    r = np.concatenate([np.ones(n0), np.full(n - n0, 0.5)])
    X = np.stack([r * np.cos(a), r * np.sin(a)], 1)
    y = np.concatenate([np.zeros(n0, int), np.ones(n - n0, int)])
    return X + noise * rng.normal(size=X.shape), y


def _xor(rng, n, noise, _):
    X = rng.uniform(-1.0, 1.0, (n, 2))
    y = ((X[:, 0] > 0) != (X[:, 1] > 0)).astype(int)
    return X + noise * rng.normal(size=X.shape), y


def _blobs(rng, n, noise, classes):
    # Centres evenly on a circle of radius 1; noise is each blob's standard deviation.
    y = np.arange(n) % classes
    ang = 2 * np.pi * y / classes
    X = np.stack([np.cos(ang), np.sin(ang)], 1)
    return X + noise * rng.normal(size=X.shape), y


def _checkerboard(rng, n, noise, _):
    # A 4 x 4 board on [-2, 2]^2; the label is the colour of the square before noise.
    X = rng.uniform(-2.0, 2.0, (n, 2))
    y = ((np.floor(X[:, 0]) + np.floor(X[:, 1])) % 2).astype(int)
    return X + noise * rng.normal(size=X.shape), y


def _sine(rng, n, noise, _):
    x = rng.uniform(-np.pi, np.pi, n)
    return x.reshape(-1, 1), np.sin(x) + noise * rng.normal(size=n)


def _digits(rng, n, noise, _):
    # scikit-learn ships the 1,797 8x8 images (0..16) inside its package: no download.
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.data.astype(np.float64) / 16.0, d.target.astype(int)


DATA_SETS = Registry("data set", [
    DataSpec("two_spirals", "Two spirals", "classification", 2, 2, _spirals,
             noise=0.05, caption="Two interleaved arms: needs a deep enough network."),
    DataSpec("moons", "Moons", "classification", 2, 2, _moons,
             caption="Two interleaving half circles."),
    DataSpec("circles", "Circles", "classification", 2, 2, _circles,
             caption="A ring around a disc: not linearly separable."),
    DataSpec("xor", "XOR", "classification", 2, 2, _xor,
             caption="Opposite quadrants share a class: the classic problem a perceptron cannot solve."),
    DataSpec("blobs", "Gaussian blobs", "classification", 2, 3, _blobs,
             noise=0.3, caption="Three Gaussian clouds."),
    DataSpec("checkerboard", "Checkerboard", "classification", 2, 2, _checkerboard,
             noise=0.02, caption="A 4 x 4 board: many small decision regions."),
    DataSpec("sine", "Noisy sine", "regression", 1, 0, _sine, n=200,
             caption="y = sin(x) + noise on [-pi, pi]."),
    DataSpec("digits", "Digits 8x8", "classification", 64, 10, _digits, n=1797,
             noise=0.0, max_noise=0.0, fixed_size=True,
             caption="1,797 handwritten digits as 8x8 images (scikit-learn's copy of the UCI set)."),
])
spec = DATA_SETS.get
names = DATA_SETS.ids
MAX_POINTS = 1_000_000


def make(id: str, n: int | None = None, noise: float | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw (X, y): X (n, d) float64; y class indices (int64) or regression targets (float64)."""
    s = spec(id)
    if s.fixed_size and n is not None and n != s.n:
        raise ValueError(f"data set {id!r} has a fixed size of {s.n} points, got n={n}")
    n = s.n if n is None else n
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 4 <= n <= MAX_POINTS:
        raise ValueError(f"{id}: n must be an integer in [4, {MAX_POINTS}], got {n!r}")
    noise = s.noise if noise is None else float(noise)
    if not 0.0 <= noise <= s.max_noise:
        raise ValueError(f"{id}: noise={noise} is outside its valid range [0, {s.max_noise}]")
    X, y = s.make(np.random.default_rng(seed), int(n), noise, s.n_classes)
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.int64 if s.kind == "classification" else np.float64)
    return X, y


def split(X: np.ndarray, y: np.ndarray, val_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, ...]:
    """A seeded random split: (X_train, y_train, X_val, y_val)."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n = X.shape[0]
    n_val = int(round(n * val_fraction))
    if not 1 <= n_val <= n - 1:
        raise ValueError(f"val_fraction={val_fraction} leaves no training or no validation point of {n}")
    perm = np.random.default_rng(seed).permutation(n)
    v, t = perm[:n_val], perm[n_val:]
    return X[t], y[t], X[v], y[v]


def standardize(X_train: np.ndarray, *others: np.ndarray):
    """Scale every column to zero mean and unit std on the training part; constant columns
    (the digits' blank border pixels) keep std 1.  Returns (mean, std, X_train', *others')."""
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (mean, std, (X_train - mean) / std, *((o - mean) / std for o in others))


def load(id: str, n: int | None = None, noise: float | None = None, seed: int = 0, val_fraction: float = 0.2,
         standardise: bool = True) -> Split:
    """Generate, split (seeded by ``seed``) and standardise a data set."""
    X, y = make(id, n, noise, seed)
    Xt, yt, Xv, yv = split(X, y, val_fraction, seed)
    if standardise:
        mean, std, Xt, Xv = standardize(Xt, Xv)
    else:
        mean, std = np.zeros(X.shape[1]), np.ones(X.shape[1])
    s = spec(id)
    Xt, yt, Xv, yv = (np.ascontiguousarray(a) for a in (Xt, yt, Xv, yv))
    return Split(id, Xt, yt, Xv, yv, mean, std, s.kind, s.n_classes)
