"""Classical theory on quadratic surfaces: the Hessian's eigen-directions, each optimizer's
stability limit (from its spec) and the best constant step and momentum for the condition
number (Polyak 1964), for the theory overlay."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..optim import optimizers as O
from .catalog import BoundSurface


@dataclass(frozen=True)
class Quadratic:
    center: np.ndarray  # the stationary point
    eigvals: np.ndarray  # ascending
    eigvecs: np.ndarray  # columns
    lines: np.ndarray  # (4, 2): two segments (pairs of points) along the eigen-directions

    @property
    def lam_max(self) -> float:
        return float(self.eigvals[-1])

    @property
    def lam_min(self) -> float:
        return float(self.eigvals[0])

    @property
    def kappa(self) -> float:
        return self.lam_max / self.lam_min if self.lam_min > 0 else float("inf")

    def best_gd(self) -> float:
        """Best constant learning rate of gradient descent: 2 / (lam_min + lam_max)."""
        return 2.0 / (self.lam_min + self.lam_max)

    def best_momentum(self) -> tuple[float, float]:
        """Polyak's heavy ball: mu = ((sqrt k - 1)/(sqrt k + 1))^2, lr = 4/(sqrt lmax + sqrt lmin)^2."""
        a, b = np.sqrt(self.lam_max), np.sqrt(max(self.lam_min, 0.0))
        return float(((a - b) / (a + b)) ** 2), float(4.0 / (a + b) ** 2)


def analyse(surface: BoundSurface) -> Quadratic | None:
    if not surface.spec.quadratic:
        return None
    c = surface.minima[0] if len(surface.minima) else np.zeros(2)
    H = surface.hessian(*c)
    w, V = np.linalg.eigh(0.5 * (H + H.T))
    (x0, x1), (y0, y1) = surface.spec.domain
    half = 0.5 * np.hypot(x1 - x0, y1 - y0)
    lines = np.array([c - half * V[:, 0], c + half * V[:, 0], c - half * V[:, 1], c + half * V[:, 1]])
    return Quadratic(np.asarray(c, dtype=float), w, V, lines)


def describe(q: Quadratic) -> str:
    lines = [f"λ = {q.lam_min:.3g}, {q.lam_max:.3g}   κ = {q.kappa:.3g}"]
    if q.lam_max > 0:
        lines.append(f"GD stable for lr < 2/λmax = {2 / q.lam_max:.3g}")
        if q.lam_min > 0:
            mu, lr = q.best_momentum()
            lines.append(f"best GD lr = {q.best_gd():.3g};  best momentum μ = {mu:.3g} at lr = {lr:.3g}")
    return "\n".join(lines)


def lr_of(optimizer: str, hyper: dict) -> float:
    return float({**O.spec(optimizer).defaults(), **hyper}["lr"])


def stability_limit(q: Quadratic, optimizer: str, hyper: dict) -> float | None:
    """The largest stable learning rate from the optimizer's spec, or None (adaptive ones)."""
    spec = O.spec(optimizer)
    if spec.stability is None or q.lam_max <= 0:
        return None
    return float(spec.stability(q.lam_max, {**spec.defaults(), **hyper}))


def best_lr(q: Quadratic, optimizer: str, hyper: dict) -> float | None:
    """Best constant step for the condition number: GD's, or Polyak's for momentum methods."""
    spec = O.spec(optimizer)
    if spec.stability is None or q.lam_min <= 0:
        return None
    momentum = float({**spec.defaults(), **hyper}.get("momentum", 0.0))
    return q.best_momentum()[1] if momentum else q.best_gd()
