"""numba kernels for the built-in 2-D surfaces: value, gradient and Hessian in one call,
dispatched on an integer surface code so one compiled race kernel serves every surface.

``p`` is the surface's parameter array (see the catalogue in :mod:`engine.surfaces.catalog`).
``fgh(code, x, y, p, g, H, want_h)`` returns f, writes the gradient into ``g`` (2,) and,
when ``want_h``, the Hessian into ``H`` (2, 2).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

JIT = dict(cache=True, nogil=True)

(ROSENBROCK, BEALE, BOOTH, HIMMELBLAU, RASTRIGIN, ACKLEY, GOLDSTEIN_PRICE, SIX_HUMP_CAMEL,
 STYBLINSKI_TANG, SADDLE, MONKEY_SADDLE, QUADRATIC, CLIFF, MATYAS) = range(14)


@njit(inline="always", **JIT)
def _set(g, H, want_h, gx, gy, hxx, hxy, hyy):
    g[0] = gx
    g[1] = gy
    if want_h:
        H[0, 0] = hxx
        H[0, 1] = hxy
        H[1, 0] = hxy
        H[1, 1] = hyy


@njit(**JIT)
def _rosenbrock(x, y, p, g, H, want_h):
    a, b = p[0], p[1]
    r = y - x * x
    _set(g, H, want_h, -2.0 * (a - x) - 4.0 * b * x * r, 2.0 * b * r,
         2.0 - 4.0 * b * y + 12.0 * b * x * x, -4.0 * b * x, 2.0 * b)
    return (a - x) ** 2 + b * r * r


@njit(**JIT)
def _beale(x, y, p, g, H, want_h):
    y2 = y * y
    y3 = y2 * y
    u1 = 1.5 - x + x * y
    u2 = 2.25 - x + x * y2
    u3 = 2.625 - x + x * y3
    ax1, ax2, ax3 = y - 1.0, y2 - 1.0, y3 - 1.0  # du_i/dx
    ay1, ay2, ay3 = x, 2.0 * x * y, 3.0 * x * y2  # du_i/dy
    gx = 2.0 * (u1 * ax1 + u2 * ax2 + u3 * ax3)
    gy = 2.0 * (u1 * ay1 + u2 * ay2 + u3 * ay3)
    hxx = 2.0 * (ax1 * ax1 + ax2 * ax2 + ax3 * ax3)
    hxy = 2.0 * (ax1 * ay1 + u1 + ax2 * ay2 + u2 * 2.0 * y + ax3 * ay3 + u3 * 3.0 * y2)
    hyy = 2.0 * (ay1 * ay1 + ay2 * ay2 + u2 * 2.0 * x + ay3 * ay3 + u3 * 6.0 * x * y)
    _set(g, H, want_h, gx, gy, hxx, hxy, hyy)
    return u1 * u1 + u2 * u2 + u3 * u3


@njit(**JIT)
def _booth(x, y, p, g, H, want_h):
    u = x + 2.0 * y - 7.0
    v = 2.0 * x + y - 5.0
    _set(g, H, want_h, 2.0 * u + 4.0 * v, 4.0 * u + 2.0 * v, 10.0, 8.0, 10.0)
    return u * u + v * v


@njit(**JIT)
def _himmelblau(x, y, p, g, H, want_h):
    u = x * x + y - 11.0
    v = x + y * y - 7.0
    _set(g, H, want_h, 4.0 * x * u + 2.0 * v, 2.0 * u + 4.0 * y * v,
         12.0 * x * x + 4.0 * y - 42.0, 4.0 * x + 4.0 * y, 4.0 * x + 12.0 * y * y - 26.0)
    return u * u + v * v


@njit(**JIT)
def _rastrigin(x, y, p, g, H, want_h):
    A = p[0]
    w = 2.0 * math.pi
    _set(g, H, want_h, 2.0 * x + w * A * math.sin(w * x), 2.0 * y + w * A * math.sin(w * y),
         2.0 + w * w * A * math.cos(w * x), 0.0, 2.0 + w * w * A * math.cos(w * y))
    return 2.0 * A + x * x - A * math.cos(w * x) + y * y - A * math.cos(w * y)


@njit(**JIT)
def _ackley(x, y, p, g, H, want_h):
    a, b, c = p[0], p[1], p[2]
    r = math.sqrt(0.5 * (x * x + y * y))
    e1 = math.exp(-b * r)
    E = math.exp(0.5 * (math.cos(c * x) + math.cos(c * y)))
    f = -a * e1 - E + a + math.e
    sx, sy = math.sin(c * x), math.sin(c * y)
    t2x = 0.5 * c * E * sx
    t2y = 0.5 * c * E * sy
    t2xx = 0.5 * c * c * E * (math.cos(c * x) - 0.5 * sx * sx)
    t2yy = 0.5 * c * c * E * (math.cos(c * y) - 0.5 * sy * sy)
    t2xy = -0.25 * c * c * E * sx * sy
    if r == 0.0:
        # The cone term has no gradient at the origin: return the subgradient 0 (the minimum)
        # and the Hessian of the smooth cosine term alone.
        _set(g, H, want_h, t2x, t2y, t2xx, t2xy, t2yy)
        return f
    k = 0.5 * a * b * e1 / r  # d(cone)/dx = k * x
    dk = -0.5 * a * b * e1 * (b * r + 1.0) / (r * r)  # dk/dr; dr/dx = 0.5 x / r
    _set(g, H, want_h, k * x + t2x, k * y + t2y,
         k + x * x * 0.5 / r * dk + t2xx, x * y * 0.5 / r * dk + t2xy, k + y * y * 0.5 / r * dk + t2yy)
    return f


@njit(**JIT)
def _goldstein_price(x, y, p, g, H, want_h):
    P = x + y + 1.0
    q = 19.0 - 14.0 * x + 3.0 * x * x - 14.0 * y + 6.0 * x * y + 3.0 * y * y
    qd = -14.0 + 6.0 * x + 6.0 * y  # dq/dx = dq/dy
    A = 1.0 + P * P * q
    Ax = 2.0 * P * q + P * P * qd
    S = 2.0 * x - 3.0 * y
    w = 18.0 - 32.0 * x + 12.0 * x * x + 48.0 * y - 36.0 * x * y + 27.0 * y * y
    wx = -32.0 + 24.0 * x - 36.0 * y
    wy = 48.0 - 36.0 * x + 54.0 * y
    B = 30.0 + S * S * w
    Bx = 4.0 * S * w + S * S * wx
    By = -6.0 * S * w + S * S * wy
    Axx = 2.0 * q + 4.0 * P * qd + 6.0 * P * P  # also A_xy and A_yy, as q is symmetric in its slopes
    Bxx = 8.0 * w + 8.0 * S * wx + 24.0 * S * S
    Bxy = -12.0 * w + 4.0 * S * wy - 6.0 * S * wx - 36.0 * S * S
    Byy = 18.0 * w - 12.0 * S * wy + 54.0 * S * S
    _set(g, H, want_h, Ax * B + A * Bx, Ax * B + A * By,
         Axx * B + 2.0 * Ax * Bx + A * Bxx, Axx * B + Ax * By + Ax * Bx + A * Bxy,
         Axx * B + 2.0 * Ax * By + A * Byy)
    return A * B


@njit(**JIT)
def _six_hump_camel(x, y, p, g, H, want_h):
    x2 = x * x
    y2 = y * y
    _set(g, H, want_h, 8.0 * x - 8.4 * x2 * x + 2.0 * x2 * x2 * x + y, x - 8.0 * y + 16.0 * y2 * y,
         8.0 - 25.2 * x2 + 10.0 * x2 * x2, 1.0, -8.0 + 48.0 * y2)
    return (4.0 - 2.1 * x2 + x2 * x2 / 3.0) * x2 + x * y + (-4.0 + 4.0 * y2) * y2


@njit(**JIT)
def _styblinski_tang(x, y, p, g, H, want_h):
    _set(g, H, want_h, 2.0 * x ** 3 - 16.0 * x + 2.5, 2.0 * y ** 3 - 16.0 * y + 2.5,
         6.0 * x * x - 16.0, 0.0, 6.0 * y * y - 16.0)
    return 0.5 * (x ** 4 - 16.0 * x * x + 5.0 * x + y ** 4 - 16.0 * y * y + 5.0 * y)


@njit(**JIT)
def _saddle(x, y, p, g, H, want_h):
    _set(g, H, want_h, 2.0 * x, -2.0 * y, 2.0, 0.0, -2.0)
    return x * x - y * y


@njit(**JIT)
def _monkey_saddle(x, y, p, g, H, want_h):
    _set(g, H, want_h, 3.0 * x * x - 3.0 * y * y, -6.0 * x * y, 6.0 * x, -6.0 * y, -6.0 * x)
    return x ** 3 - 3.0 * x * y * y


@njit(inline="always", **JIT)
def _quadratic_hessian(kappa, angle_deg):
    th = angle_deg * math.pi / 180.0
    c, s = math.cos(th), math.sin(th)
    # H = R^T diag(1, kappa) R with u = c x + s y, v = -s x + c y.
    return c * c + kappa * s * s, (1.0 - kappa) * c * s, s * s + kappa * c * c


@njit(**JIT)
def _quadratic(x, y, p, g, H, want_h):
    hxx, hxy, hyy = _quadratic_hessian(p[0], p[1])
    gx = hxx * x + hxy * y
    gy = hxy * x + hyy * y
    _set(g, H, want_h, gx, gy, hxx, hxy, hyy)
    return 0.5 * (x * gx + y * gy)


@njit(inline="always", **JIT)
def _sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@njit(**JIT)
def _cliff(x, y, p, g, H, want_h):
    # A gentle bowl around (1.5, 0) plus a wall of height h and steepness k at x = 0.
    h, k, a = p[0], p[1], p[2]
    s = _sigmoid(-k * x)
    ds = s * (1.0 - s)
    _set(g, H, want_h, a * (x - 1.5) - h * k * ds, a * y,
         a + h * k * k * ds * (1.0 - 2.0 * s), 0.0, a)
    return 0.5 * a * ((x - 1.5) ** 2 + y * y) + h * s


@njit(**JIT)
def _matyas(x, y, p, g, H, want_h):
    _set(g, H, want_h, 0.52 * x - 0.48 * y, 0.52 * y - 0.48 * x, 0.52, -0.48, 0.52)
    return 0.26 * (x * x + y * y) - 0.48 * x * y


@njit(**JIT)
def fgh(code, x, y, p, g, H, want_h):
    """f(x, y) of surface ``code``; gradient into g, Hessian into H when want_h."""
    if code == ROSENBROCK:
        return _rosenbrock(x, y, p, g, H, want_h)
    elif code == BEALE:
        return _beale(x, y, p, g, H, want_h)
    elif code == BOOTH:
        return _booth(x, y, p, g, H, want_h)
    elif code == HIMMELBLAU:
        return _himmelblau(x, y, p, g, H, want_h)
    elif code == RASTRIGIN:
        return _rastrigin(x, y, p, g, H, want_h)
    elif code == ACKLEY:
        return _ackley(x, y, p, g, H, want_h)
    elif code == GOLDSTEIN_PRICE:
        return _goldstein_price(x, y, p, g, H, want_h)
    elif code == SIX_HUMP_CAMEL:
        return _six_hump_camel(x, y, p, g, H, want_h)
    elif code == STYBLINSKI_TANG:
        return _styblinski_tang(x, y, p, g, H, want_h)
    elif code == SADDLE:
        return _saddle(x, y, p, g, H, want_h)
    elif code == MONKEY_SADDLE:
        return _monkey_saddle(x, y, p, g, H, want_h)
    elif code == QUADRATIC:
        return _quadratic(x, y, p, g, H, want_h)
    elif code == CLIFF:
        return _cliff(x, y, p, g, H, want_h)
    elif code == MATYAS:
        return _matyas(x, y, p, g, H, want_h)
    g[0] = np.nan
    g[1] = np.nan
    return np.nan


@njit(parallel=True, cache=True, nogil=True)  # sampled in a worker: the GUI thread keeps running
def grid(code, p, xs, ys):
    """f on the grid ys x xs (rows are y), for the contour map."""
    out = np.empty((ys.shape[0], xs.shape[0]))
    for j in prange(ys.shape[0]):
        g = np.empty(2)
        H = np.empty((2, 2))
        for i in range(xs.shape[0]):
            # np.bool_: a runtime bool, not the literal False, which would compile every surface again.
            out[j, i] = fgh(code, xs[i], ys[j], p, g, H, np.bool_(False))
    return out
