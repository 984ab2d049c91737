"""The surface as an image to colour: f sampled by the engine on a grid, then put on a log
scale (log10(f - f* + offset)) or, for surfaces unbounded below, a symmetric log scale."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.surfaces import BoundSurface

GRID = 320
CONTOURS = 14


@dataclass(frozen=True)
class SurfaceImage:
    xs: np.ndarray
    ys: np.ndarray
    z: np.ndarray  # (len(ys), len(xs)) on the display scale
    levels: tuple[float, float]  # colour range
    contours: np.ndarray  # iso-levels on the display scale
    scale: str  # "log" or "symlog"
    offset: float  # the offset added inside the log (log) or the linear width (symlog)


def make(surface: BoundSurface, n: int = GRID) -> SurfaceImage:
    (x0, x1), (y0, y1) = surface.spec.domain
    xs = np.linspace(x0, x1, n)
    ys = np.linspace(y0, y1, n)
    f = surface.grid(xs, ys)
    finite = np.isfinite(f)
    fin = f[finite] if finite.any() else np.zeros(1)
    if surface.bounded_below:
        d = np.maximum(f - surface.f_min, 0.0)
        spread = float(np.percentile(d[finite], 50)) if finite.any() else 1.0
        # The offset sets how far down the log scale reaches: about 6 decades below the median.
        offset = max(spread * 1e-6, 1e-12)
        z = np.log10(d + offset)
        scale = "log"
    else:
        offset = max(float(np.percentile(np.abs(fin), 20)), 1e-12)
        z = np.sign(f) * np.log10(1.0 + np.abs(f) / offset)
        scale = "symlog"
    z = np.where(finite, z, np.nan)
    zf = z[np.isfinite(z)]
    lo, hi = (float(np.percentile(zf, 0.5)), float(np.percentile(zf, 99.5))) if zf.size else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    z = np.nan_to_num(z, nan=hi, posinf=hi, neginf=lo)
    contours = np.linspace(lo, hi, CONTOURS + 2)[1:-1]
    return SurfaceImage(xs, ys, z, (lo, hi), contours, scale, offset)


def display_loss(surface: BoundSurface, f: np.ndarray) -> np.ndarray:
    """Loss on the plots' scale: f - f* (for a log axis) or f itself when unbounded below."""
    f = np.asarray(f, dtype=np.float64)
    if surface.bounded_below:
        return np.maximum(f - surface.f_min, 1e-16)
    return f
