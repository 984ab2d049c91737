"""numba drivers that train networks: k mini-batch steps per call for one network, or for K
racers of a network race side by side (one per thread), with learning-rate schedules,
gradient noise and clipping, telemetry and divergence checks."""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..optim.kernels import step as opt_step
from ..race.status import Status
from ..race.step_kernels import NO_CLIP, is_scheduled, lr_factor, perturb_and_clip
from .kernels import backward, forward, loss
from .ops import (SOFTMAX_CE, T_DEAD, T_GRAD_MEANABS, T_GRAD_NORM, T_MEAN, T_STD, W_GRAD_MAX, W_GRAD_MEANABS, W_GRAD_NORM,
                  W_UPDATE_RATIO)

JIT = dict(cache=True, nogil=True)
OVERFLOW = 1e150  # a parameter beyond this counts as overflow, before inf arrives
# es[] fields: best validation loss, evaluations without improvement, patience (0 = off), best step.
ES_BEST, ES_BAD, ES_PATIENCE, ES_STEP = 0, 1, 2, 3


# Reassociation lets LLVM vectorise the sums of the telemetry (never nnan/ninf: a NaN must
# stay visible); the order of a sum changes its last bits only.
@njit(fastmath={"reassoc", "contract"}, **JIT)
def record(cum, taps, tap_dead, dense_w, G, Z, D, B, tap_row, dense_row):
    """Telemetry of one step: per tap gradient L2 norm and mean |.|, activation mean, std and
    dead-unit fraction; per dense layer L2 norm, mean |.| and max |.| of its weight gradient."""
    for i in range(taps.shape[0]):
        b = taps[i]
        w = cum[b + 1] - cum[b]
        z = Z[B * cum[b]: B * cum[b + 1]]
        d = D[B * cum[b]: B * cum[b + 1]]
        n = z.shape[0]
        s2 = 0.0
        s1 = 0.0
        zs = 0.0
        zz = 0.0
        for j in range(n):
            s2 += d[j] * d[j]
            s1 += abs(d[j])
        for j in range(n):
            zs += z[j]
            zz += z[j] * z[j]
        m = zs / n
        tap_row[i, T_GRAD_NORM] = math.sqrt(s2)
        tap_row[i, T_GRAD_MEANABS] = s1 / n
        tap_row[i, T_MEAN] = m
        tap_row[i, T_STD] = math.sqrt(max(zz / n - m * m, 0.0))
        if tap_dead[i]:
            # A unit is dead on this batch when it outputs 0 for every example; count
            # positive outputs per unit row by row (contiguous, vectorised).
            alive = np.zeros(w, dtype=np.int64)
            for r in range(B):
                for c in range(w):
                    alive[c] += z[r * w + c] > 0.0
            dead = 0
            for c in range(w):
                dead += alive[c] == 0
            tap_row[i, T_DEAD] = dead / w
        else:
            tap_row[i, T_DEAD] = np.nan
    for i in range(dense_w.shape[0]):
        lo = dense_w[i, 0]
        hi = dense_w[i, 1]
        s2 = 0.0
        s1 = 0.0
        mx = 0.0
        for j in range(lo, hi):
            s2 += G[j] * G[j]
            s1 += abs(G[j])
            mx = max(mx, abs(G[j]))
        dense_row[i, W_GRAD_NORM] = math.sqrt(s2)
        dense_row[i, W_GRAD_MEANABS] = s1 / max(hi - lo, 1)
        # max() drops a NaN; a NaN anywhere in the gradient shows in the sums, so carry it.
        dense_row[i, W_GRAD_MAX] = mx if math.isfinite(s1) else s1


@njit(fastmath={"reassoc", "contract"}, **JIT)
def record_update(dense_w, params, pnew, dense_row):
    """Per dense layer the update-to-weight ratio |pnew - params| / |params| (L2 norms over
    its weights): inf when the weights are all zero and the step is not, NaN for 0 / 0."""
    for i in range(dense_w.shape[0]):
        du = 0.0
        ww = 0.0
        for j in range(dense_w[i, 0], dense_w[i, 1]):
            d = pnew[j] - params[j]
            du += d * d
            ww += params[j] * params[j]
        dense_row[i, W_UPDATE_RATIO] = math.sqrt(du) / math.sqrt(ww) if ww > 0.0 else (np.inf if du > 0.0 else np.nan)


@njit(**JIT)
def evaluate(opi, opf, cum, loss_kind, params, rs, Zv, WM, bits, Xv, yvi, yvf, dummy):
    """(loss, accuracy) in test mode on the whole validation set (Zv holds all its rows)."""
    B = Xv.shape[0]
    Zv[: B * cum[1]] = Xv.ravel()
    forward(opi, opf, cum, params, rs, Zv, WM, bits, B, False, 0, 0)
    last = cum.shape[0] - 2
    k = cum[last + 1] - cum[last]
    return loss(loss_kind, Zv[B * cum[last]: B * cum[last + 1]].reshape((B, k)), yvi, yvf, dummy, False)


@njit(**JIT)
def train_chunk(opi, opf, cum, loss_kind, taps, tap_dead, dense_w,
                params, rs, G, pnew, Z, D, WM, bits, scratch, Zv,
                family, hyper, state, sched, clip, X, yi, yf, idx, Xv, yvi, yvf,
                t0, k, seed, noise, noise_seed, val_every, tel_every, es, best, status,
                loss_out, val_out, tap_out, dense_out):
    """Steps t0+1 .. t0+k on the mini-batches ``idx`` (k, B) of rows of X.  Returns the steps
    run (fewer when the network diverges or early stopping ends it; ``status`` then holds
    (code, step)).  Validation every ``val_every`` steps, telemetry (of the gradient as
    backprop computed it) every ``tel_every``; then the optimizer sees the gradient with
    ``noise`` (keyed by noise_seed) added and clipped as ``clip`` says, at the learning rate
    ``sched`` gives."""
    B = idx.shape[1]
    din = X.shape[1]
    kout = cum[cum.shape[0] - 1] - cum[cum.shape[0] - 2]
    last = cum.shape[0] - 2
    byi = np.zeros(B, dtype=np.int64)
    byf = np.zeros((B, yf.shape[1]))
    H = np.zeros((2, 2))
    dummy = np.zeros((1, 1))
    hyp = hyper.copy()  # with the scheduled learning rate
    scheduled = is_scheduled(sched)
    transformed = noise > 0.0 or clip[0] != NO_CLIP
    for s in range(k):
        t = t0 + s + 1
        x0 = Z[: B * din]
        for r in range(B):
            row = idx[s, r]
            for j in range(din):
                x0[r * din + j] = X[row, j]
            if loss_kind == SOFTMAX_CE:
                byi[r] = yi[row]
            else:
                for j in range(yf.shape[1]):
                    byf[r, j] = yf[row, j]
        forward(opi, opf, cum, params, rs, Z, WM, bits, B, True, seed, t)
        out = Z[B * cum[last]: B * cum[last + 1]].reshape((B, kout))
        dout = D[B * cum[last]: B * cum[last + 1]].reshape((B, kout))
        lv, _ = loss(loss_kind, out, byi, byf, dout, True)
        backward(opi, opf, cum, params, rs, Z, D, WM, G, scratch, B, True)
        loss_out[s] = lv
        if tel_every > 0 and t % tel_every == 0:
            row = t // tel_every - t0 // tel_every - 1
            record(cum, taps, tap_dead, dense_w, G, Z, D, B, tap_out[row], dense_out[row])
        finite = True
        if transformed:
            finite = perturb_and_clip(G, noise, noise_seed, t, clip)
        if scheduled:
            hyp[0] = hyper[0] * lr_factor(sched, t)
        opt_step(family, params, G, H, state, hyp, t, pnew)
        # One branch-free pass (it vectorises): a non-finite gradient or a new parameter
        # beyond OVERFLOW marks divergence; the parameters stay at the last finite point.
        nbad = 0
        for i in range(pnew.shape[0]):
            nbad += not (abs(pnew[i]) < OVERFLOW and abs(G[i]) < np.inf)
        if nbad > 0 or not finite or not math.isfinite(lv):
            status[0] = Status.DIVERGED
            status[1] = t
            return s + 1
        if tel_every > 0 and t % tel_every == 0:
            record_update(dense_w, params, pnew, dense_out[t // tel_every - t0 // tel_every - 1])
        params[:] = pnew
        if val_every > 0 and t % val_every == 0:
            vl, va = evaluate(opi, opf, cum, loss_kind, params, rs, Zv, WM, bits, Xv, yvi, yvf, dummy)
            val_out[s, 0] = vl
            val_out[s, 1] = va
            if vl < es[ES_BEST]:
                es[ES_BEST] = vl
                es[ES_BAD] = 0.0
                es[ES_STEP] = t
                best[:] = params
            else:
                es[ES_BAD] += 1.0
                if es[ES_PATIENCE] > 0 and es[ES_BAD] >= es[ES_PATIENCE]:
                    status[0] = Status.STOPPED
                    status[1] = t
                    return s + 1
    return k


@njit(parallel=True, cache=True, nogil=True)
def race_chunk(opi, opf, cum, loss_kind, taps, tap_dead, dense_w,
               params, rs, G, pnew, Z, D, WM, bits, scratch, Zv,
               family, hyper, state, lr_sched, clip, X, yi, yf, idx, Xv, yvi, yvf,
               t0, k, seed, noise, noise_seed, val_every, tel_every, es, best, status,
               loss_out, val_out, tap_out, dense_out, done):
    """:func:`train_chunk` for K racers (leading axis K of the per-racer arrays), one per
    thread: they share the batches, the mask seed and the gradient noise, so they differ only
    in optimizer, schedule and clipping.  (``lr_sched``, not ``sched``: numba's parfor
    lowering fails on a parameter of that name.)"""
    K = params.shape[0]
    for r in prange(K):
        if status[r, 0] == Status.TRAINING:
            done[r] = train_chunk(opi, opf, cum, loss_kind, taps, tap_dead, dense_w,
                                  params[r], rs[r], G[r], pnew[r], Z[r], D[r], WM[r], bits[r], scratch[r], Zv[r],
                                  family[r], hyper[r], state[r], lr_sched[r], clip[r], X, yi, yf, idx, Xv, yvi, yvf,
                                  t0, k, seed, noise, noise_seed, val_every, tel_every, es[r], best[r], status[r],
                                  loss_out[r], val_out[r], tap_out[r], dense_out[r])
        else:
            done[r] = 0
