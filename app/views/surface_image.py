"""The surface as an image to colour: f sampled by the engine on a grid, then put on a log
scale (log10(f - f* + offset)) or, for surfaces unbounded below, a symmetric log scale.
The scale is fixed from the plotting domain, so colours keep their meaning when the view
zooms or pans and the grid is resampled over what is visible."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.surfaces.catalog import BoundSurface

from . import contours

GRID = 320
CONTOURS = 14


@dataclass(frozen=True)
class Scale:
    kind: str  # "log" or "symlog"
    offset: float  # added inside the log (log) or the linear width (symlog)
    f_min: float
    levels: tuple[float, float]  # colour range on the display scale
    contours: np.ndarray  # iso-levels on the display scale

    def apply(self, f: np.ndarray) -> np.ndarray:
        if self.kind == "log":
            z = np.log10(np.maximum(f - self.f_min, 0.0) + self.offset)
        else:
            z = np.sign(f) * np.log10(1.0 + np.abs(f) / self.offset)
        lo, hi = self.levels
        return np.nan_to_num(np.where(np.isfinite(f), z, hi), nan=hi, posinf=hi, neginf=lo)

    def ticks(self, most: int = 7) -> list[tuple[float, str]]:
        """Colour-bar ticks (display value, label): decades of f - f* on a log scale, of
        |f| on both sides of 0 on a symmetric one; the smaller ones left out where they crowd."""
        lo, hi = self.levels
        if self.kind == "log":
            k = np.arange(np.floor(np.log10(self.offset)), np.ceil(hi) + 1)
            at = np.log10(10.0 ** k + self.offset)
            ticks = [(float(z), _decade(int(e))) for z, e in zip(at, k) if lo <= z <= hi]
        else:
            top = np.log10(self.offset) + max(abs(lo), abs(hi))  # log10 of the largest |f| shown
            ticks = [(0.0, "0")] if lo <= 0 <= hi else []
            for e in range(int(np.floor(np.log10(self.offset))), int(np.ceil(top)) + 1):
                z = float(np.log10(1.0 + 10.0 ** e / self.offset))
                ticks += [(sg * z, ("−" if sg < 0 else "") + _decade(e)) for sg in (-1, 1) if lo <= sg * z <= hi]
        # Largest values first (and 0), each kept where it clears those kept already.
        gap = (hi - lo) / (most + 1)
        kept: list[tuple[float, str]] = []
        for t in sorted(ticks, key=lambda t: (t[1] != "0", -abs(t[0]))):
            if all(abs(t[0] - k[0]) >= gap for k in kept):
                kept.append(t)
        return sorted(kept)


def _decade(e: int) -> str:
    if -3 <= e <= 3:
        return f"{10.0 ** e:g}"
    sup = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
    return "10" + str(e).translate(sup)


@dataclass(frozen=True)
class SurfaceImage:
    xs: np.ndarray
    ys: np.ndarray
    z: np.ndarray  # (len(ys), len(xs)) on the display scale
    scale: Scale


def scale_for(surface: BoundSurface, n: int = GRID // 2) -> Scale:
    (x0, x1), (y0, y1) = surface.spec.domain
    f = surface.grid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    finite = np.isfinite(f)
    fin = f[finite] if finite.any() else np.zeros(1)
    if surface.bounded_below:
        d = np.maximum(fin - surface.f_min, 0.0)
        # The offset sets how far down the log scale reaches: about 6 decades below the median.
        offset = max(float(np.median(d)) * 1e-6, 1e-12)
        s = Scale("log", offset, float(surface.f_min), (0.0, 1.0), np.zeros(0))
    else:
        offset = max(float(np.percentile(np.abs(fin), 20)), 1e-12)
        s = Scale("symlog", offset, 0.0, (0.0, 1.0), np.zeros(0))
    z = s.apply(fin)
    lo, hi = float(np.percentile(z, 0.5)), float(np.percentile(z, 99.5))
    if hi <= lo:
        hi = lo + 1.0
    return Scale(s.kind, s.offset, s.f_min, (lo, hi), np.linspace(lo, hi, CONTOURS + 2)[1:-1])


def sample(surface: BoundSurface, scale: Scale, xr: tuple[float, float], yr: tuple[float, float],
           n: int = GRID) -> SurfaceImage:
    xs = np.linspace(xr[0], xr[1], n)
    ys = np.linspace(yr[0], yr[1], n)
    return SurfaceImage(xs, ys, scale.apply(surface.grid(xs, ys)), scale)


@dataclass(frozen=True)
class Sampled:
    """A map's background: the surface sampled over a rectangle, and its iso-lines."""

    scale: Scale
    z: np.ndarray  # (GRID, GRID) on the display scale
    xr: tuple[float, float]
    yr: tuple[float, float]
    iso_lines: list[np.ndarray]  # per contour level of the scale, segments (2M, 2)


def sample_map(surface: BoundSurface, scale: Scale | None, xr: tuple[float, float],
               yr: tuple[float, float]) -> Sampled:
    """Samples and iso-lines over (xr, yr) (and the scale first, when None): tens of
    milliseconds, run in a worker for a window on screen."""
    scale = scale or scale_for(surface)
    img = sample(surface, scale, xr, yr)
    # Iso-lines from every other sample: half the segments, a quarter of the work, and
    # still under 4 px per segment on a full-HD map.
    xs, ys, z = img.xs[::2], img.ys[::2], img.z[::2, ::2]
    return Sampled(scale, img.z, xr, yr, [contours.segments(xs, ys, z, [lv]) for lv in scale.contours])


def display_loss(surface: BoundSurface, f: np.ndarray) -> np.ndarray:
    """Loss on the plots' scale: f - f* (for a log axis) or f itself when unbounded below."""
    f = np.asarray(f, dtype=np.float64)
    if surface.bounded_below:
        return np.maximum(f - surface.f_min, 1e-16)
    return f
