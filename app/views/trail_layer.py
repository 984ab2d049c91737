"""Racer trails drawn into a cached image in screen pixels.  Each frame paints only the new
segments; after a zoom, pan, resize or jump the layer is rebuilt from the (bounded) history,
decimated to screen pixels, a few milliseconds per paint so the GUI never stalls.  Frame
time therefore does not depend on the race's length."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph.functions as fn
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainter, QPen

from .screen_layer import ScreenLayer

# Points further than this from the screen are clamped: the trail keeps its direction and
# QPainter never sees astronomically large coordinates from a diverging racer.
CLAMP_PX = 1e5
REBUILD_BATCH = 64  # segments per racer per round of the rebuild
# A rebuild draws at most this many points per racer: the latest RECENT at full resolution,
# the older part evenly thinned (it is already thinned in the history of a long race).
REBUILD_POINTS = 2000
RECENT = 600


class TrailLayer(ScreenLayer):
    budget_s = 0.005  # drawing time per paint while the layer is being rebuilt

    def __init__(self, viewbox):
        super().__init__(viewbox)
        self.frame = None
        self.colors: list[QColor] = []
        self.width = 4.0
        self.halo = QColor(0, 0, 0, 160)
        self._pending: list[np.ndarray] | None = None  # per racer, new points (data coordinates)
        self._last: np.ndarray | None = None  # last point drawn per racer (data coordinates)
        self._job: list[np.ndarray] | None = None  # rebuild in progress: pixel paths per racer
        self._job_at: list[int] = []
        self.full_redraws = 0

    def set_style(self, colors: list[str], width: float, halo: str = "#a0000000") -> None:
        self.colors = [QColor(c) for c in colors]
        self.width = float(width)
        self.halo = QColor(halo)
        self.invalidate()

    def invalidate(self) -> None:
        self._pending = None  # the rebuild at the next paint draws from the history
        super().invalidate()

    def set_frame(self, frame) -> None:
        old = self.frame
        self.frame = frame
        if (old is None or frame.tail is None or old.generation != frame.generation
                or self._pending is None or len(self.colors) != frame.n_racers):
            self.invalidate()
            return
        if frame.tail.shape[1]:
            for r in range(frame.n_racers):
                self._pending[r] = np.concatenate([self._pending[r], frame.tail[r]])
        self.update()

    @property
    def rebuilding(self) -> bool:
        return self._job is not None

    busy = rebuilding

    def has_content(self) -> bool:
        return self.frame is not None

    # -- drawing --------------------------------------------------------------------------------
    def _pens(self):
        return [QPen(c, self.width, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin) for c in self.colors]

    def _painter(self) -> QPainter:
        p = QPainter(self._image)
        p.setRenderHint(QPainter.Antialiasing)
        return p

    def _stroke(self, p: QPainter, pen: QPen, halo: QPen, px: np.ndarray, smooth: bool = True) -> None:
        """A trail piece in its colour, then its dark halo *under* everything already drawn,
        so halos never cover a trail (old or new) and trails read on any background.  The
        halo is drawn without antialiasing: five times cheaper, and invisible under the trail."""
        p.setCompositionMode(QPainter.CompositionMode_SourceOver)
        p.setRenderHint(QPainter.Antialiasing, smooth)
        _polyline(p, pen, px)
        p.setCompositionMode(QPainter.CompositionMode_DestinationOver)
        p.setRenderHint(QPainter.Antialiasing, False)
        _polyline(p, halo, px)

    def _halo_pen(self) -> QPen:
        return QPen(self.halo, self.width + 3.0, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin)

    def _start(self) -> None:
        self.full_redraws += 1
        self._image.fill(Qt.transparent)
        f = self.frame
        R = f.n_racers
        self._last = f.heads.copy() if R else np.zeros((0, 2))
        self._pending = [np.empty((0, 2)) for _ in range(R)]
        self._job = None
        if R == 0 or len(self.colors) != R:
            return
        n = f.history.count_upto(f.step)
        self._job = [_thin(_decimate(_to_px(np.concatenate([f.history["pos"][r, :n], f.heads[r:r + 1]]), self._tr)))
                     for r in range(R)]
        self._job_at = [0] * R

    def _continue(self, budget_s: float | None) -> None:
        t0 = time.perf_counter()
        p = self._painter()
        pens, halo = self._pens(), self._halo_pen()
        out_of_time = False
        while not out_of_time:
            busy = False
            for r, px in enumerate(self._job):
                a, end = self._job_at[r], max(len(px) - 1, 1)
                if a >= end:
                    continue
                b = min(a + REBUILD_BATCH, end)
                # The thinned old part of a long trail is drawn without antialiasing (several
                # times cheaper); the recent part, where the eye is, with it.
                self._stroke(p, pens[r], halo, px[a:b + 1], smooth=b >= len(px) - RECENT)
                self._job_at[r] = b
                busy = busy or b < end
                if budget_s is not None and time.perf_counter() - t0 > budget_s:
                    out_of_time = True
                    break
            if not busy and not out_of_time:
                self._job = None
                break
        if self._job is not None and all(a >= max(len(px) - 1, 1) for a, px in zip(self._job_at, self._job)):
            self._job = None
        p.end()

    def _extend(self) -> None:
        if self._pending is None or not any(len(q) for q in self._pending):
            return
        p = self._painter()
        halo = self._halo_pen()
        for r, pen in enumerate(self._pens()):
            new = self._pending[r]
            if not len(new):
                continue
            self._stroke(p, pen, halo, _decimate(_to_px(np.concatenate([self._last[r:r + 1], new]), self._tr)))
            self._last[r] = new[-1]
            self._pending[r] = np.empty((0, 2))
        p.end()


def _polyline(p: QPainter, pen: QPen, px: np.ndarray) -> None:
    """The path as separate segments with round caps: looks like a polyline with round joins,
    but Qt strokes each segment on its own (a wide polyline that crosses itself many times,
    as a noisy trail does, costs the stroker up to a second)."""
    p.setPen(pen)
    if len(px) == 1:
        p.drawPoint(QPointF(*px[0]))
        return
    seg = fn.create_qpolygonf(2 * (len(px) - 1))
    a = fn.ndarray_from_qpolygonf(seg)
    a[0::2] = px[:-1]
    a[1::2] = px[1:]
    p.drawLines(seg)


def _to_px(pts: np.ndarray, tr) -> np.ndarray:
    x, y = pts[:, 0], pts[:, 1]
    px = np.empty_like(pts)
    px[:, 0] = tr.m11() * x + tr.m21() * y + tr.dx()
    px[:, 1] = tr.m12() * x + tr.m22() * y + tr.dy()
    bad = ~np.isfinite(px)
    if bad.any():
        px[bad] = 0.0
    return np.clip(px, -CLAMP_PX, CLAMP_PX)


def _thin(px: np.ndarray) -> np.ndarray:
    if len(px) <= REBUILD_POINTS:
        return px
    old = px[:-RECENT]
    idx = np.linspace(0, len(old) - 1, REBUILD_POINTS - RECENT).astype(int)
    return np.concatenate([old[idx], px[-RECENT:]])


def _decimate(px: np.ndarray) -> np.ndarray:
    """Drop points that land on the same pixel as the previous kept one (screen resolution)."""
    if len(px) <= 2:
        return px
    q = np.round(px)
    keep = np.ones(len(px), dtype=bool)
    keep[1:] = np.any(q[1:] != q[:-1], axis=1)
    keep[-1] = True
    return px[keep]
