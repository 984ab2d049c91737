"""numba kernels of the network engine: forward, backward, losses and telemetry over the op
table of :mod:`engine.nn.ops`.

Activations live in one flat workspace ``Z``: buffer b of a batch of B rows is
``Z[B*cum[b] : B*cum[b+1]]`` viewed as (B, width); gradients ``D`` use the same layout.
Matrix products call BLAS through ``np.dot(a, b, out)`` (no allocation per step); the
elementwise passes are plain loops that LLVM vectorises, with tanh and sigmoid from
:mod:`engine.nn.fastmath` because numba's scalar ``tanh`` is several times slower.
Dropout masks come from a counter-based hash of (seed, step, op, element), so a mask is a
pure function of its key: the same for every racer of a race and reproducible later.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..race.counter_rng import mix64, step_key
from . import fastmath as fm
from .ops import (ACC0, ACC1, ACC2, ACT, ADD, ALPHA, BATCHNORM, BCE, CODE, DENSE, DROPOUT, ELU, EPS,
                  GELU, HIGHWAY, IDENTITY, IN0, IN1, IN2, INVERTED, KIND, LAYERNORM, LEAKY_RELU, MASK,
                  MOFF, MSE, NPAR, OUT, POFF, PRELU, RELU, ROFF, SIGMOID, SOFTMAX_CE, SOFTPLUS, TANH, P)

JIT = dict(cache=True, nogil=True)

_SQRT1_2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327
_SOFTPLUS_THRESHOLD = 20.0  # torch's default: softplus(x) = x above it


@njit(**JIT)
def mask_key(seed, t, op):
    """Key of the masks drawn by op ``op`` at step ``t``."""
    return mix64(step_key(seed, t) + np.uint64(op) * np.uint64(0xD1B54A32D192ED03) + np.uint64(1))


@njit(**JIT)
def _draw_mask(key, p, m):
    # m[i] = 1 (kept) with probability 1 - p, else 0.
    for i in range(m.shape[0]):
        u = (mix64(key + np.uint64(i)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
        m[i] = 0.0 if u < p else 1.0


@njit(**JIT)
def draw_mask(seed, t, op, p, m):
    """Fill ``m`` with the mask op ``op`` draws at step ``t`` of the stream ``seed`` (the
    training pass's own draw, so a mask of any past step can be recomputed)."""
    _draw_mask(mask_key(seed, t, op), p, m)


@njit(inline="always", **JIT)
def _buf(Z, cum, b, B):
    return Z[B * cum[b]: B * cum[b + 1]]


# ----------------------------------------------------------------------------- activations
@njit(**JIT)
def act_forward(code, x, y, slopes, width, alpha, bits):
    """y = f(x) on flat arrays (rows of ``width``); ``slopes`` are PReLU's parameters."""
    n = x.shape[0]
    if code == IDENTITY:
        y[:] = x
    elif code == SIGMOID:
        fm.sigmoid(x, y, bits)
    elif code == TANH:
        fm.tanh(x, y, bits)
    elif code == RELU:
        for i in range(n):
            y[i] = 0.0 if x[i] <= 0.0 else x[i]
    elif code == LEAKY_RELU:
        for i in range(n):
            y[i] = x[i] if x[i] > 0.0 else alpha * x[i]
    elif code == PRELU:
        per_unit = slopes.shape[0] > 1
        for r in range(n // width):
            for j in range(width):
                i = r * width + j
                a = slopes[j] if per_unit else slopes[0]
                y[i] = x[i] if x[i] > 0.0 else a * x[i]
    elif code == ELU:
        fm.expm1_nonpos(x, y, bits)
        for i in range(n):
            y[i] = x[i] if x[i] > 0.0 else alpha * y[i]
    elif code == SOFTPLUS:
        for i in range(n):
            y[i] = x[i] if x[i] > _SOFTPLUS_THRESHOLD else math.log1p(math.exp(x[i]))
    elif code == GELU:
        for i in range(n):
            y[i] = x[i] * 0.5 * (1.0 + math.erf(x[i] * _SQRT1_2))


@njit(**JIT)
def act_backward(code, x, y, dy, dx, acc, slopes, dslopes, width, alpha):
    """dx (+)= f'(x) dy; PReLU's slope gradients are written to ``dslopes``."""
    n = x.shape[0]
    if code == PRELU:
        per_unit = slopes.shape[0] > 1
        dslopes[:] = 0.0
        for r in range(n // width):
            for j in range(width):
                i = r * width + j
                k = j if per_unit else 0
                if x[i] > 0.0:
                    v = dy[i]
                else:
                    v = slopes[k] * dy[i]
                    dslopes[k] += x[i] * dy[i]
                dx[i] = dx[i] + v if acc else v
        return
    # One loop per activation (not a dispatch inside one loop) so that each vectorises.
    if code == IDENTITY:
        for i in range(n):
            dx[i] = dx[i] + dy[i] if acc else dy[i]
    elif code == SIGMOID:
        for i in range(n):
            v = dy[i] * (1.0 - y[i]) * y[i]
            dx[i] = dx[i] + v if acc else v
    elif code == TANH:
        for i in range(n):
            v = dy[i] * (1.0 - y[i] * y[i])
            dx[i] = dx[i] + v if acc else v
    elif code == RELU:
        for i in range(n):
            v = dy[i] if y[i] > 0.0 else 0.0
            dx[i] = dx[i] + v if acc else v
    elif code == LEAKY_RELU:
        for i in range(n):
            v = dy[i] if x[i] > 0.0 else dy[i] * alpha
            dx[i] = dx[i] + v if acc else v
    elif code == ELU:
        for i in range(n):
            v = dy[i] if x[i] > 0.0 else dy[i] * (y[i] + alpha)
            dx[i] = dx[i] + v if acc else v
    elif code == SOFTPLUS:
        for i in range(n):
            if x[i] > _SOFTPLUS_THRESHOLD:
                v = dy[i]
            else:
                z = math.exp(x[i])
                v = dy[i] * z / (z + 1.0)
            dx[i] = dx[i] + v if acc else v
    elif code == GELU:
        for i in range(n):
            cdf = 0.5 * (1.0 + math.erf(x[i] * _SQRT1_2))
            pdf = math.exp(-0.5 * x[i] * x[i]) * _INV_SQRT_2PI
            v = dy[i] * (cdf + x[i] * pdf)
            dx[i] = dx[i] + v if acc else v


# ----------------------------------------------------------------------------- forward
@njit(**JIT)
def forward(opi, opf, cum, params, rs, Z, WM, bits, B, train, seed, t):
    """Run every op on the batch already in buffer 0.  ``train`` draws masks (keyed by
    seed and step t) and uses batch statistics, updating the running ones in ``rs``."""
    for o in range(opi.shape[0]):
        kind = opi[o, KIND]
        a = opi[o, IN0]
        ob = opi[o, OUT]
        wi = cum[a + 1] - cum[a]
        wo = cum[ob + 1] - cum[ob]
        x = _buf(Z, cum, a, B)
        y = _buf(Z, cum, ob, B)
        po = opi[o, POFF]
        if kind == DENSE:
            W = params[po: po + wi * wo].reshape((wi, wo))
            p = opf[o, P]
            if p > 0.0:  # DropConnect: the product uses masked weights kept in WM
                mo = opi[o, MOFF]
                M = WM[mo: mo + wi * wo]
                We = WM[mo + wi * wo: mo + 2 * wi * wo]
                Wf = params[po: po + wi * wo]
                if train:
                    _draw_mask(mask_key(seed, t, o), p, M)
                    sc = 1.0 / (1.0 - p) if opi[o, CODE] == INVERTED else 1.0
                    for i in range(wi * wo):
                        We[i] = Wf[i] * M[i] * sc
                else:
                    sc = 1.0 if opi[o, CODE] == INVERTED else 1.0 - p
                    for i in range(wi * wo):
                        We[i] = Wf[i] * sc
                W = We.reshape((wi, wo))
            Y = y.reshape((B, wo))
            np.dot(x.reshape((B, wi)), W, Y)
            if opi[o, NPAR]:
                bvec = params[po + wi * wo: po + wi * wo + wo]
                for r in range(B):
                    for j in range(wo):
                        Y[r, j] += bvec[j]
        elif kind == ACT:
            np_ = opi[o, NPAR]
            act_forward(opi[o, CODE], x, y, params[po: po + np_], wi, opf[o, ALPHA], bits)
        elif kind == DROPOUT:
            p = opf[o, P]
            m = _buf(Z, cum, opi[o, MASK], B)
            if train:
                if p > 0.0:
                    _draw_mask(mask_key(seed, t, o), p, m)
                else:
                    m[:] = 1.0
                sc = 1.0 / (1.0 - p) if opi[o, CODE] == INVERTED else 1.0
                for i in range(x.shape[0]):
                    y[i] = x[i] * m[i] * sc if p > 0.0 else x[i]
            else:
                sc = 1.0 if opi[o, CODE] == INVERTED else 1.0 - p
                for i in range(x.shape[0]):
                    y[i] = x[i] * sc
        elif kind == BATCHNORM:
            _bn_forward(x.reshape((B, wi)), y.reshape((B, wi)), params, po, opi[o, NPAR], rs,
                        opi[o, ROFF], opf[o, ALPHA], opf[o, EPS], train)
        elif kind == LAYERNORM:
            _ln_forward(x.reshape((B, wi)), y.reshape((B, wi)), params, po, opi[o, NPAR], opf[o, EPS])
        elif kind == ADD:
            x1 = _buf(Z, cum, opi[o, IN1], B)
            for i in range(y.shape[0]):
                y[i] = x[i] + x1[i]
        elif kind == HIGHWAY:
            h = _buf(Z, cum, opi[o, IN1], B)
            xx = _buf(Z, cum, opi[o, IN2], B)
            for i in range(y.shape[0]):
                y[i] = x[i] * h[i] + (1.0 - x[i]) * xx[i]


@njit(**JIT)
def _batch_moments(X):
    """Per-column mean and (biased) variance of the batch X (B, w), two passes."""
    B, w = X.shape
    mean = np.zeros(w)
    var = np.zeros(w)
    for r in range(B):
        for j in range(w):
            mean[j] += X[r, j]
    for j in range(w):
        mean[j] /= B
    for r in range(B):
        for j in range(w):
            d = X[r, j] - mean[j]
            var[j] += d * d
    for j in range(w):
        var[j] /= B
    return mean, var


@njit(**JIT)
def _bn_forward(X, Y, params, po, affine, rs, ro, momentum, eps, train):
    B, w = X.shape
    if train:
        mean, var = _batch_moments(X)
        for j in range(w):
            # Running variance is unbiased, as in torch.
            unbiased = var[j] * B / (B - 1) if B > 1 else var[j]
            rs[ro + j] = (1.0 - momentum) * rs[ro + j] + momentum * mean[j]
            rs[ro + w + j] = (1.0 - momentum) * rs[ro + w + j] + momentum * unbiased
    else:
        mean = rs[ro:ro + w].copy()
        var = rs[ro + w:ro + 2 * w].copy()
    for j in range(w):
        var[j] = 1.0 / math.sqrt(var[j] + eps)  # now the inverse standard deviation
    for r in range(B):
        for j in range(w):
            v = (X[r, j] - mean[j]) * var[j]
            Y[r, j] = v * params[po + j] + params[po + w + j] if affine else v


@njit(**JIT)
def _ln_forward(X, Y, params, po, affine, eps):
    B, w = X.shape
    for r in range(B):
        m = 0.0
        for j in range(w):
            m += X[r, j]
        m /= w
        v = 0.0
        for j in range(w):
            d = X[r, j] - m
            v += d * d
        inv = 1.0 / math.sqrt(v / w + eps)
        for j in range(w):
            xh = (X[r, j] - m) * inv
            Y[r, j] = xh * params[po + j] + params[po + w + j] if affine else xh


# ----------------------------------------------------------------------------- backward
@njit(inline="always", **JIT)
def _put(dst, i, v, acc):
    if acc:
        dst[i] += v
    else:
        dst[i] = v


@njit(**JIT)
def backward(opi, opf, cum, params, rs, Z, D, WM, G, scratch, B, train):
    """Gradients of the loss whose output gradient is already in D: parameters into G,
    activations into D (buffer 0, the input, is skipped)."""
    for o in range(opi.shape[0] - 1, -1, -1):
        kind = opi[o, KIND]
        a = opi[o, IN0]
        ob = opi[o, OUT]
        wi = cum[a + 1] - cum[a]
        wo = cum[ob + 1] - cum[ob]
        x = _buf(Z, cum, a, B)
        y = _buf(Z, cum, ob, B)
        dy = _buf(D, cum, ob, B)
        dx = _buf(D, cum, a, B)
        acc0 = opi[o, ACC0] != 0
        po = opi[o, POFF]
        if kind == DENSE:
            p = opf[o, P]
            W = params[po: po + wi * wo].reshape((wi, wo))
            if p > 0.0:
                mo = opi[o, MOFF]
                W = WM[mo + wi * wo: mo + 2 * wi * wo].reshape((wi, wo))
            dY = dy.reshape((B, wo))
            gW = G[po: po + wi * wo]
            np.dot(x.reshape((B, wi)).T, dY, gW.reshape((wi, wo)))
            if p > 0.0:
                mo = opi[o, MOFF]
                if train:
                    sc = 1.0 / (1.0 - p) if opi[o, CODE] == INVERTED else 1.0
                    for i in range(wi * wo):
                        gW[i] *= WM[mo + i] * sc
                else:
                    sc = 1.0 if opi[o, CODE] == INVERTED else 1.0 - p
                    for i in range(wi * wo):
                        gW[i] *= sc
            if opi[o, NPAR]:
                gb = G[po + wi * wo: po + wi * wo + wo]
                gb[:] = 0.0
                for r in range(B):
                    for j in range(wo):
                        gb[j] += dY[r, j]
            if a != 0:
                if acc0:
                    tmp = scratch[: B * wi]
                    np.dot(dY, W.T, tmp.reshape((B, wi)))
                    for i in range(B * wi):
                        dx[i] += tmp[i]
                else:
                    np.dot(dY, W.T, dx.reshape((B, wi)))
        elif kind == ACT:
            np_ = opi[o, NPAR]
            act_backward(opi[o, CODE], x, y, dy, dx, acc0, params[po: po + np_], G[po: po + np_],
                         wi, opf[o, ALPHA])
        elif kind == DROPOUT:
            p = opf[o, P]
            if train:
                m = _buf(Z, cum, opi[o, MASK], B)
                sc = 1.0 / (1.0 - p) if opi[o, CODE] == INVERTED else 1.0
                for i in range(dy.shape[0]):
                    _put(dx, i, dy[i] * m[i] * sc if p > 0.0 else dy[i], acc0)
            else:
                sc = 1.0 if opi[o, CODE] == INVERTED else 1.0 - p
                for i in range(dy.shape[0]):
                    _put(dx, i, dy[i] * sc, acc0)
        elif kind == BATCHNORM:
            _bn_backward(x.reshape((B, wi)), dy.reshape((B, wi)), dx.reshape((B, wi)), acc0, params, G,
                         po, opi[o, NPAR], rs, opi[o, ROFF], opf[o, EPS], train)
        elif kind == LAYERNORM:
            _ln_backward(x.reshape((B, wi)), dy.reshape((B, wi)), dx.reshape((B, wi)), acc0, params, G,
                         po, opi[o, NPAR], opf[o, EPS])
        elif kind == ADD:
            d1 = _buf(D, cum, opi[o, IN1], B)
            acc1 = opi[o, ACC1] != 0
            for i in range(dy.shape[0]):
                _put(dx, i, dy[i], acc0)
                _put(d1, i, dy[i], acc1)
        elif kind == HIGHWAY:
            h = _buf(Z, cum, opi[o, IN1], B)
            xx = _buf(Z, cum, opi[o, IN2], B)
            dh = _buf(D, cum, opi[o, IN1], B)
            dxx = _buf(D, cum, opi[o, IN2], B)
            acc1 = opi[o, ACC1] != 0
            acc2 = opi[o, ACC2] != 0
            for i in range(dy.shape[0]):
                _put(dx, i, dy[i] * (h[i] - xx[i]), acc0)
                _put(dh, i, dy[i] * x[i], acc1)
                _put(dxx, i, dy[i] * (1.0 - x[i]), acc2)


@njit(**JIT)
def _bn_backward(X, dY, dX, acc, params, G, po, affine, rs, ro, eps, train):
    B, w = X.shape
    if train:
        mean, inv = _batch_moments(X)
    else:
        mean = rs[ro:ro + w].copy()
        inv = rs[ro + w:ro + 2 * w].copy()
    for j in range(w):
        inv[j] = 1.0 / math.sqrt(inv[j] + eps)
    sdy = np.zeros(w)  # sum of dxhat over the batch
    sdyx = np.zeros(w)  # sum of dxhat * xhat
    sg = np.zeros(w)  # sum of dy * xhat (gamma's gradient)
    sb = np.zeros(w)  # sum of dy (beta's gradient)
    for r in range(B):
        for j in range(w):
            xh = (X[r, j] - mean[j]) * inv[j]
            g = params[po + j] if affine else 1.0
            sdy[j] += dY[r, j] * g
            sdyx[j] += dY[r, j] * g * xh
            sg[j] += dY[r, j] * xh
            sb[j] += dY[r, j]
    if affine:
        for j in range(w):
            G[po + j] = sg[j]
            G[po + w + j] = sb[j]
    for r in range(B):
        for j in range(w):
            g = params[po + j] if affine else 1.0
            if train:
                xh = (X[r, j] - mean[j]) * inv[j]
                v = inv[j] / B * (B * dY[r, j] * g - sdy[j] - xh * sdyx[j])
            else:
                v = dY[r, j] * g * inv[j]
            if acc:
                dX[r, j] += v
            else:
                dX[r, j] = v


@njit(**JIT)
def _ln_backward(X, dY, dX, acc, params, G, po, affine, eps):
    B, w = X.shape
    if affine:
        for j in range(2 * w):
            G[po + j] = 0.0
    for r in range(B):
        m = 0.0
        for j in range(w):
            m += X[r, j]
        m /= w
        v = 0.0
        for j in range(w):
            d = X[r, j] - m
            v += d * d
        inv = 1.0 / math.sqrt(v / w + eps)
        s1 = 0.0
        s2 = 0.0
        for j in range(w):
            xh = (X[r, j] - m) * inv
            g = params[po + j] if affine else 1.0
            s1 += dY[r, j] * g
            s2 += dY[r, j] * g * xh
            if affine:
                G[po + j] += dY[r, j] * xh
                G[po + w + j] += dY[r, j]
        for j in range(w):
            xh = (X[r, j] - m) * inv
            g = params[po + j] if affine else 1.0
            val = inv / w * (w * dY[r, j] * g - s1 - xh * s2)
            if acc:
                dX[r, j] += val
            else:
                dX[r, j] = val


# ----------------------------------------------------------------------------- losses
@njit(**JIT)
def loss(kind, out, yi, yf, dout, want_grad):
    """Mean loss of outputs ``out`` (B, k) against labels ``yi`` (B,) or targets ``yf`` (B, k);
    writes d loss / d out into ``dout`` when ``want_grad``.  Returns (loss, accuracy), the
    accuracy NaN for regression."""
    B, k = out.shape
    total = 0.0
    correct = 0.0
    if kind == SOFTMAX_CE:
        for r in range(B):
            m = out[r, 0]
            am = 0
            for j in range(1, k):
                if out[r, j] > m:
                    m = out[r, j]
                    am = j
            # exp(z - max) once per entry, kept in dout for the gradient softmax - onehot.
            s = 0.0
            for j in range(k):
                e = math.exp(out[r, j] - m)
                s += e
                if want_grad:
                    dout[r, j] = e
            c = yi[r]
            total += m + math.log(s) - out[r, c]
            if am == c:
                correct += 1.0
            if want_grad:
                inv = 1.0 / (s * B)
                for j in range(k):
                    dout[r, j] *= inv
                dout[r, c] -= 1.0 / B
        return total / B, correct / B
    n = B * k
    for r in range(B):
        for j in range(k):
            z = out[r, j]
            tt = yf[r, j]
            if kind == MSE:
                d = z - tt
                total += d * d
                if want_grad:
                    dout[r, j] = 2.0 * d / n
            else:  # BCE on logits, the stable form max(z, 0) - z t + log(1 + exp(-|z|))
                total += max(z, 0.0) - z * tt + math.log1p(math.exp(-abs(z)))
                if (z > 0.0) == (tt > 0.5):
                    correct += 1.0
                if want_grad:
                    e = math.exp(-abs(z))
                    sig = 1.0 / (1.0 + e) if z >= 0.0 else e / (1.0 + e)
                    dout[r, j] = (sig - tt) / n
    if kind == MSE:
        return total / n, np.nan
    return total / n, correct / n


# ----------------------------------------------------------------------------- one batch
@njit(**JIT)
def loss_and_grad(opi, opf, cum, loss_kind, params, rs, Z, D, WM, bits, scratch, G, X, yi, yf,
                  train, seed, t, want_grad):
    """Forward the batch X, return (loss, accuracy); with ``want_grad`` also backward into G."""
    B = X.shape[0]
    x0 = _buf(Z, cum, 0, B)
    x0[:] = X.ravel()
    forward(opi, opf, cum, params, rs, Z, WM, bits, B, train, seed, t)
    last = cum.shape[0] - 2
    k = cum[last + 1] - cum[last]
    out = _buf(Z, cum, last, B).reshape((B, k))
    dout = _buf(D, cum, last, B).reshape((B, k))
    lv, acc = loss(loss_kind, out, yi, yf, dout, want_grad)
    if want_grad:
        backward(opi, opf, cum, params, rs, Z, D, WM, G, scratch, B, train)
    return lv, acc


@njit(**JIT)
def predict(opi, opf, cum, params, rs, Z, WM, bits, X, out):
    """Network outputs (test mode) for the rows of X, in blocks of ``Z``'s capacity."""
    n = X.shape[0]
    cap = Z.shape[0] // cum[cum.shape[0] - 1]
    last = cum.shape[0] - 2
    k = cum[last + 1] - cum[last]
    for lo in range(0, n, cap):
        hi = min(n, lo + cap)
        B = hi - lo
        x0 = _buf(Z, cum, 0, B)
        x0[:] = X[lo:hi].ravel()
        forward(opi, opf, cum, params, rs, Z, WM, bits, B, False, 0, 0)
        out[lo:hi] = _buf(Z, cum, last, B).reshape((B, k))
