"""numba kernels of what both races do around an optimizer step: the learning-rate schedule,
seeded gradient noise and gradient clipping (the specs are in schedules.py and gradients.py)."""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .counter_rng import mix64, step_key

JIT = dict(cache=True, nogil=True)

# Schedule kinds: a schedule row is (kind, warmup steps, the kind's parameters...).
CONSTANT, STEP, EXPONENTIAL, COSINE = 0, 1, 2, 3
SCHED_KIND, SCHED_WARMUP, SCHED_P0, SCHED_P1 = 0, 1, 2, 3
SCHED_COLS = 4
# Clipping modes: a clipping row is (mode, threshold).
NO_CLIP, CLIP_NORM, CLIP_VALUE = 0, 1, 2
CLIP_COLS = 2
# torch.nn.utils.clip_grad_norm_ scales by max_norm / (norm + 1e-6), not max_norm / norm.
NORM_EPS = 1e-6


@njit(**JIT)
def gauss(seed, t, i):
    """Standard normal keyed by (seed, step, coordinate); identical on recomputation."""
    key = mix64(step_key(seed, t) + np.uint64(2 * i + 1))
    u1 = ((key >> np.uint64(11)) + np.uint64(1)) * (1.0 / 9007199254740993.0)
    key2 = mix64(key + np.uint64(0x632BE59BD9B4E019))
    u2 = (key2 >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(inline="always", **JIT)
def is_scheduled(sched):
    """False for a constant learning rate without warm-up: the driver then skips lr_factor."""
    return sched[SCHED_KIND] != CONSTANT or sched[SCHED_WARMUP] > 0


@njit(**JIT)
def lr_factor(sched, t):
    """Multiplier of the base learning rate at 1-based step t (the parameters are validated
    by schedules.Schedule: every >= 1, warmup >= 0)."""
    kind = int(sched[SCHED_KIND])
    p0, p1, warm = sched[SCHED_P0], sched[SCHED_P1], sched[SCHED_WARMUP]
    f = 1.0
    if kind == STEP:  # multiply by gamma (p0) every p1 steps
        f = p0 ** math.floor((t - 1) / p1)
    elif kind == EXPONENTIAL:  # multiply by gamma (p0) every step
        f = p0 ** (t - 1)
    elif kind == COSINE:  # from 1 down to the floor (p1) over p0 steps, then stay there
        frac = min(t - 1, p0) / p0
        f = p1 + (1.0 - p1) * 0.5 * (1.0 + math.cos(math.pi * frac))
    if warm > 0 and t <= warm:
        f *= t / warm
    return f


@njit(inline="always", **JIT)
def clip_gradient(a, b, mode, c):
    """The 2-D gradient (a, b) clipped by norm or by value to c, in torch's arithmetic (the
    step inspector calls it too)."""
    if mode == CLIP_NORM:
        coef = c / (math.sqrt(a * a + b * b) + NORM_EPS)
        if coef < 1.0:  # torch multiplies by min(coef, 1): by exactly 1 changes nothing
            a *= coef
            b *= coef
    elif mode == CLIP_VALUE:
        a = min(max(a, -c), c)
        b = min(max(b, -c), c)
    return a, b


# Reassociation lets LLVM vectorise the sum of squares (never nnan/ninf: a NaN must stay
# visible); torch sums in its own order too, so only the last bits can differ.
@njit(fastmath={"reassoc", "contract"}, **JIT)
def _sum_squares(g):
    s = 0.0
    for i in range(g.shape[0]):
        s += g[i] * g[i]
    return s


@njit(**JIT)
def perturb_and_clip(g, noise, seed, t, clip):
    """The gradient a network's optimizer sees, in place: ``noise`` x gauss(seed, t, i) added
    to component i, then clipped as ``clip`` says, over the whole vector (torch's
    clip_grad_norm_ / clip_grad_value_ over all parameters).  Returns False when the gradient
    held a NaN or inf before: clipping by value would hide it."""
    n = g.shape[0]
    bad = 0
    for i in range(n):
        bad += not abs(g[i]) < np.inf
    if noise > 0.0:
        for i in range(n):
            g[i] += noise * gauss(seed, t, i)
    mode, c = clip[0], clip[1]
    if mode == CLIP_NORM:
        coef = c / (math.sqrt(_sum_squares(g)) + NORM_EPS)
        if coef < 1.0:
            for i in range(n):
                g[i] *= coef
    elif mode == CLIP_VALUE:
        for i in range(n):
            g[i] = min(max(g[i], -c), c)
    return bad == 0
