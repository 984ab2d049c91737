"""The race driver kernels: k steps of R racers on one surface, one compiled kernel for every
optimizer, surface, schedule and clipping setting (all arrive as arrays or integer codes).

Racers with identical settings next to each other form a *group* that is stepped as one flat
vector of 2m coordinates, so the optimizer's per-step scalars (bias corrections, schedule)
are computed once per group and its per-coordinate loop runs over all m racers: the blocked
layout, racers inside.  Divergence is data: a racer whose point, value or gradient stops being
finite is frozen at its last finite point and marked diverged at that step.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..surfaces import kernels as SK
from ..optim.kernels import NEWTON, _newton
from ..optim.kernels import step as opt_step
from .status import Status
from .step_kernels import NO_CLIP, clip_gradient, gauss, is_scheduled, lr_factor
from ..surfaces.kernels import fgh

JIT = dict(cache=True, nogil=True)

OVERFLOW = 1e150  # a coordinate beyond this counts as overflow, before inf arrives
# What a chunk records: nothing, positions (values derivable by evaluate), or also the value
# and gradient norm.  Recording costs memory bandwidth: for many racers, the bytes written.
RECORD_NONE, RECORD_POSITIONS, RECORD_ALL = 0, 1, 2


@njit(_nrt=False, **JIT)
def _surface_batch(code, p, xs, n, gout, fout, gs, H, want_h):
    """f and gradient at the n/2 points xs[0:n] (x, y interleaved) into fout and gout (and,
    when ``want_h``, the Hessian at the last point into H).

    The same arithmetic as :func:`engine.surfaces.kernels.fgh`, but dispatched once per batch: a call
    per point through fgh's switch is not inlined and, with the reference counting of its array
    arguments, costs ~35 ns, while one loop per surface lets the compiler inline the surface
    (~2 ns for Rosenbrock).  Surfaces missing from this table still work through fgh, slower.
    (Not inlined into the race loop on purpose: that made the loop several times slower.)
    """
    if code == SK.ROSENBROCK:
        for i in range(0, n, 2):
            fout[i // 2] = SK._rosenbrock(xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]
    elif code == SK.BEALE:
        for i in range(0, n, 2):
            fout[i // 2] = SK._beale(xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]
    elif code == SK.BOOTH:
        for i in range(0, n, 2):
            fout[i // 2] = SK._booth(xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]
    elif code == SK.HIMMELBLAU:
        for i in range(0, n, 2):
            fout[i // 2] = SK._himmelblau(xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]
    elif code == SK.RASTRIGIN:
        for i in range(0, n, 2):
            fout[i // 2] = SK._rastrigin(xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]
    elif code == SK.ACKLEY:
        for i in range(0, n, 2):
            fout[i // 2] = SK._ackley(xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]
    elif code == SK.GOLDSTEIN_PRICE:
        for i in range(0, n, 2):
            fout[i // 2] = SK._goldstein_price(xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]
    elif code == SK.SIX_HUMP_CAMEL:
        for i in range(0, n, 2):
            fout[i // 2] = SK._six_hump_camel(xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]
    elif code == SK.STYBLINSKI_TANG:
        for i in range(0, n, 2):
            fout[i // 2] = SK._styblinski_tang(xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]
    elif code == SK.SADDLE:
        for i in range(0, n, 2):
            fout[i // 2] = SK._saddle(xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]
    elif code == SK.MONKEY_SADDLE:
        for i in range(0, n, 2):
            fout[i // 2] = SK._monkey_saddle(xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]
    elif code == SK.QUADRATIC:
        for i in range(0, n, 2):
            fout[i // 2] = SK._quadratic(xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]
    elif code == SK.CLIFF:
        for i in range(0, n, 2):
            fout[i // 2] = SK._cliff(xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]
    elif code == SK.MATYAS:
        for i in range(0, n, 2):
            fout[i // 2] = SK._matyas(xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]
    else:
        for i in range(0, n, 2):
            fout[i // 2] = fgh(code, xs[i], xs[i + 1], p, gs, H, want_h)
            gout[i], gout[i + 1] = gs[0], gs[1]


@njit(**JIT)
def _run_group(g, code, sp, fam, lo, hi, hyper, sched, clip, noise, seed, X, G, F, state, t0, k,
               status, status_step, minima, fin_tol, conv_tol, box, check, record, col, pos, loss, gn):
    """Steps t0+1 .. t0+k of group g (racers lo..hi-1).  X, G, F are the flat (2R,) point and
    true gradient and the (R,) value; ``state`` is the group's (slots, 2m) block."""
    m = hi - lo
    n = 2 * m
    _steps(g, code, sp, fam, lo, hi, hyper, sched, clip, noise, seed, X, G, F, state, t0, k, status,
           status_step, minima, fin_tol, conv_tol, box, check, record, col, pos, loss, gn,
           np.empty(n), np.empty(n), np.empty(n), np.empty(m), np.empty(2), np.zeros((2, 2)), hyper[g].copy())


# Without reference counting (_nrt=False): this loop only makes views of arrays its caller
# owns, and numba otherwise increments and decrements the count of every array argument of
# every call inside it, atomically; that cost several times the arithmetic of a step.
@njit(_nrt=False, **JIT)
def _steps(g, code, sp, fam, lo, hi, hyper, sched, clip, noise, seed, X, G, F, state, t0, k, status,
           status_step, minima, fin_tol, conv_tol, box, check, record, col, pos, loss, gn,
           gv, xnew, gnew, fnew, gs, H, hyp):
    """The loop of :func:`_run_group` with its scratch arrays: gv the gradient the optimizer
    sees (noisy, clipped), xnew/gnew/fnew the proposed points, their gradients and values,
    hyp the hyperparameters with the scheduled lr."""
    m = hi - lo
    n = 2 * m
    x = X[2 * lo:2 * hi]
    grad = G[2 * lo:2 * hi]
    hrow = hyper[g]
    scheduled = is_scheduled(sched[g])
    cm = clip[g, 0]
    c = clip[g, 1]
    fin2 = fin_tol * fin_tol
    conv2 = conv_tol * conv_tol
    active = 0
    for r in range(lo, hi):
        if status[r] == Status.RACING:
            active += 1
    for s in range(k):
        if active > 0:
            t = t0 + s + 1
            n0 = 0.0
            n1 = 0.0
            if noise > 0.0:  # one noise draw per step, the same for every racer
                n0 = noise * gauss(seed, t, 0)
                n1 = noise * gauss(seed, t, 1)
            seen = grad  # the gradient the optimizer sees: the true one, unless noisy or clipped
            if noise > 0.0 or cm != NO_CLIP:
                for i in range(0, n, 2):
                    gv[i], gv[i + 1] = clip_gradient(grad[i] + n0, grad[i + 1] + n1, cm, c)
                seen = gv
            if scheduled:
                hyp[0] = hrow[0] * lr_factor(sched[g], t)
            # np.bool_: runtime bools, not literals, so each surface compiles once for every caller.
            if fam == NEWTON:  # the one optimizer that needs the Hessian, at each racer's point
                for i in range(0, n, 2):
                    _surface_batch(code, sp, x[i:i + 2], 2, gnew[i:i + 2], fnew[i // 2:i // 2 + 1], gs, H,
                                   np.bool_(True))
                    _newton(x[i:i + 2], seen[i:i + 2], H, state, hyp, t, xnew[i:i + 2])
            else:
                opt_step(fam, x, seen, H, state, hyp, t, xnew)
            _surface_batch(code, sp, xnew, n, gnew, fnew, gs, H, np.bool_(False))
            for i in range(m):
                r = lo + i
                j = 2 * i
                if status[r] != Status.RACING:
                    if record:  # a stopped racer stays where it stopped
                        _record(record, pos, loss, gn, r, col + s, x[j], x[j + 1], F[r], grad[j], grad[j + 1])
                    continue
                x0, x1, fv, g0, g1 = xnew[j], xnew[j + 1], fnew[i], gnew[j], gnew[j + 1]
                # abs(v) < bound is False for NaN and inf alike: one test per number.
                if check and not ((abs(x0) < OVERFLOW) & (abs(x1) < OVERFLOW) & (abs(fv) < np.inf)
                                  & (abs(g0) < OVERFLOW) & (abs(g1) < OVERFLOW)):
                    status[r] = Status.DIVERGED
                    status_step[r] = t
                    active -= 1
                    if record:
                        _record(record, pos, loss, gn, r, col + s, x[j], x[j + 1], F[r], grad[j], grad[j + 1])
                    continue
                x[j] = x0
                x[j + 1] = x1
                grad[j] = g0
                grad[j + 1] = g1
                F[r] = fv
                # Recorded in this pass, while the numbers are in registers: a second pass
                # over the racers cost more than the stores themselves.
                if record:
                    _record(record, pos, loss, gn, r, col + s, x0, x1, fv, g0, g1)
                if check:  # check=False is the bare mode the benchmark compares with
                    best = np.inf
                    for mi in range(minima.shape[0]):
                        dx = x0 - minima[mi, 0]
                        dy = x1 - minima[mi, 1]
                        best = min(best, dx * dx + dy * dy)
                    code_r = Status.RACING
                    if best <= fin2:
                        code_r = Status.FINISHED
                    elif g0 * g0 + g1 * g1 <= conv2:
                        code_r = Status.CONVERGED
                    elif (x0 < box[0]) | (x0 > box[1]) | (x1 < box[2]) | (x1 > box[3]):
                        code_r = Status.ESCAPED
                    if code_r != Status.RACING:
                        status[r] = code_r
                        status_step[r] = t
                        active -= 1
        elif record:  # every racer of the group has stopped
            for i in range(m):
                j = 2 * i
                _record(record, pos, loss, gn, lo + i, col + s, x[j], x[j + 1], F[lo + i], grad[j], grad[j + 1])


@njit(inline="always", **JIT)
def _record(record, pos, loss, gn, r, c, x0, x1, fv, g0, g1):
    pos[r, c, 0] = x0
    pos[r, c, 1] = x1
    if record == RECORD_ALL:
        loss[r, c] = fv
        gn[r, c] = math.sqrt(g0 * g0 + g1 * g1)


@njit(**JIT)
def evaluate(code, sp, pos, loss, gn):
    """Value and gradient norm at every point of pos (R, k, 2) into loss and gn (R, k): the
    same bits the race records, for chunks recorded as positions only."""
    k = pos.shape[1]
    g = np.empty(2 * k)
    gs = np.empty(2)
    H = np.zeros((2, 2))
    for r in range(pos.shape[0]):
        _surface_batch(code, sp, pos[r].reshape(2 * k), 2 * k, g, loss[r], gs, H, np.bool_(False))
        for i in range(k):
            gn[r, i] = math.sqrt(g[2 * i] * g[2 * i] + g[2 * i + 1] * g[2 * i + 1])


@njit(inline="always", **JIT)
def _block(state, slots, lo, hi):
    return state[slots * 2 * lo:slots * 2 * hi].reshape((slots, 2 * (hi - lo)))


@njit(**JIT)
def advance(code, sp, fam, bounds, hyper, sched, clip, noise, seed, X, G, F, state, slots, t0, k,
            status, status_step, minima, fin_tol, conv_tol, box, check, record, col, pos, loss, gn):
    """Run steps t0+1 .. t0+k for every group.  Group g holds racers bounds[g] .. bounds[g+1]-1
    with family fam[g] and settings hyper[g], sched[g], clip[g]; X, G (2R,), F (R,) and the flat
    state (slots x 2 per racer, group-blocked) are updated in place.  ``record`` (RECORD_*): the
    point after step t0+s+1 goes to column col+s of pos (R, K, 2), and with RECORD_ALL its value
    and gradient norm to loss and gn (R, K)."""
    for g in range(fam.shape[0]):
        lo, hi = bounds[g], bounds[g + 1]
        _run_group(g, code, sp, fam[g], lo, hi, hyper, sched, clip, noise, seed, X, G, F,
                   _block(state, slots, lo, hi), t0, k, status, status_step, minima, fin_tol,
                   conv_tol, box, check, record, col, pos, loss, gn)


@njit(parallel=True, cache=True)
def advance_parallel(code, sp, fam, bounds, hyper, lr_sched, clip, noise, seed, X, G, F, state, slots, t0, k,
                     status, status_step, minima, fin_tol, conv_tol, box, check, record, col, pos, loss, gn):
    """:func:`advance` with the groups spread over all cores (many racers); same bits.
    (``lr_sched``, not ``sched``: numba's parfor lowering fails on a parameter of that name.)"""
    for b in prange(fam.shape[0]):
        g = np.int64(b)  # prange's index is unsigned: as is, it would compile _run_group again
        lo, hi = bounds[g], bounds[g + 1]
        _run_group(g, code, sp, fam[g], lo, hi, hyper, lr_sched, clip, noise, seed, X, G, F,
                   _block(state, slots, lo, hi), t0, k, status, status_step, minima, fin_tol,
                   conv_tol, box, check, record, col, pos, loss, gn)
