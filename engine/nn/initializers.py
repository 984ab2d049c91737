"""The weight-initializer registry.  Every initializer fills a fan_in x fan_out matrix from a
seeded numpy generator, so a network built twice with one seed has identical weights."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..optim.registry import Registry


@dataclass(frozen=True)
class InitSpec:
    id: str
    name: str
    formula: str
    citation: str
    draw: Callable[[np.random.Generator, int, int, float], np.ndarray]
    scale: float | None = None  # the free parameter of uniform (a) and normal (sigma)


def _uniform(rng, fi, fo, a):
    return rng.uniform(-a, a, size=(fi, fo))


def _normal(rng, fi, fo, s):
    return rng.normal(0.0, s, size=(fi, fo))


def _orthogonal(rng, fi, fo, _):
    # The SVD of a Gaussian matrix: U V^T is the nearest (semi-)orthogonal matrix, so the
    # smaller of W^T W and W W^T is the identity.
    u, _s, vt = np.linalg.svd(rng.normal(size=(fi, fo)), full_matrices=False)
    return u @ vt


def _identity(rng, fi, fo, _):
    if fi != fo:
        raise ValueError(f"init 'identity' needs a square layer, got fan_in {fi} x fan_out {fo}; "
                         "use it only where a layer keeps its width")
    return np.eye(fi)


INITIALIZERS = Registry("initializer", [
    InitSpec("uniform", "Uniform", "W ~ U(-a, a)", "", _uniform, scale=0.05),
    InitSpec("normal", "Gaussian", "W ~ N(0, sigma^2)", "", _normal, scale=0.01),
    InitSpec("glorot_uniform", "Glorot uniform", "W ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out))",
             "Glorot & Bengio 2010", lambda r, i, o, _: _uniform(r, i, o, np.sqrt(6.0 / (i + o)))),
    InitSpec("glorot_normal", "Glorot normal", "W ~ N(0, 2 / (fan_in + fan_out))",
             "Glorot & Bengio 2010", lambda r, i, o, _: _normal(r, i, o, np.sqrt(2.0 / (i + o)))),
    InitSpec("he_uniform", "He uniform", "W ~ U(-a, a), a = sqrt(6 / fan_in)",
             "He et al. 2015", lambda r, i, o, _: _uniform(r, i, o, np.sqrt(6.0 / i))),
    InitSpec("he_normal", "He normal", "W ~ N(0, 2 / fan_in)",
             "He et al. 2015", lambda r, i, o, _: _normal(r, i, o, np.sqrt(2.0 / i))),
    InitSpec("lecun_normal", "LeCun normal", "W ~ N(0, 1 / fan_in)",
             "LeCun et al. 1998", lambda r, i, o, _: _normal(r, i, o, np.sqrt(1.0 / i))),
    InitSpec("orthogonal", "Orthogonal", "W = U V^T from the SVD of a Gaussian matrix",
             "Saxe, McClelland & Ganguli 2014", _orthogonal),
    InitSpec("identity", "Identity", "W = I (square layers only)", "Le, Jaitly & Hinton 2015", _identity),
    InitSpec("zeros", "Zeros", "W = 0: every unit of a layer stays identical (the symmetry problem)", "",
             lambda r, i, o, _: np.zeros((i, o))),
])
get = INITIALIZERS.get
names = INITIALIZERS.ids


def draw(id: str, rng: np.random.Generator, fan_in: int, fan_out: int, scale: float | None = None) -> np.ndarray:
    """A fan_in x fan_out weight matrix; ``scale`` overrides a and sigma of uniform/normal."""
    s = get(id)
    if scale is not None and s.scale is None:
        raise ValueError(f"init {id!r} has no scale to set (only uniform and normal do)")
    sc = s.scale if scale is None else float(scale)
    if sc is not None and not (0.0 < sc <= 100.0):
        raise ValueError(f"init {id!r}: scale={sc} is outside its valid range (0, 100]")
    return np.ascontiguousarray(s.draw(rng, int(fan_in), int(fan_out), sc), dtype=np.float64)
