"""The export's own offscreen scene (surface map with trails, leaderboard, loss plot), drawn
with the app theme; used when the window's views cannot be composed offscreen."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import QGraphicsItem, QHBoxLayout, QVBoxLayout, QWidget

from app.theme import Theme

from .canvas import status_rank

GRID = 300  # surface samples per side


def surface_levels(surface, domain) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Grid coordinates and the shading value: log(f - f* + offset), or a symmetric log for
    surfaces unbounded below."""
    (x0, x1), (y0, y1) = domain
    xs, ys = np.linspace(x0, x1, GRID), np.linspace(y0, y1, GRID)
    f = surface.grid(xs, ys)
    f = np.where(np.isfinite(f), f, np.nan)
    if surface.f_min is not None:
        d = np.maximum(f - surface.f_min, 0.0)
        offset = max(1e-12, 1e-5 * float(np.nanpercentile(d, 99)))
        z = np.log10(d + offset)
    else:
        s = max(1e-12, 0.05 * float(np.nanmedian(np.abs(f))))
        z = np.sign(f) * np.log10(1.0 + np.abs(f) / s)
    return xs, ys, np.nan_to_num(z, nan=float(np.nanmax(z)))


class _Leaderboard(QWidget):
    """Rank, racer, loss and status, painted directly (a table widget costs more per frame)."""

    def __init__(self, theme: Theme):
        super().__init__()
        self.theme = theme
        self.rows: list[tuple[str, str, str, str]] = []
        self.setMinimumHeight(40)

    def set_frame(self, frame) -> None:
        order = sorted(range(frame.n_racers), key=lambda r: status_rank(frame, r))
        self.rows = []
        for rank, r in enumerate(order, 1):
            look = frame.looks[r]
            loss = frame.loss[r]
            self.rows.append((str(rank), look.color, look.name,
                              f"{loss:.3g}" if np.isfinite(loss) else "—", frame.status_text(r)))
        self.update()

    def paintEvent(self, event):
        t = self.theme
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        font = QFont(self.font())
        font.setPixelSize(max(10, int(t.font_pt * 1.45)))
        p.setFont(font)
        fm = p.fontMetrics()
        line = int(fm.height() * 1.35)
        w = self.width()
        cols = (0, int(0.08 * w), int(0.42 * w), int(0.62 * w))
        fg = QColor(t.foreground)
        head = QFont(font)
        head.setBold(True)
        p.setFont(head)
        p.setPen(fg)
        for x, text in zip(cols, ("#", "racer", "loss", "status")):
            p.drawText(x + 4, fm.ascent() + 2, text)
        p.setFont(font)
        y = line
        for rank, color, name, loss, status in self.rows:
            if y + line > self.height():
                break
            base = y + fm.ascent() + 2
            p.setPen(fg)
            p.drawText(cols[0] + 4, base, rank)
            sw = fm.ascent()
            p.fillRect(QRectF(cols[1], base - sw + 2, sw, sw - 2), QColor(color))
            p.drawText(cols[1] + sw + 8, base, fm.elidedText(name, Qt.ElideRight, cols[2] - cols[1] - sw - 12))
            p.drawText(cols[2] + 4, base, loss)
            p.drawText(cols[3] + 4, base, fm.elidedText(status, Qt.ElideRight, w - cols[3] - 8))
            y += line
        p.end()


class ExportScene(QWidget):
    """Surface map with trails and head markers on the left; leaderboard and loss plot on the
    right.  ``set_frame`` takes an ``app.frames.Frame``."""

    def __init__(self, theme: Theme):
        super().__init__()
        self.theme = t = theme
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(14)

        self.plot = pg.PlotWidget(background=t.background)
        self.vb = self.plot.getViewBox()
        self.vb.setMouseEnabled(False, False)
        self.vb.setAspectLocked(False)
        self._style_axes(self.plot)
        row.addWidget(self.plot, 3)

        side = QVBoxLayout()
        side.setSpacing(8)
        row.addLayout(side, 2)
        self.board = _Leaderboard(t)
        side.addWidget(self.board, 1)
        self.loss = pg.PlotWidget(background=t.background)
        self.loss.setLogMode(False, True)
        self.loss.setLabel("left", "f − f*")
        self.loss.setLabel("bottom", "step")
        self.loss.getViewBox().setMouseEnabled(False, False)
        self._style_axes(self.loss)
        side.addWidget(self.loss, 1)
        self.cursor = pg.InfiniteLine(angle=90, pen=pg.mkPen(t.foreground, width=1.5, style=Qt.DashLine))
        self.loss.addItem(self.cursor)

        self._surface_key = None
        self._n = -1
        self.trails: list[pg.PlotCurveItem] = []
        self.halos: list[pg.PlotCurveItem] = []
        self.curves: list[pg.PlotDataItem] = []
        self.labels: list[pg.TextItem] = []
        self.heads = pg.ScatterPlotItem(pxMode=True)
        self.heads.setZValue(30)
        self.plot.addItem(self.heads)
        self.marks = pg.ScatterPlotItem(pxMode=True)
        self.marks.setZValue(25)
        self.plot.addItem(self.marks)

    # -- construction -------------------------------------------------------------------------
    def _style_axes(self, w: pg.PlotWidget) -> None:
        t = self.theme
        font = QFont()
        font.setPixelSize(int(t.axis_pt * 1.3))
        for name in ("left", "bottom"):
            ax = w.getAxis(name)
            ax.setPen(pg.mkPen(t.foreground))
            ax.setTextPen(pg.mkPen(t.foreground))
            ax.setTickFont(font)
            ax.label.setFont(font)

    def _set_surface(self, frame) -> None:
        surface = frame.surface
        key = (id(surface), frame.generation)
        if key == self._surface_key:
            return
        self._surface_key = key
        t = self.theme
        for item in list(self.plot.items()):
            if item not in (self.heads, self.marks) and item not in self.trails + self.halos + self.labels:
                self.plot.removeItem(item)
        domain = surface.spec.domain
        xs, ys, z = surface_levels(surface, domain)
        lut = pg.colormap.get(t.colormap).getLookupTable(t.cmap_lo, t.cmap_hi, 256)
        lo, hi = float(np.percentile(z, 0.5)), float(np.percentile(z, 99.5))
        img = pg.ImageItem(z.T, levels=(lo, hi), lut=lut)
        (x0, x1), (y0, y1) = domain
        img.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        img.setZValue(-10)
        # The map never changes during an export: cache it as a pixmap in device pixels.
        img.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.plot.addItem(img)
        pen = pg.mkPen(QColor(t.contour), width=1)
        color = QColor(t.contour)
        color.setAlphaF(0.35)
        pen.setColor(color)
        for level in np.linspace(lo, hi, 14)[1:-1]:
            iso = pg.IsocurveItem(data=z.T, level=level, pen=pen)
            iso.setParentItem(img)
            iso.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        self.plot.setLabel("bottom", "x")
        self.plot.setLabel("left", "y")
        self.vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        spots = [{"pos": tuple(m), "symbol": "star", "size": t.head_size * 1.1,
                  "brush": pg.mkBrush(t.minimum), "pen": pg.mkPen(t.outline, width=1.5)} for m in surface.minima]
        spots.append({"pos": tuple(frame.start), "symbol": "x", "size": t.head_size * 0.9,
                      "brush": pg.mkBrush(t.start), "pen": pg.mkPen(t.outline, width=1)})
        self.marks.setData(spots)

    def _set_racers(self, frame) -> None:
        if frame.n_racers == self._n and self.trails:
            return
        t = self.theme
        for item in self.trails + self.halos + self.labels:
            self.plot.removeItem(item)
        for c in self.curves:
            self.loss.removeItem(c)
        self.trails, self.halos, self.labels, self.curves = [], [], [], []
        font = QFont()
        font.setPixelSize(int(t.label_pt * 1.3))
        font.setBold(True)
        for r, look in enumerate(frame.looks):
            halo = pg.PlotCurveItem(pen=pg.mkPen(t.outline, width=t.trail_width + 2))
            trail = pg.PlotCurveItem(pen=pg.mkPen(look.color, width=t.trail_width))
            halo.setZValue(5)
            trail.setZValue(6)
            label = pg.TextItem(look.name, color=look.color, anchor=(-0.25, 0.5))
            label.setFont(font)
            label.setZValue(20)
            for item in (halo, trail, label):
                self.plot.addItem(item)
            self.halos.append(halo)
            self.trails.append(trail)
            self.labels.append(label)
            self.curves.append(self.loss.plot(pen=pg.mkPen(look.color, width=t.curve_width)))
        self._n = frame.n_racers

    # -- per frame ------------------------------------------------------------------------------
    def set_frame(self, frame) -> None:
        self._set_surface(frame)
        self._set_racers(frame)
        t = self.theme
        hist = frame.history
        n = hist.count_upto(frame.step)
        spots = []
        for r, look in enumerate(frame.looks):
            pts = np.concatenate([hist.pos[r, :n], frame.heads[r][None, :]])
            pts = self._decimate(pts)
            self.halos[r].setData(pts[:, 0], pts[:, 1])
            self.trails[r].setData(pts[:, 0], pts[:, 1])
            x, y = frame.heads[r]
            if np.isfinite(x) and np.isfinite(y):
                self.labels[r].setPos(float(x), float(y))
                self.labels[r].setVisible(True)
                spots.append({"pos": (float(x), float(y)), "symbol": look.marker, "size": t.head_size,
                              "brush": pg.mkBrush(look.color), "pen": pg.mkPen(t.outline, width=2)})
            else:
                self.labels[r].setVisible(False)
        self.heads.setData(spots)
        self.board.set_frame(frame)
        steps, losses, _ = hist.series(frame.step, max_points=1024)
        fmin = frame.surface.f_min
        for r, c in enumerate(self.curves):
            y = losses[r] - fmin if fmin is not None else np.abs(losses[r])
            y = np.where(np.isfinite(y) & (y > 0), y, np.nan)
            c.setData(steps, np.maximum(y, 1e-16), connect="finite")
        self.cursor.setValue(frame.step)

    def _decimate(self, pts: np.ndarray) -> np.ndarray:
        """Drop points that land on the same pixel as the previous one (long trails stay cheap)."""
        if len(pts) < 512:
            return pts
        (x0, x1), (y0, y1) = self.vb.viewRange()
        w, h = max(self.vb.width(), 1.0), max(self.vb.height(), 1.0)
        q = np.round(pts * [w / max(x1 - x0, 1e-300), h / max(y1 - y0, 1e-300)])
        keep = np.ones(len(pts), dtype=bool)
        keep[1:] = np.any(q[1:] != q[:-1], axis=1)
        keep[-1] = True
        return pts[keep]
