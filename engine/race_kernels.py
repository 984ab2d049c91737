"""The race driver kernel: k steps of R racers on one surface, steps outside, racers inside.

Everything a racer needs arrives as arrays (optimizer family codes, packed hyperparameters,
schedules, clipping), so changing a setting never compiles a new specialisation.  Divergence
is data: a racer whose point, value or gradient stops being finite is frozen at its last
finite point and marked diverged at that step.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .optimizer_kernels import NEWTON
from .optimizer_kernels import step as opt_step
from .surface_kernels import fgh

JIT = dict(cache=True, nogil=True)

RACING, FINISHED, CONVERGED, ESCAPED, DIVERGED = 0, 1, 2, 3, 4
# Schedule kinds: sched[r] = (kind, a, b, warmup_steps).
CONSTANT, STEP, EXPONENTIAL, COSINE = 0, 1, 2, 3
# Clipping: clip[r] = (mode, threshold).
NO_CLIP, CLIP_NORM, CLIP_VALUE = 0, 1, 2
OVERFLOW = 1e150  # a coordinate beyond this counts as overflow, before inf arrives


@njit(inline="always", **JIT)
def _mix64(z):
    # splitmix64 finaliser: a counter-based generator, so noise is a pure function of its key.
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(**JIT)
def gauss(seed, t, i):
    """Standard normal keyed by (seed, step, coordinate); identical on recomputation."""
    key = _mix64(np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(t))
    key = _mix64(key + np.uint64(2 * i + 1))
    u1 = ((key >> np.uint64(11)) + np.uint64(1)) * (1.0 / 9007199254740993.0)
    key2 = _mix64(key + np.uint64(0x632BE59BD9B4E019))
    u2 = (key2 >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(**JIT)
def lr_factor(sched, t):
    """Multiplier of the base learning rate at 1-based step t."""
    kind = int(sched[0])
    a, b, warm = sched[1], sched[2], sched[3]
    f = 1.0
    if kind == STEP:  # multiply by a every b steps
        f = a ** math.floor((t - 1) / max(b, 1.0))
    elif kind == EXPONENTIAL:  # multiply by a every step
        f = a ** (t - 1)
    elif kind == COSINE:  # from 1 down to a over b steps, then stay at a
        frac = min(t - 1, b) / max(b, 1.0)
        f = a + (1.0 - a) * 0.5 * (1.0 + math.cos(math.pi * frac))
    if warm > 0 and t <= warm:
        f *= t / warm
    return f


@njit(**JIT)
def _finite2(a, b):
    return math.isfinite(a) and math.isfinite(b) and abs(a) < OVERFLOW and abs(b) < OVERFLOW


@njit(**JIT)
def advance(code, sp, fam, hyper, sched, clip, noise, seed, X, G, F, state, t0, k,
            status, status_step, minima, fin_tol, conv_tol, box, record, pos_out, loss_out, gn_out):
    """Run steps t0+1 .. t0+k.  X, G, F (point, true gradient, value) and state are updated in
    place; when ``record`` the point, value and gradient norm after each step go to the outputs
    (R, k, 2), (R, k), (R, k)."""
    R = X.shape[0]
    gn = np.empty(2)
    H = np.zeros((2, 2))
    xnew = np.empty(2)
    scratch = np.empty(2)
    hyp = np.empty(hyper.shape[1])
    fin2 = fin_tol * fin_tol
    for s in range(k):
        t = t0 + s + 1
        for r in range(R):
            if status[r] == RACING:
                f_r = fam[r]
                # The gradient the optimizer sees: true gradient + seeded noise, then clipped.
                gn[0] = G[r, 0]
                gn[1] = G[r, 1]
                if noise > 0.0:
                    gn[0] += noise * gauss(seed, t, 0)
                    gn[1] += noise * gauss(seed, t, 1)
                cm = clip[r, 0]
                if cm == CLIP_NORM:
                    nrm = math.sqrt(gn[0] * gn[0] + gn[1] * gn[1])
                    if nrm > clip[r, 1]:
                        sc = clip[r, 1] / nrm
                        gn[0] *= sc
                        gn[1] *= sc
                elif cm == CLIP_VALUE:
                    c = clip[r, 1]
                    gn[0] = min(max(gn[0], -c), c)
                    gn[1] = min(max(gn[1], -c), c)
                for j in range(hyp.shape[0]):
                    hyp[j] = hyper[r, j]
                if sched[r, 0] != CONSTANT or sched[r, 3] > 0:
                    hyp[0] = hyper[r, 0] * lr_factor(sched[r], t)
                if f_r == NEWTON:  # the only racer that needs the Hessian at its point
                    fgh(code, X[r, 0], X[r, 1], sp, scratch, H, True)
                opt_step(f_r, X[r], gn, H, state[r], hyp, t, xnew)
                ok = _finite2(xnew[0], xnew[1])
                if ok:
                    fv = fgh(code, xnew[0], xnew[1], sp, gn, H, False)
                    ok = math.isfinite(fv) and _finite2(gn[0], gn[1])
                if not ok:
                    status[r] = DIVERGED
                    status_step[r] = t
                else:
                    X[r, 0] = xnew[0]
                    X[r, 1] = xnew[1]
                    G[r, 0] = gn[0]
                    G[r, 1] = gn[1]
                    F[r] = fv
                    best = np.inf
                    for m in range(minima.shape[0]):
                        dx = xnew[0] - minima[m, 0]
                        dy = xnew[1] - minima[m, 1]
                        best = min(best, dx * dx + dy * dy)
                    if best <= fin2:
                        status[r] = FINISHED
                        status_step[r] = t
                    elif math.sqrt(gn[0] * gn[0] + gn[1] * gn[1]) <= conv_tol:
                        status[r] = CONVERGED
                        status_step[r] = t
                    elif xnew[0] < box[0] or xnew[0] > box[1] or xnew[1] < box[2] or xnew[1] > box[3]:
                        status[r] = ESCAPED
                        status_step[r] = t
            if record:
                pos_out[r, s, 0] = X[r, 0]
                pos_out[r, s, 1] = X[r, 1]
                loss_out[r, s] = F[r]
                gn_out[r, s] = math.sqrt(G[r, 0] * G[r, 0] + G[r, 1] * G[r, 1])


@njit(parallel=True, cache=True)
def advance_parallel(code, sp, fam, hyper, sched, clip, noise, seed, X, G, F, state, t0, k,
                     status, status_step, minima, fin_tol, conv_tol, box, record, pos_out, loss_out, gn_out):
    """:func:`advance` with the racers split into blocks, one per thread (many racers)."""
    R = X.shape[0]
    nb = min(R, 64)
    for b in prange(nb):
        lo = b * R // nb
        hi = (b + 1) * R // nb
        advance(code, sp, fam[lo:hi], hyper[lo:hi], sched[lo:hi], clip[lo:hi], noise, seed,
                X[lo:hi], G[lo:hi], F[lo:hi], state[lo:hi], t0, k, status[lo:hi], status_step[lo:hi],
                minima, fin_tol, conv_tol, box, record, pos_out[lo:hi], loss_out[lo:hi], gn_out[lo:hi])
