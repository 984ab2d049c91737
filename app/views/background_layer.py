"""The coloured surface and its iso-lines, kept as one opaque image in screen pixels: drawn
again only after a zoom, pan, resize or new surface, and otherwise copied 1:1 each frame
(rescaling the colour image and stroking the iso-lines every frame cost ~20 ms at full HD).
After a change the colours appear at once and the iso-lines follow over a few paints of a
few milliseconds each (tens of thousands of segments take ~50 ms to stroke)."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
import pyqtgraph.functions as fn
from PySide6.QtCore import QRectF, QTimer
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QWidget

BUDGET_S = 0.004  # iso-line drawing per paint while the layer is being rebuilt
BATCH = 1500  # segments per drawLines call (the budget is checked between calls)


class BackgroundLayer(pg.GraphicsObject):
    def __init__(self, viewbox: pg.ViewBox):
        super().__init__()
        self.vb = viewbox
        self.picture: QImage | None = None  # the colour map at grid resolution
        self.rect = QRectF()
        self.lines = np.zeros((0, 2))
        self.pen = QPen(QColor(255, 255, 255, 80), 1.0)
        self.background = QColor("#000000")
        self._image: QImage | None = None
        self._key = None
        self._todo = 0  # iso-line segments still to draw into the image (from the end)
        self._tr = None
        self.redraws = 0
        self._more = QTimer(self)
        self._more.setSingleShot(True)
        self._more.setInterval(0)
        self._more.timeout.connect(self.update)
        viewbox.sigTransformChanged.connect(self._view_changed)
        viewbox.sigResized.connect(self._view_changed)

    def set_data(self, z: np.ndarray, levels: tuple[float, float], lut: np.ndarray, rect: QRectF,
                 lines: np.ndarray) -> None:
        """z (ny, nx) on the display scale, coloured through ``lut`` between ``levels``."""
        # Row 0 is the lowest y; the view's transform flips y, so it lands at the bottom.
        argb, alpha = fn.makeARGB(z, lut=lut, levels=levels)
        self.picture = fn.makeQImage(argb, alpha=False, transpose=False)
        self.rect = QRectF(rect)
        self.lines = lines
        self.invalidate()

    def set_style(self, pen: QPen, background: str) -> None:
        self.pen = QPen(pen)
        self.background = QColor(background)
        self.invalidate()

    def invalidate(self) -> None:
        self._key = None
        self.update()

    def _view_changed(self, *args) -> None:
        self.prepareGeometryChange()
        self.invalidate()

    def boundingRect(self) -> QRectF:
        return self.vb.viewRect()

    def paint(self, p: QPainter, *args) -> None:
        if self.picture is None:
            return
        tr = p.transform()
        dev = p.device()
        w, h = dev.width(), dev.height()
        if w <= 0 or h <= 0:
            return
        key = (tr.m11(), tr.m12(), tr.m21(), tr.m22(), tr.dx(), tr.dy(), w, h)
        if key != self._key or self._image is None:
            self._render(tr, w, h)
            self._key = key
        if self._todo:
            self._draw_lines(None if not isinstance(dev, QWidget) else BUDGET_S)
        p.save()
        p.resetTransform()
        p.drawImage(0, 0, self._image)
        p.restore()

    def _render(self, tr, w: int, h: int) -> None:
        self.redraws += 1
        if self._image is None or self._image.width() != w or self._image.height() != h:
            self._image = QImage(w, h, QImage.Format_RGB32)
        self._image.fill(self.background)
        p = QPainter(self._image)
        p.setTransform(tr)
        p.setRenderHint(QPainter.SmoothPixmapTransform)
        p.drawImage(self.rect, self.picture)
        p.end()
        self._tr = tr
        self._todo = len(self.lines) // 2

    @property
    def drawing(self) -> bool:
        return self._todo > 0

    def _draw_lines(self, budget_s: float | None) -> None:
        t0 = time.perf_counter()
        p = QPainter(self._image)
        p.setTransform(self._tr)
        p.setRenderHint(QPainter.Antialiasing)
        pen = QPen(self.pen)
        pen.setCosmetic(True)
        p.setPen(pen)
        total = len(self.lines) // 2
        while self._todo:
            a = total - self._todo
            b = min(a + BATCH, total)
            poly = fn.create_qpolygonf(2 * (b - a))
            fn.ndarray_from_qpolygonf(poly)[:] = self.lines[2 * a: 2 * b]
            p.drawLines(poly)
            self._todo = total - b
            if budget_s is not None and time.perf_counter() - t0 > budget_s:
                break
        p.end()
        if self._todo:
            self._more.start()
