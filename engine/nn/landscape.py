"""A network's own loss landscape: its loss on a grid in a 2-D plane of weight space (Li et al.
2018), the planes (filter-normalised random directions, or the plane through three weight
vectors) and paths projected onto them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from .blas import single_thread
from .kernels import _buf, forward, loss
from .network import Network


@dataclass(frozen=True)
class Plane:
    """``origin + a * d1 + b * d2``; ``kind`` says how the directions were chosen."""

    origin: np.ndarray
    d1: np.ndarray
    d2: np.ndarray
    kind: str  # "random" (filter-normalised) or "points" (through three weight vectors)

    def at(self, a: float, b: float) -> np.ndarray:
        return self.origin + a * self.d1 + b * self.d2

    def project(self, path: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Coordinates (n, 2) of the weight vectors ``path`` (n, P) in the plane (least squares:
        filter-normalised directions are only nearly orthogonal) and each one's distance from it."""
        path = np.atleast_2d(np.asarray(path, dtype=np.float64))
        A = np.stack([self.d1, self.d2], axis=1)
        rel = (path - self.origin).T
        coef, *_ = np.linalg.lstsq(A, rel, rcond=None)
        off = rel - A @ coef
        return coef.T, np.linalg.norm(off, axis=0)


def filter_normalized(net: Network, rng: np.random.Generator, params: np.ndarray | None = None) -> np.ndarray:
    """A Gaussian direction in weight space with each filter (one unit's incoming weights: a column
    of a dense layer's W) scaled to the norm of the same filter of ``params`` (the network's own
    by default); bias, normalisation and every other entry are zero (Li et al. 2018, section 4)."""
    theta = net.params if params is None else params
    d = np.zeros_like(theta)
    for layer in net.dense:
        w = layer.w
        W = theta[w.offset: w.offset + w.size].reshape(w.shape)
        D = rng.standard_normal(w.shape)
        D *= np.linalg.norm(W, axis=0) / np.maximum(np.linalg.norm(D, axis=0), 1e-300)
        d[w.offset: w.offset + w.size] = D.ravel()
    return d


def random_plane(net: Network, seed: int = 0, params: np.ndarray | None = None) -> Plane:
    """Two filter-normalised random directions through ``params`` (the network's own by default)."""
    rng = np.random.default_rng(seed)
    origin = np.array(net.params if params is None else params, dtype=np.float64)
    return Plane(origin, filter_normalized(net, rng, origin), filter_normalized(net, rng, origin), "random")


def plane_through(origin: np.ndarray, p1: np.ndarray, p2: np.ndarray) -> Plane:
    """The plane through three weight vectors (the common initialisation and two contenders' final
    weights), orthonormal directions by Gram-Schmidt: ``p1`` lies on the first axis, so the paths of
    every contender are drawn on one comparable plane."""
    origin = np.asarray(origin, dtype=np.float64)
    u = np.asarray(p1, dtype=np.float64) - origin
    v = np.asarray(p2, dtype=np.float64) - origin
    nu = np.linalg.norm(u)
    if nu == 0:
        raise ValueError("the first point is the origin: no plane through them")
    d1 = u / nu
    v = v - (d1 @ v) * d1
    nv = np.linalg.norm(v)
    if nv <= 1e-12 * max(nu, 1.0):
        raise ValueError("the three points lie on one line: no plane through them")
    return Plane(origin, d1, v / nv, "points")


@njit(parallel=True, cache=True, nogil=True)
def _loss_grid(opi, opf, cum, loss_kind, rs, origin, d1, d2, alphas, betas, X, yi, yf, wm_size, widest, out):
    """out[j, i] = the loss (test mode) on X at origin + alphas[i] d1 + betas[j] d2; one grid row
    per thread, each with its own parameter vector and buffers."""
    B = X.shape[0]
    last = cum.shape[0] - 2
    k = cum[last + 1] - cum[last]
    for j in prange(betas.shape[0]):
        params = np.empty_like(origin)
        Z = np.zeros(B * cum[cum.shape[0] - 1])
        WM = np.zeros(max(wm_size, 1))
        bits = np.zeros(B * widest, dtype=np.int64)
        dout = np.zeros((1, 1))
        for i in range(alphas.shape[0]):
            a, b = alphas[i], betas[j]
            for q in range(params.shape[0]):  # no temporaries: this runs once per grid point
                params[q] = origin[q] + a * d1[q] + b * d2[q]
            _buf(Z, cum, 0, B)[:] = X.ravel()
            forward(opi, opf, cum, params, rs, Z, WM, bits, B, False, 0, 0)
            outs = _buf(Z, cum, last, B).reshape((B, k))
            out[j, i] = loss(loss_kind, outs, yi, yf, dout, False)[0]


def loss_grid(net: Network, X: np.ndarray, y: np.ndarray, plane: Plane,
              alphas: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """The network's loss (test mode: no dropout, batch norm's running statistics) on the whole of
    ``X, y`` at every point of the grid, shape (len(betas), len(alphas)); NaN or inf where the
    loss overflows, as the surface views expect of a diverging region."""
    X, yi, yf = net.check_inputs(X, y)
    alphas = np.ascontiguousarray(alphas, dtype=np.float64)
    betas = np.ascontiguousarray(betas, dtype=np.float64)
    out = np.empty((betas.shape[0], alphas.shape[0]))
    widest = int(np.max(np.diff(net.cum)))
    with single_thread(), np.errstate(all="ignore"):
        _loss_grid(net.opi, net.opf, net.cum, net.loss.code, net.running, plane.origin, plane.d1, plane.d2,
                   alphas, betas, X, yi, yf, net.wm_size, widest, out)
    return out
