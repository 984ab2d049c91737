"""Counter-based random numbers: every draw is a pure function of (seed, step, index), so a
step recomputed from a checkpoint draws the same bits (splitmix64's finaliser as the mixer)."""
from __future__ import annotations

import numpy as np
from numba import njit

JIT = dict(cache=True, nogil=True)


@njit(inline="always", **JIT)
def mix64(z):
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(inline="always", **JIT)
def step_key(seed, t):
    """Key of everything drawn at step ``t`` of the stream ``seed``."""
    return mix64(np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(t))
