"""The coloured surface and its iso-lines, kept as one opaque image in screen pixels: drawn
again only after a zoom, pan, resize or new surface, and otherwise copied 1:1 each frame
(rescaling the colour image and stroking the iso-lines every frame cost ~20 ms at full HD).
After a change the colours appear at once and the iso-lines follow over a few paints of a
few milliseconds each (tens of thousands of segments take ~50 ms to stroke)."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph.functions as fn
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from .screen_layer import ScreenLayer

BATCH = 1500  # segments per drawLines call (the budget is checked between calls)


class BackgroundLayer(ScreenLayer):
    image_format = QImage.Format_RGB32
    budget_s = 0.004  # iso-line drawing per paint while the layer is being drawn

    def __init__(self, viewbox):
        super().__init__(viewbox)
        self.picture: QImage | None = None  # the colour map at grid resolution
        self.rect = QRectF()
        self.lines = np.zeros((0, 2))
        self.pens: list[tuple[int, QPen]] = []  # (end segment, pen): the iso-lines in groups
        self.background = QColor("#000000")
        self._todo = 0  # iso-line segments still to draw into the image (from the end)
        self.redraws = 0

    def set_data(self, z: np.ndarray, levels: tuple[float, float], lut: np.ndarray, rect: QRectF,
                 groups: list[tuple[QPen, np.ndarray]]) -> None:
        """z (ny, nx) on the display scale, coloured through ``lut`` between ``levels``;
        iso-line segments (2M, 2) in groups, each stroked with its own pen."""
        # Row 0 is the lowest y; the view's transform flips y, so it lands at the bottom.
        argb, alpha = fn.makeARGB(z, lut=lut, levels=levels)
        self.picture = fn.makeQImage(argb, alpha=False, transpose=False)
        self.rect = QRectF(rect)
        self.lines = np.concatenate([g for _, g in groups]) if groups else np.zeros((0, 2))
        ends = np.cumsum([len(g) // 2 for _, g in groups])
        self.pens = []
        for end, (pen, _) in zip(ends, groups):
            pen = QPen(pen)
            pen.setCosmetic(True)
            self.pens.append((int(end), pen))
        self.invalidate()

    def clear(self) -> None:
        """Nothing but the background colour until the next ``set_data``."""
        self.picture = None
        self._todo = 0
        self.update()

    def set_background(self, background: str) -> None:
        self.background = QColor(background)
        self.invalidate()

    def has_content(self) -> bool:
        return self.picture is not None

    @property
    def busy(self) -> bool:
        return self._todo > 0

    def _start(self) -> None:
        self.redraws += 1
        self._image.fill(self.background)
        p = QPainter(self._image)
        p.setTransform(self._tr)
        p.setRenderHint(QPainter.SmoothPixmapTransform)
        p.drawImage(self.rect, self.picture)
        p.end()
        self._todo = len(self.lines) // 2

    def _continue(self, budget_s: float | None) -> None:
        t0 = time.perf_counter()
        p = QPainter(self._image)
        p.setTransform(self._tr)
        p.setRenderHint(QPainter.Antialiasing)
        total = len(self.lines) // 2
        while self._todo:
            a = total - self._todo
            end, pen = next((e, pen) for e, pen in self.pens if e > a)
            p.setPen(pen)
            b = min(a + BATCH, end)
            poly = fn.create_qpolygonf(2 * (b - a))
            fn.ndarray_from_qpolygonf(poly)[:] = self.lines[2 * a: 2 * b]
            p.drawLines(poly)
            self._todo = total - b
            if budget_s is not None and time.perf_counter() - t0 > budget_s:
                break
        p.end()
