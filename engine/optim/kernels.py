"""numba update kernels, one per optimizer family, and the integer-id dispatcher.

Every kernel has the signature ``(x, g, s, h, t, out)``: parameters ``x`` (n,), gradient
``g`` (n,), state ``s`` (slots, n) changed in place, hyperparameters ``h`` (packed by the
spec), the 1-based step number ``t``, and ``out`` (n,) which receives the *new* parameters
(``out`` may be ``x`` itself).  Writing the new value rather than a delta keeps the exact
rounding of torch's in-place ``param.add_(...)``; the step vector is ``out - x``.

Where torch is the reference, the arithmetic follows torch's single-tensor CPU code in
the same order (``addcmul``/``addcdiv`` compute ``self + (value * t1) op t2``, ``lerp``
switches formula at weight 0.5), so results agree to the last bits rather than to a
tolerance that hides a wrong rule.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

# error_model="numpy": a zero divisor (singular Hessian, eps = 0 with a zero gradient) gives
# inf or NaN, which a race reports as diverged, instead of raising ZeroDivisionError.
JIT = dict(cache=True, nogil=True, error_model="numpy")


@njit(inline="always", **JIT)
def _lerp(a, b, w):
    # torch's scalar lerp: exact at both ends, switches formula at weight 0.5.
    if abs(w) < 0.5:
        return a + w * (b - a)
    return b - (b - a) * (1.0 - w)


@njit(inline="always", **JIT)
def _wd(x, g, wd):
    return g + wd * x if wd != 0.0 else g


@njit(**JIT)
def _sgd(x, g, s, h, t, out):
    # h: lr, momentum, dampening, weight_decay, nesterov.  s[0]: momentum buffer.
    lr, mom, damp, wd, nest = h[0], h[1], h[2], h[3], h[4]
    for i in range(x.shape[0]):
        d = _wd(x[i], g[i], wd)
        if mom != 0.0:
            if t == 1:
                s[0, i] = d  # torch starts the buffer at the first gradient, undamped
            else:
                s[0, i] = s[0, i] * mom + (1.0 - damp) * d
            if nest != 0.0:
                d = d + mom * s[0, i]
            else:
                d = s[0, i]
        out[i] = x[i] + (-lr) * d


@njit(**JIT)
def _adagrad(x, g, s, h, t, out):
    # h: lr, lr_decay, weight_decay, initial_accumulator_value, eps.  s[0]: sum of squares.
    lr, lr_decay, wd, eps = h[0], h[1], h[2], h[4]
    clr = lr / (1 + (t - 1) * lr_decay)
    for i in range(x.shape[0]):
        d = _wd(x[i], g[i], wd)
        s[0, i] = s[0, i] + (1.0 * d) * d
        std = math.sqrt(s[0, i]) + eps
        out[i] = x[i] + (-clr * d) / std


@njit(**JIT)
def _adadelta(x, g, s, h, t, out):
    # h: lr, rho, eps, weight_decay.  s[0]: square_avg, s[1]: acc_delta.
    lr, rho, eps, wd = h[0], h[1], h[2], h[3]
    for i in range(x.shape[0]):
        d = _wd(x[i], g[i], wd)
        s[0, i] = s[0, i] * rho + ((1.0 - rho) * d) * d
        std = math.sqrt(s[0, i] + eps)
        delta = math.sqrt(s[1, i] + eps)
        delta = delta / std * d
        s[1, i] = s[1, i] * rho + ((1.0 - rho) * delta) * delta
        out[i] = x[i] + (-lr) * delta


@njit(**JIT)
def _rmsprop(x, g, s, h, t, out):
    # h: lr, alpha, eps, weight_decay, momentum, centered.
    # s[0]: square_avg, s[1]: grad_avg (centered), s[2]: momentum buffer.
    lr, alpha, eps, wd, mom, centered = h[0], h[1], h[2], h[3], h[4], h[5]
    for i in range(x.shape[0]):
        d = _wd(x[i], g[i], wd)
        s[0, i] = s[0, i] * alpha + ((1.0 - alpha) * d) * d
        if centered != 0.0:
            s[1, i] = _lerp(s[1, i], d, 1.0 - alpha)
            avg = math.sqrt(s[0, i] + (-1.0 * s[1, i]) * s[1, i])
        else:
            avg = math.sqrt(s[0, i])
        avg = avg + eps
        if mom > 0.0:
            s[2, i] = s[2, i] * mom + (1.0 * d) / avg
            out[i] = x[i] + (-lr) * s[2, i]
        else:
            out[i] = x[i] + (-lr * d) / avg


@njit(**JIT)
def _adam(x, g, s, h, t, out):
    # h: lr, beta1, beta2, eps, weight_decay, amsgrad, decoupled_weight_decay, bias_correction.
    # s[0]: exp_avg (m), s[1]: exp_avg_sq (v), s[2]: max_exp_avg_sq (AMSGrad).
    lr, b1, b2, eps, wd, ams, decoupled = h[0], h[1], h[2], h[3], h[4], h[5], h[6]
    # Without bias correction both factors are 1: the divisions below are then exact, so the
    # step is the paper's lr * m / (sqrt(v) + eps) bit for bit.
    bc1 = 1 - b1**t if h[7] != 0.0 else 1.0
    bc2 = 1 - b2**t if h[7] != 0.0 else 1.0
    step_size = lr / bc1
    bc2_sqrt = bc2**0.5
    for i in range(x.shape[0]):
        xi = x[i]
        d = g[i]
        if wd != 0.0:
            if decoupled != 0.0:
                xi = xi * (1 - lr * wd)
            else:
                d = d + wd * xi
        s[0, i] = _lerp(s[0, i], d, 1.0 - b1)
        s[1, i] = s[1, i] * b2 + ((1.0 - b2) * d) * d
        v = s[1, i]
        if ams != 0.0:
            s[2, i] = max(s[2, i], v)
            v = s[2, i]
        denom = math.sqrt(v) / bc2_sqrt + eps
        out[i] = xi + (-step_size * s[0, i]) / denom


@njit(**JIT)
def _adamax(x, g, s, h, t, out):
    # h: lr, beta1, beta2, eps, weight_decay.  s[0]: exp_avg, s[1]: exp_inf.
    lr, b1, b2, eps, wd = h[0], h[1], h[2], h[3], h[4]
    clr = lr / (1 - b1**t)
    for i in range(x.shape[0]):
        d = _wd(x[i], g[i], wd)
        s[0, i] = _lerp(s[0, i], d, 1.0 - b1)
        s[1, i] = max(s[1, i] * b2, abs(d) + eps)  # torch adds eps inside the max
        out[i] = x[i] + (-clr * s[0, i]) / s[1, i]


@njit(**JIT)
def _nadam(x, g, s, h, t, out):
    # h: lr, beta1, beta2, eps, weight_decay, momentum_decay, decoupled_weight_decay.
    # s[0]: exp_avg, s[1]: exp_avg_sq, s[2, 0]: product of the momentum coefficients mu_1..mu_t.
    lr, b1, b2, eps, wd, psi, decoupled = h[0], h[1], h[2], h[3], h[4], h[5], h[6]
    step = float(t)
    bc2 = 1 - b2**step
    mu = b1 * (1.0 - 0.5 * (0.96 ** (step * psi)))
    mu_next = b1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))
    mu_prod = s[2, 0] * mu
    s[2, 0] = mu_prod
    mu_prod_next = mu_prod * mu_next
    c_grad = -lr * (1.0 - mu) / (1.0 - mu_prod)
    c_avg = (-lr * mu_next) / (1.0 - mu_prod_next)
    for i in range(x.shape[0]):
        xi = x[i]
        d = g[i]
        if wd != 0.0:
            if decoupled != 0.0:
                xi = xi * (1 - lr * wd)
            else:
                d = d + wd * xi
        s[0, i] = _lerp(s[0, i], d, 1.0 - b1)
        s[1, i] = s[1, i] * b2 + ((1.0 - b2) * d) * d
        denom = math.sqrt(s[1, i] / bc2) + eps
        xi = xi + (c_grad * d) / denom
        out[i] = xi + (c_avg * s[0, i]) / denom


@njit(**JIT)
def _radam(x, g, s, h, t, out):
    # h: lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay.  s[0]: m, s[1]: v.
    lr, b1, b2, eps, wd, decoupled = h[0], h[1], h[2], h[3], h[4], h[5]
    step = float(t)
    bc1 = 1 - b1**step
    bc2 = 1 - b2**step
    rho_inf = 2 / (1 - b2) - 1
    rho_t = rho_inf - 2 * step * (b2**step) / bc2
    rectified = rho_t > 5.0  # torch's threshold; the paper uses 4
    rect = 0.0
    if rectified:
        rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
    for i in range(x.shape[0]):
        xi = x[i]
        d = g[i]
        if wd != 0.0:
            if decoupled != 0.0:
                xi = xi * (1 - lr * wd)
            else:
                d = d + wd * xi
        s[0, i] = _lerp(s[0, i], d, 1.0 - b1)
        s[1, i] = s[1, i] * b2 + ((1.0 - b2) * d) * d
        m_hat = s[0, i] / bc1
        if rectified:
            adaptive = (bc2**0.5) / (math.sqrt(s[1, i]) + eps)
            out[i] = xi - m_hat * lr * adaptive * rect
        else:
            out[i] = xi - m_hat * lr


@njit(**JIT)
def _adabelief(x, g, s, h, t, out):
    # h: lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay.
    # s[0]: m, s[1]: s (EMA of the squared deviation of g from m, plus eps each step).
    lr, b1, b2, eps, wd, decoupled = h[0], h[1], h[2], h[3], h[4], h[5]
    bc1 = 1 - b1**t
    bc2 = 1 - b2**t
    for i in range(x.shape[0]):
        xi = x[i]
        d = g[i]
        if wd != 0.0:
            if decoupled != 0.0:
                xi = xi * (1 - lr * wd)
            else:
                d = d + wd * xi
        s[0, i] = s[0, i] * b1 + (1 - b1) * d
        r = d - s[0, i]
        # The authors add eps to the state itself every step (their algorithm 1 too).
        s[1, i] = s[1, i] * b2 + ((1 - b2) * r) * r + eps
        denom = math.sqrt(s[1, i]) / math.sqrt(bc2) + eps
        out[i] = xi + (-(lr / bc1) * s[0, i]) / denom


@njit(**JIT)
def _lion(x, g, s, h, t, out):
    # h: lr, beta1, beta2, weight_decay.  s[0]: m.
    lr, b1, b2, wd = h[0], h[1], h[2], h[3]
    for i in range(x.shape[0]):
        c = b1 * s[0, i] + (1 - b1) * g[i]
        sign = 1.0 if c > 0 else (-1.0 if c < 0 else 0.0)
        out[i] = x[i] - lr * (sign + wd * x[i])
        s[0, i] = b2 * s[0, i] + (1 - b2) * g[i]


@njit(**JIT)
def _yogi(x, g, s, h, t, out):
    # h: lr, beta1, beta2, eps, initial_accumulator_value, weight_decay.  s[0]: m, s[1]: v.
    lr, b1, b2, eps, wd = h[0], h[1], h[2], h[3], h[5]
    for i in range(x.shape[0]):
        d = _wd(x[i], g[i], wd)
        g2 = d * d
        s[0, i] = b1 * s[0, i] + (1 - b1) * d
        diff = s[1, i] - g2
        sign = 1.0 if diff > 0 else (-1.0 if diff < 0 else 0.0)
        s[1, i] = s[1, i] - (1 - b2) * sign * g2
        out[i] = x[i] - lr * s[0, i] / (math.sqrt(s[1, i]) + eps)


@njit(**JIT)
def _qhm(x, g, s, h, t, out):
    # h: lr, momentum (beta), nu, weight_decay.  s[0]: normalised momentum buffer.
    lr, beta, nu, wd = h[0], h[1], h[2], h[3]
    for i in range(x.shape[0]):
        d = _wd(x[i], g[i], wd)
        s[0, i] = beta * s[0, i] + (1 - beta) * d
        out[i] = x[i] - lr * ((1 - nu) * d + nu * s[0, i])


@njit(**JIT)
def _qhadam(x, g, s, h, t, out):
    # h: lr, beta1, beta2, nu1, nu2, eps, weight_decay.  s[0]: m, s[1]: v.
    lr, b1, b2, nu1, nu2, eps, wd = h[0], h[1], h[2], h[3], h[4], h[5], h[6]
    bc1 = 1 - b1**t
    bc2 = 1 - b2**t
    for i in range(x.shape[0]):
        d = _wd(x[i], g[i], wd)
        s[0, i] = b1 * s[0, i] + (1 - b1) * d
        s[1, i] = b2 * s[1, i] + (1 - b2) * d * d
        num = (1 - nu1) * d + nu1 * (s[0, i] / bc1)
        den = math.sqrt((1 - nu2) * d * d + nu2 * (s[1, i] / bc2)) + eps
        out[i] = x[i] - lr * num / den


@njit(**JIT)
def _newton(x, g, hess, s, h, t, out):
    # h: lr, damping.  Solves (H + damping I) p = g for a 2-D point; singular H gives inf/NaN,
    # which the race reports as diverged.
    lr, damping = h[0], h[1]
    a = hess[0, 0] + damping
    b = hess[0, 1]
    c = hess[1, 0]
    d = hess[1, 1] + damping
    det = a * d - b * c
    p0 = (d * g[0] - b * g[1]) / det
    p1 = (a * g[1] - c * g[0]) / det
    out[0] = x[0] - lr * p0
    out[1] = x[1] - lr * p1


# Family codes; the registry maps optimizer ids onto these.
SGD, ADAGRAD, ADADELTA, RMSPROP, ADAM, ADAMAX, NADAM, RADAM = 0, 1, 2, 3, 4, 5, 6, 7
ADABELIEF, LION, YOGI, QHM, QHADAM, NEWTON = 8, 9, 10, 11, 12, 13


# Inlined into its callers (the race loop), so the kernel calls are made from there: the
# race loop runs without reference counting, which otherwise costs more than a 2-D step.
@njit(inline="always", **JIT)
def step(family, x, g, hess, s, h, t, out):
    """Dispatch one update on the integer family code (one compiled kernel for all)."""
    if family == SGD:
        _sgd(x, g, s, h, t, out)
    elif family == ADAGRAD:
        _adagrad(x, g, s, h, t, out)
    elif family == ADADELTA:
        _adadelta(x, g, s, h, t, out)
    elif family == RMSPROP:
        _rmsprop(x, g, s, h, t, out)
    elif family == ADAM:
        _adam(x, g, s, h, t, out)
    elif family == ADAMAX:
        _adamax(x, g, s, h, t, out)
    elif family == NADAM:
        _nadam(x, g, s, h, t, out)
    elif family == RADAM:
        _radam(x, g, s, h, t, out)
    elif family == ADABELIEF:
        _adabelief(x, g, s, h, t, out)
    elif family == LION:
        _lion(x, g, s, h, t, out)
    elif family == YOGI:
        _yogi(x, g, s, h, t, out)
    elif family == QHM:
        _qhm(x, g, s, h, t, out)
    elif family == QHADAM:
        _qhadam(x, g, s, h, t, out)
    elif family == NEWTON:
        _newton(x, g, hess, s, h, t, out)
    else:
        for i in range(x.shape[0]):
            out[i] = np.nan
