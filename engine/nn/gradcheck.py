"""Gradient checking: centered finite differences of the full loss against backprop, per
parameter group, and the epsilon sweep that shows truncation error falling and round-off
error rising as the step shrinks."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mistakes import analytic_grad
from .network import Network

EPS_SWEEP = tuple(10.0 ** -k for k in range(1, 13))  # 1e-1 .. 1e-12
# A layer's relative error: below PASS backprop is right (green), above FAIL it is wrong (red);
# between, look closer (a kink of ReLU inside the step, a loss near its float64 floor).
PASS, FAIL = 1e-7, 1e-4


@dataclass(frozen=True)
class GradCheck:
    """``index`` the checked parameters, ``numeric`` and ``analytic`` their derivatives;
    ``layers`` maps each parameter group to ||numeric - analytic|| / (||numeric|| + ||analytic||)
    over its checked entries (0 when both vanish), ``abs_errors`` to max |numeric - analytic|
    (the meaningful figure where the true gradient is zero, e.g. a bias before batch norm)."""

    eps: float
    index: np.ndarray
    numeric: np.ndarray
    analytic: np.ndarray
    layers: dict[str, float]
    abs_errors: dict[str, float]

    @property
    def max_error(self) -> float:
        return max(self.layers.values()) if self.layers else 0.0

    def failures(self, rtol: float = 1e-6, atol: float = 1e-8) -> dict[str, float]:
        """Groups whose relative error exceeds rtol while their absolute error exceeds atol."""
        return {k: v for k, v in self.layers.items() if v > rtol and self.abs_errors[k] > atol}


def _rel(a, b):
    den = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / den) if den > 0 else 0.0


def _indices(net: Network, sample: int | None, seed: int) -> np.ndarray:
    n = net.n_params
    if sample is None or sample >= n:
        return np.arange(n)
    if sample < 1:
        raise ValueError(f"sample must be >= 1 parameters, got {sample}")
    return np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))


def numeric_grad(net: Network, X, y, index, eps: float, train=False, step=0) -> np.ndarray:
    """Centered differences (f(p + h e_i) - f(p - h e_i)) / (2h) at the given indices, with h
    the step actually representable at p_i.  Parameters and running statistics are restored."""
    p0 = net.params.copy()
    r0 = net.running.copy()
    out = np.empty(len(index))
    try:
        for j, i in enumerate(index):
            hi = p0[i] + eps
            lo = p0[i] - eps
            net.params[i] = hi
            fp = net.loss_value(X, y, train, step)
            net.params[i] = lo
            fm = net.loss_value(X, y, train, step)
            net.params[i] = p0[i]
            out[j] = (fp - fm) / (hi - lo)
    finally:
        net.params[:] = p0
        net.running[:] = r0
    return out


def gradcheck(net: Network, X, y, eps: float = 1e-6, sample: int | None = None, seed: int = 0,
              train: bool = False, step: int = 0, mistake: str | None = None, layer: int | None = None,
              job=None, index: np.ndarray | None = None) -> GradCheck:
    """Compare backprop with centered differences for every parameter (or ``sample`` of them
    drawn with ``seed``, or those at ``index``).  In training mode the dropout masks are those of ``step``.  With
    ``mistake`` the analytic side is backprop with that mistake at dense ``layer``
    (:mod:`engine.nn.mistakes`); ``job`` (progress(done, total), check()) reports per group."""
    if not 0.0 < eps < 1.0:
        raise ValueError(f"eps must be in (0, 1), got {eps}")
    _, g = analytic_grad(net, X, y, mistake, layer, train, step)
    idx = _indices(net, sample, seed) if index is None else np.unique(np.asarray(index, dtype=np.int64))
    if idx.size and (idx[0] < 0 or idx[-1] >= net.n_params):
        raise ValueError(f"index must lie in [0, {net.n_params}), got {idx[0]}..{idx[-1]}")
    num = np.empty(len(idx))
    for j, grp in enumerate(net.groups):  # a group at a time, so that a job can follow and cancel
        sel = (idx >= grp.offset) & (idx < grp.offset + grp.size)
        num[sel] = numeric_grad(net, X, y, idx[sel], eps, train, step)
        if job is not None:
            job.check()
            job.progress(j + 1, len(net.groups))
    ana = g[idx]
    layers, abs_errors = {}, {}
    for grp in net.groups:
        sel = (idx >= grp.offset) & (idx < grp.offset + grp.size)
        if sel.any():
            layers[grp.name] = _rel(num[sel], ana[sel])
            abs_errors[grp.name] = float(np.max(np.abs(num[sel] - ana[sel])))
    return GradCheck(eps, idx, num, ana, layers, abs_errors)


def eps_sweep(net: Network, X, y, eps=EPS_SWEEP, sample: int | None = 50, seed: int = 0,
              train: bool = False, step: int = 0, mistake: str | None = None, layer: int | None = None,
              job=None, index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(eps, relative error of the finite differences against backprop) over a seeded sample
    of parameters: large steps suffer truncation error O(eps^2), tiny ones round-off O(u/eps).
    ``mistake``, ``layer`` and ``index`` as in :func:`gradcheck` (a mistake floors the curve)."""
    eps = np.asarray(eps, dtype=np.float64)
    if eps.ndim != 1 or eps.size == 0 or np.any(eps <= 0) or np.any(eps >= 1):
        raise ValueError("eps must be a non-empty list of steps in (0, 1)")
    _, g = analytic_grad(net, X, y, mistake, layer, train, step)
    idx = _indices(net, sample, seed) if index is None else np.asarray(index, dtype=np.int64)
    errs = np.empty(eps.size)
    for j, e in enumerate(eps):
        errs[j] = _rel(numeric_grad(net, X, y, idx, float(e), train, step), g[idx])
        if job is not None:
            job.check()
            job.progress(j + 1, eps.size)
    return eps, errs


def group_sample(net: Network, per_group: int, seed: int = 0) -> np.ndarray:
    """Up to ``per_group`` seeded parameter indices of every group (all of a smaller group):
    every layer checked, at a cost that does not grow with its width."""
    rng = np.random.default_rng(seed)
    parts = [g.offset + (np.arange(g.size) if g.size <= per_group else
                         np.sort(rng.choice(g.size, size=per_group, replace=False))) for g in net.groups]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def reference_lines(eps: np.ndarray, errs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The truncation line c eps^2 and the round-off line c' / eps of a sweep, each through
    the sweep's lowest error (where the two meet): the slopes 2 and -1 of the log-log plot."""
    eps, errs = np.asarray(eps, dtype=np.float64), np.asarray(errs, dtype=np.float64)
    ok = np.isfinite(errs) & (errs > 0)
    if not ok.any():
        return np.full(eps.shape, np.nan), np.full(eps.shape, np.nan)
    k = int(np.argmin(np.where(ok, errs, np.inf)))
    e0, r0 = eps[k], errs[k]
    return r0 * (eps / e0) ** 2, r0 * e0 / eps


def layer_errors(net: Network, check: GradCheck) -> np.ndarray:
    """Per dense layer (input to output) the larger relative error of its W and b: the
    figure a layer passes (below PASS) or fails (above FAIL) by; NaN if none was checked."""
    out = np.full(len(net.dense), np.nan)
    for i, d in enumerate(net.dense):
        errs = [check.layers[g.name] for g in (d.w, d.b) if g is not None and g.name in check.layers]
        if errs:
            out[i] = max(errs)
    return out
