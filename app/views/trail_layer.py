"""Racer trails drawn into a cached image in screen pixels: each frame paints only the new
segments; the whole layer is redrawn (from the history, decimated to pixels) only after a
zoom, pan, resize or jump.  This keeps the frame time independent of the race's length."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pyqtgraph.functions as fn
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen

# Points further than this from the screen are clamped: the trail keeps its direction and
# QPainter never sees astronomically large coordinates from a diverging racer.
CLAMP_PX = 1e5


class TrailLayer(pg.GraphicsObject):
    def __init__(self, viewbox: pg.ViewBox):
        super().__init__()
        self.vb = viewbox
        self.frame = None
        self.colors: list[QColor] = []
        self.width = 4.0
        self.halo = QColor(0, 0, 0, 160)
        # Two cached layers, halos below colours, so a new segment's halo never covers the
        # end of the coloured trail drawn in the frame before.
        self._image: QImage | None = None
        self._halo_image: QImage | None = None
        self._key = None
        self._pending: list[np.ndarray] | None = None  # per racer, new points since the last paint
        self._last: np.ndarray | None = None  # last drawn point per racer (data coordinates)
        self.full_redraws = 0
        viewbox.sigTransformChanged.connect(self._view_changed)
        viewbox.sigResized.connect(self._view_changed)

    def set_style(self, colors: list[str], width: float, halo: str = "#a0000000") -> None:
        self.colors = [QColor(c) for c in colors]
        self.width = float(width)
        self.halo = QColor(halo)
        self.invalidate()

    def invalidate(self) -> None:
        self._key = None
        self.update()

    def _view_changed(self, *args) -> None:
        self.prepareGeometryChange()
        self.invalidate()

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

    def boundingRect(self) -> QRectF:
        return self.vb.viewRect()

    def paint(self, p: QPainter, *args) -> None:
        if self.frame is None:
            return
        tr = p.transform()
        dev = p.device()
        w, h = dev.width(), dev.height()
        if w <= 0 or h <= 0:
            return
        key = (tr.m11(), tr.m12(), tr.m21(), tr.m22(), tr.dx(), tr.dy(), w, h)
        if key != self._key or self._image is None:
            self._redraw(tr, w, h)
            self._key = key
        elif self._pending is not None:
            self._draw_pending(tr)
        p.save()
        p.resetTransform()
        p.drawImage(0, 0, self._halo_image)
        p.drawImage(0, 0, self._image)
        p.restore()

    # -- drawing --------------------------------------------------------------------------------
    def _pens(self):
        return [QPen(c, self.width, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin) for c in self.colors]

    def _halo_pen(self) -> QPen:
        return QPen(self.halo, self.width + 3.0, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin)

    def _painters(self):
        ps = [QPainter(self._halo_image), QPainter(self._image)]
        for p in ps:
            p.setRenderHint(QPainter.Antialiasing)
        return ps

    def _redraw(self, tr, w: int, h: int) -> None:
        self.full_redraws += 1
        if self._image is None or self._image.width() != w or self._image.height() != h:
            self._image = QImage(w, h, QImage.Format_ARGB32_Premultiplied)
            self._halo_image = QImage(w, h, QImage.Format_ARGB32_Premultiplied)
        self._image.fill(Qt.transparent)
        self._halo_image.fill(Qt.transparent)
        f = self.frame
        R = f.n_racers
        self._last = f.heads.copy() if R else np.zeros((0, 2))
        self._pending = [np.empty((0, 2)) for _ in range(R)]
        if R == 0 or len(self.colors) != R:
            return
        hist = f.history
        n = hist.count_upto(f.step)
        hp, p = self._painters()
        halo = self._halo_pen()
        for r, pen in enumerate(self._pens()):
            px = _decimate(_to_px(np.concatenate([hist.pos[r, :n], f.heads[r:r + 1]]), tr))
            self._polyline(hp, halo, px)
            self._polyline(p, pen, px)
        hp.end()
        p.end()

    def _draw_pending(self, tr) -> None:
        if not any(len(q) for q in self._pending):
            return
        hp, p = self._painters()
        halo = self._halo_pen()
        for r, pen in enumerate(self._pens()):
            new = self._pending[r]
            if not len(new):
                continue
            px = _decimate(_to_px(np.concatenate([self._last[r:r + 1], new]), tr))
            self._polyline(hp, halo, px)
            self._polyline(p, pen, px)
            self._last[r] = new[-1]
            self._pending[r] = np.empty((0, 2))
        hp.end()
        p.end()

    @staticmethod
    def _polyline(p: QPainter, pen: QPen, px: np.ndarray) -> None:
        p.setPen(pen)
        if len(px) == 1:
            p.drawPoint(QPointF(*px[0]))
            return
        poly = fn.create_qpolygonf(len(px))
        fn.ndarray_from_qpolygonf(poly)[:] = px
        p.drawPolyline(poly)


def _to_px(pts: np.ndarray, tr) -> np.ndarray:
    x, y = pts[:, 0], pts[:, 1]
    px = np.empty_like(pts)
    px[:, 0] = tr.m11() * x + tr.m21() * y + tr.dx()
    px[:, 1] = tr.m12() * x + tr.m22() * y + tr.dy()
    bad = ~np.isfinite(px)
    if bad.any():
        px[bad] = 0.0
    return np.clip(px, -CLAMP_PX, CLAMP_PX)


def _decimate(px: np.ndarray) -> np.ndarray:
    """Drop points that land on the same half pixel as the previous kept one (screen resolution)."""
    if len(px) <= 2:
        return px
    q = np.round(px * 2.0)
    keep = np.ones(len(px), dtype=bool)
    keep[1:] = np.any(q[1:] != q[:-1], axis=1)
    keep[-1] = True
    return px[keep]
