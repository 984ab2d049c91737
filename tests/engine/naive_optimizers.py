"""Plain-Python reference updates for the optimizers torch.optim lacks, written from each paper's
algorithm as printed (sharing no code with the engine), to check the engine's kernels against.

Every function takes the parameters ``x`` and gradient ``g`` (lists of floats), the optimizer's
state (a dict of lists named as in the paper, changed in place), the 1-based step ``t`` and the
hyperparameters under the engine's names; it returns the new parameters as a new list.  The
keyword defaults are the papers' recommended settings (learning rates aside).
"""
from __future__ import annotations

import math

import numpy as np


def _sign(v: float) -> float:
    return 1.0 if v > 0 else (-1.0 if v < 0 else 0.0)


def init_state(name: str, n: int, initial_accumulator_value: float = 1e-6) -> dict[str, list[float]]:
    """The papers' initial states: zero moments (Yogi's v0 = initial_accumulator_value)."""
    zeros = [0.0] * n
    return {
        "adabelief": lambda: {"m": list(zeros), "s": list(zeros)},
        "lion": lambda: {"m": list(zeros)},
        "yogi": lambda: {"m": list(zeros), "v": [initial_accumulator_value] * n},
        "qhm": lambda: {"g": list(zeros)},
        "qhadam": lambda: {"g": list(zeros), "s": list(zeros)},
        "newton": lambda: {},
    }[name]()


def adabelief(x, g, state, t, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-16, weight_decay=0.0,
              decoupled_weight_decay=True):
    """Zhuang et al. 2020, "AdaBelief optimizer: adapting stepsizes by the belief in observed
    gradients", algorithm 2, with its bias correction; eps is added to s_t every step, as in the
    algorithm and the authors' adabelief-pytorch (``exp_avg_var.add_(eps)`` in place).  Weight
    decay as in adabelief-pytorch: decoupled (x <- x (1 - lr wd)) or L2 added to the gradient."""
    b1, b2 = betas
    m, s = state["m"], state["s"]
    new = []
    for i in range(len(x)):
        xi, gi = x[i], g[i]
        if weight_decay:
            if decoupled_weight_decay:
                xi = xi * (1.0 - lr * weight_decay)
            else:
                gi = gi + weight_decay * xi
        m[i] = b1 * m[i] + (1.0 - b1) * gi
        s[i] = b2 * s[i] + (1.0 - b2) * (gi - m[i]) ** 2 + eps
        m_hat = m[i] / (1.0 - b1**t)
        s_hat = s[i] / (1.0 - b2**t)
        new.append(xi - lr * m_hat / (math.sqrt(s_hat) + eps))
    return new


def lion(x, g, state, t, *, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0):
    """Chen et al. 2023, "Symbolic discovery of optimization algorithms", algorithm 2 (Lion):
    c_t = b1 m + (1 - b1) g;  x <- x - lr (sign(c_t) + lambda x);  m <- b2 m + (1 - b2) g."""
    b1, b2 = betas
    m = state["m"]
    new = []
    for i in range(len(x)):
        c = b1 * m[i] + (1.0 - b1) * g[i]
        new.append(x[i] - lr * (_sign(c) + weight_decay * x[i]))
        m[i] = b2 * m[i] + (1.0 - b2) * g[i]
    return new


def yogi(x, g, state, t, *, lr=1e-2, betas=(0.9, 0.999), eps=1e-3, initial_accumulator_value=1e-6,
         weight_decay=0.0):
    """Zaheer et al. 2018, "Adaptive methods for nonconvex optimization", algorithm 2 (Yogi), which
    has no bias correction: v <- v - (1 - b2) sign(v - g^2) g^2; x <- x - lr m / (sqrt(v) + eps).
    The paper has no weight decay; it is the usual L2 term added to the gradient.
    (initial_accumulator_value is v_0: see :func:`init_state`.)"""
    b1, b2 = betas
    m, v = state["m"], state["v"]
    new = []
    for i in range(len(x)):
        gi = g[i] + weight_decay * x[i]
        m[i] = b1 * m[i] + (1.0 - b1) * gi
        v[i] = v[i] - (1.0 - b2) * _sign(v[i] - gi * gi) * gi * gi
        new.append(x[i] - lr * m[i] / (math.sqrt(v[i]) + eps))
    return new


def qhm(x, g, state, t, *, lr=1e-3, momentum=0.999, nu=0.7, weight_decay=0.0):
    """Ma & Yarats 2019, "Quasi-hyperbolic momentum and Adam for deep learning", eq. (QHM):
    g_buf <- beta g_buf + (1 - beta) grad;  x <- x - lr ((1 - nu) grad + nu g_buf).
    Weight decay as in the authors' qhoptim: L2 added to the gradient."""
    buf = state["g"]
    new = []
    for i in range(len(x)):
        gi = g[i] + weight_decay * x[i]
        buf[i] = momentum * buf[i] + (1.0 - momentum) * gi
        new.append(x[i] - lr * ((1.0 - nu) * gi + nu * buf[i]))
    return new


def qhadam(x, g, state, t, *, lr=1e-3, betas=(0.995, 0.999), nus=(0.7, 1.0), eps=1e-8, weight_decay=0.0):
    """Ma & Yarats 2019, algorithm (QHAdam): bias-corrected moments g^ = g_buf / (1 - b1^t),
    s^ = s / (1 - b2^t);  x <- x - lr ((1 - nu1) grad + nu1 g^) / (sqrt((1 - nu2) grad^2 + nu2 s^) + eps).
    Weight decay as in qhoptim: L2 added to the gradient."""
    b1, b2 = betas
    nu1, nu2 = nus
    buf, s = state["g"], state["s"]
    new = []
    for i in range(len(x)):
        gi = g[i] + weight_decay * x[i]
        buf[i] = b1 * buf[i] + (1.0 - b1) * gi
        s[i] = b2 * s[i] + (1.0 - b2) * gi**2
        g_hat = buf[i] / (1.0 - b1**t)
        s_hat = s[i] / (1.0 - b2**t)
        num = (1.0 - nu1) * gi + nu1 * g_hat
        den = math.sqrt((1.0 - nu2) * gi**2 + nu2 * s_hat) + eps
        new.append(x[i] - lr * num / den)
    return new


def newton(x, g, state, t, *, hessian, lr=1.0, damping=0.0):
    """Damped Newton (Nocedal & Wright 2006, ch. 3): x <- x - lr (H + damping I)^-1 g, solved by
    LAPACK (numpy.linalg.solve) rather than the engine's closed form."""
    h = np.array(hessian, dtype=np.float64) + damping * np.eye(len(x))
    p = np.linalg.solve(h, np.array(g, dtype=np.float64))
    return [x[i] - lr * float(p[i]) for i in range(len(x))]


UPDATES = {"adabelief": adabelief, "lion": lion, "yogi": yogi, "qhm": qhm, "qhadam": qhadam, "newton": newton}
