"""The race on the map: the surface's colour map and iso-lines, minima, the start marker,
each racer's trail, head marker, label and end-state mark, and the inside-the-step arrows."""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainterPath
from PySide6.QtWidgets import QGraphicsItem, QLabel

from engine.optim.optimizers import Explanation
from engine.race.status import Status

from ..shell.worker import Worker
from ..theme import Theme, height_colormap, luminance, style_axes
from . import label_layout, surface_image
from .background_layer import BackgroundLayer
from .leaderboard import ranking
from .trail_layer import TrailLayer


def _flag() -> QPainterPath:
    # Symbol coordinates run y-down in units of the symbol size: a pole with a pennant.
    # Symbols must fit the unit square around the point (pyqtgraph caches them in tiles); the
    # view places the flag above the head.  The pennant points left, away from the label.
    p = QPainterPath()
    p.addRect(QRectF(0.32, -0.5, 0.12, 1.0))
    p.moveTo(0.32, -0.5)
    p.lineTo(-0.48, -0.26)
    p.lineTo(0.32, -0.02)
    p.closeSubpath()
    return p


def _ring() -> QPainterPath:
    p = QPainterPath()
    p.addEllipse(QRectF(-0.5, -0.5, 1.0, 1.0))
    p.addEllipse(QRectF(-0.32, -0.32, 0.64, 0.64))
    return p


FLAG, RING = _flag(), _ring()


class TheoryNote(QLabel):
    """The theory overlay's note: a click folds it to its first line and unfolds it again.
    The map folds it by itself, without changing the user's choice, when there is no corner
    for the whole note clear of every head."""

    toggled = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.folded = False  # the user's choice
        self.text_lines: list[str] = []
        self.setCursor(Qt.PointingHandCursor)

    def set_text(self, text: str) -> None:
        self.text_lines = text.splitlines()
        # Folded for want of room, the note still shows whole on hover.
        self.setToolTip(text + "\n\n(click to fold or unfold)")
        self.show_folded(self.folded)

    def _text(self, folded: bool) -> str:
        if not self.text_lines:
            return ""
        if len(self.text_lines) == 1:
            return self.text_lines[0]
        return ("▸ " + self.text_lines[0]) if folded else "\n".join(["▾ " + self.text_lines[0], *self.text_lines[1:]])

    def size_for(self, folded: bool) -> QSize:
        old = self.text()
        self.setText(self._text(folded))
        size = self.sizeHint()
        self.setText(old)
        return size

    def show_folded(self, folded: bool) -> None:
        self.setText(self._text(folded))
        self.resize(self.sizeHint())

    def mousePressEvent(self, ev) -> None:
        if ev.button() == Qt.LeftButton:
            self.folded = not self.folded
            self.toggled.emit()
            ev.accept()
        else:
            super().mousePressEvent(ev)


class SurfaceView(pg.PlotWidget):
    """Exposes ``set_frame``, ``set_theme``, ``set_inside_step`` and ``set_theory``."""

    start_picked = Signal(float, float)

    def __init__(self, theme: Theme, parent=None):
        super().__init__(parent)
        self.theme = theme
        self.frame = None
        self._surface_key = None
        self._sampled: surface_image.Sampled | None = None  # the background shown
        # Sampling runs in a worker, one at a time: the request wanted ((surface key, x range,
        # y range), surface) and the worker with the request it runs.  A result for a request
        # that is no longer wanted is dropped.
        self._wanted = None
        self._job: tuple | None = None  # (worker, surface key, x range, y range)
        self._looks = None
        self.plot = self.getPlotItem()
        self.vb = self.plot.getViewBox()
        # Equal scales: the gradient must look perpendicular to the iso-lines.
        self.vb.setAspectLocked(True, 1.0)
        self.vb.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setLabel("bottom", "x")
        self.plot.setLabel("left", "y")
        # The key to the shading at the map's side, in f - f* (log) like the loss plot.
        self.colormap = "slate"
        self.scale = None
        self.colorbar = pg.ColorBarItem(interactive=False, colorMapMenu=False, width=20)
        self.plot.layout.addItem(self.colorbar, 2, 5)
        # The title over the bar and its ticks together: in the bar's column alone it widened
        # the bar to the title's width, at the map's expense.
        self.colorbar.layout.removeItem(self.colorbar.titleLabel)
        self.colorbar.layout.addItem(self.colorbar.titleLabel, 0, 1, 1, 2)
        self.plot.layout.setColumnFixedWidth(4, 8)
        self.background = BackgroundLayer(self.vb)
        self.background.setZValue(-10)
        self.vb.addItem(self.background, ignoreBounds=True)
        self._resample_timer = QTimer(self)
        self._resample_timer.setSingleShot(True)
        self._resample_timer.setInterval(80)
        self._resample_timer.timeout.connect(self._resample)
        self.trails = TrailLayer(self.vb)
        self.trails.setZValue(10)
        self.vb.addItem(self.trails, ignoreBounds=True)
        self.minima = pg.ScatterPlotItem(symbol="star", pxMode=True)
        self.minima.setZValue(12)
        self.plot.addItem(self.minima, ignoreBounds=True)
        self.start = pg.TargetItem(pos=(0, 0), size=22, symbol="crosshair", movable=True)
        self.start.setZValue(13)
        self.start.sigPositionChangeFinished.connect(self._start_dragged)
        self.plot.addItem(self.start, ignoreBounds=True)
        self._make_arrows()
        self.theory = pg.PlotCurveItem(connect="pairs")
        self.theory.setZValue(11)
        self.plot.addItem(self.theory, ignoreBounds=True)
        # The theory note sits in a corner of the map whatever the zoom: a label over the
        # view rather than an item in data coordinates.
        self.theory_label = TheoryNote(self)
        self.theory_label.toggled.connect(self._place_note)
        self.theory_label.hide()
        self.marks = pg.ScatterPlotItem(pxMode=True)
        # End marks and heads on top of everything, labels included: a label pushed aside
        # must never hide where another racer is.
        self.marks.setZValue(27)
        self.plot.addItem(self.marks, ignoreBounds=True)
        self.heads = pg.ScatterPlotItem(pxMode=True)
        self.heads.setZValue(28)
        self.plot.addItem(self.heads, ignoreBounds=True)
        self.labels: list[pg.TextItem] = []
        self._label_corners = None  # last placement (pixels), which the next one prefers
        self._shown = None  # heads as drawn (clamped to the view)
        # Thin lines from a label pushed away from its racer back to the racer's head.
        self.leaders = pg.PlotCurveItem(connect="pairs")
        self.leaders.setZValue(24)
        self.plot.addItem(self.leaders, ignoreBounds=True)
        self.scene().sigMouseClicked.connect(self._clicked)
        self._inside_step = None
        self._inside_color = None
        self.set_theme(theme)
        self.vb.sigRangeChanged.connect(self._range_changed)

    def _range_changed(self, *_) -> None:
        self._draw_arrows()
        if self.theory_label.isVisible():
            self._place_note()
        if self.frame is None:
            return
        if self.window().testAttribute(Qt.WA_DontShowOnScreen):
            self._resample()  # offscreen rendering (export): the next frame must be complete
        elif self.isVisible():
            self._resample_timer.start()  # interactive zoom/pan: resample once it settles

    def hideEvent(self, ev) -> None:
        self._resample_timer.stop()
        super().hideEvent(ev)

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        if self.frame is not None:
            self._resample_timer.start()

    # -- theme ----------------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackground(theme.background)
        style_axes(self.plot, theme, theme.axis_pt, 1.5)
        for name in ("bottom", "left"):
            self.plot.getAxis(name).setStyle(tickTextOffset=6)
        self.plot.setLabel("bottom", "x", color=theme.foreground)
        self.plot.setLabel("left", "y", color=theme.foreground)
        self.background.set_background(theme.background)
        self._style_colorbar()
        self.minima.setPen(pg.mkPen(theme.outline, width=2))
        self.minima.setBrush(pg.mkBrush(theme.minimum))
        self.minima.setSize(theme.head_size * 1.3)
        self.start.setPen(pg.mkPen(theme.start, width=3))
        tc = QColor(theme.foreground)
        tc.setAlphaF(0.8)
        self.theory.setPen(pg.mkPen(tc, width=2, style=Qt.DashLine))
        self.leaders.setPen(pg.mkPen(tc, width=1.5))
        f = QFont()
        f.setPointSize(theme.label_pt)
        self.theory_label.setFont(f)
        bg = QColor(theme.background)
        self.theory_label.setStyleSheet(
            f"color: {theme.foreground}; background: rgba({bg.red()},{bg.green()},{bg.blue()},200);"
            " padding: 6px; border-radius: 4px;")
        self._looks = None
        self.set_colormap(self.colormap)
        if self.frame is not None:
            self.set_frame(self.frame)
        self._draw_arrows()

    def set_colormap(self, name: str) -> None:
        """Shade the heights with ``name`` (see engine.scenario.COLORMAPS)."""
        self.colormap = name
        self.cmap = height_colormap(self.theme, name)
        self.lut = self.cmap.getLookupTable(0.0, 1.0, 256)
        self.colorbar.setColorMap(self.cmap)
        self._push_background()

    def _style_colorbar(self) -> None:
        t = self.theme
        for name in ("left", "right", "top", "bottom"):
            ax = self.colorbar.getAxis(name)
            ax.setPen(pg.mkPen(t.foreground, width=1))
            # Static: copied as pixmaps at each repaint of the map, not laid out again (as in style_axes).
            ax.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
        font = QFont()
        font.setPointSize(t.axis_pt)
        ax = self.colorbar.axis
        ax.setTextPen(pg.mkPen(t.foreground))
        ax.setTickFont(font)
        self.colorbar.layout.setColumnFixedWidth(1, round(0.8 * t.head_size))
        self._label_colorbar()

    def _label_colorbar(self) -> None:
        """Title and decade ticks of the colour bar, as narrow as its labels: every pixel it
        takes is a pixel less of the (aspect-locked) map."""
        t = self.theme
        bounded = self.frame is None or self.frame.surface.bounded_below
        self.colorbar.setTitle("f − f*" if bounded else "f", color=t.foreground, size=f"{t.axis_pt}pt")
        if self.scale is None:
            return
        ticks = self.scale.ticks()
        self.colorbar.setLevels(self.scale.levels)
        self.colorbar.axis.setTicks([ticks])
        font = QFont()
        font.setPointSize(t.axis_pt)
        fm = QFontMetrics(font)
        self.colorbar.axis.setWidth(max((fm.horizontalAdvance(label) for _, label in ticks), default=20) + 12)

    def _push_background(self) -> None:
        """The samples and iso-lines to the background layer in the current colours: each
        iso-line dark where its colour is light and light where it is dark, so that lines
        read all over a map from black to yellow, in both themes."""
        sampled = self._sampled
        if sampled is None:
            return
        lo, hi = sampled.scale.levels
        width = max(1.0, self.theme.trail_width / 3.5)
        dark, light = [], []
        for lv, seg in zip(sampled.scale.contours, sampled.iso_lines):
            c = self.cmap.map((lv - lo) / (hi - lo), mode="qcolor")
            (dark if luminance(c) > 0.3 else light).append(seg)
        ink, paper = QColor(0, 0, 0), QColor(255, 255, 255)
        ink.setAlphaF(0.5)
        paper.setAlphaF(0.45)
        groups = [(pg.mkPen(c, width=width), np.concatenate(g)) for c, g in ((ink, dark), (paper, light)) if g]
        (x0, x1), (y0, y1) = sampled.xr, sampled.yr
        self.background.set_data(sampled.z, sampled.scale.levels, self.lut, QRectF(x0, y0, x1 - x0, y1 - y0), groups)

    # -- data -----------------------------------------------------------------------------------
    def set_frame(self, frame) -> None:
        self.frame = frame
        key = (frame.surface.spec.id, frame.surface.params.tobytes())
        if key != self._surface_key:
            self._surface_key = key
            self._set_surface(frame.surface)
        if frame.looks != self._looks:
            self._restyle(frame)
        self.start.setPos(*frame.start)
        self.trails.set_frame(frame)
        self._move_heads(frame)

    def _set_surface(self, surface) -> None:
        # The old surface's image would mislead: the map stays blank until the new one is sampled.
        self.scale = self._sampled = None
        self.background.clear()
        self._label_colorbar()
        m = surface.minima
        self.minima.setData(pos=m if len(m) else np.zeros((0, 2)))
        self.fit_domain()
        self._resample_timer.stop()
        self._resample()

    def _request(self) -> tuple:
        """The surface over the visible area plus a margin."""
        (x0, x1), (y0, y1) = self.vb.viewRange()
        mx, my = 0.05 * (x1 - x0), 0.05 * (y1 - y0)
        return (self._surface_key, (x0 - mx, x1 + mx), (y0 - my, y1 + my)), self.frame.surface

    def _resample(self) -> None:
        """Sample the visible area in the worker; meanwhile the old image is stretched.  Drawn
        offscreen (an export), in this thread: each frame must be complete."""
        if self.frame is None:
            return
        if self.window().testAttribute(Qt.WA_DontShowOnScreen):
            self._resample_now()
            return
        self._wanted = self._request()
        if self._job is None:
            self._start_job()

    @property
    def sampling(self) -> bool:
        """Samples of the surface are on their way from the worker."""
        return self._job is not None or self._wanted is not None

    def _start_job(self) -> None:
        (key, xr, yr), surface = self._wanted
        scale = self.scale
        worker = Worker(lambda job: surface_image.sample_map(surface, scale, xr, yr), "map-sampling", self)
        self._job = (worker, key, xr, yr)
        worker.finished.connect(lambda result: self._sampled_in_worker(worker, result))
        worker.failed.connect(lambda message: self._sampled_in_worker(worker, None))
        worker.start()

    def _sampled_in_worker(self, worker, result) -> None:
        worker.deleteLater()
        if self._job is None or self._job[0] is not worker:
            return  # shut down meanwhile
        request = self._job[1:]
        self._job = None
        if self._wanted is None:
            return  # sampled in this thread meanwhile (a grab for a file)
        if request != self._wanted[0]:
            self._start_job()  # the view moved on while this one ran: its result is stale
            return
        self._wanted = None
        if result is not None:
            self._show_sampled(result)

    def _resample_now(self) -> None:
        """Sample the visible area in this thread (a picture for a file must be complete)."""
        if self.frame is None:
            return
        self._wanted = None  # a worker still running delivers a result no longer wanted
        (_, xr, yr), surface = self._request()
        self._show_sampled(surface_image.sample_map(surface, self.scale, xr, yr))

    def _show_sampled(self, sampled: surface_image.Sampled) -> None:
        if sampled.scale is not self.scale:
            self.scale = sampled.scale  # a new surface's colour scale came with its first samples
            self._label_colorbar()
        self._sampled = sampled
        self._push_background()

    def shutdown(self) -> None:
        """Stop the resampling timer and wait for a sampling under way."""
        self._resample_timer.stop()
        if self._job is not None:
            self._job[0].wait()
            self._job = None

    @contextmanager
    def whole_layers(self):
        """Paint the map whole inside this block: a grab for a file must show neither a
        stretched image, nor coarse samples awaiting a resample, nor half-drawn iso-lines
        (QWidget.grab reports the widget as the paint device, like a paint on screen)."""
        if self._resample_timer.isActive() or self._wanted is not None:  # samples on their way
            self._resample_timer.stop()
            self._resample_now()
        layers = (self.background, self.trails)
        before = [layer.complete for layer in layers]
        for layer in layers:
            layer.complete = True
        try:
            yield
        finally:
            for layer, was in zip(layers, before):
                layer.complete = was

    def fit_domain(self) -> None:
        if self.frame is None:
            return
        (x0, x1), (y0, y1) = self.frame.surface.spec.domain
        self.vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.0)

    def fit_trajectories(self) -> None:
        """Show the domain and every trail (escaped racers' far-away points left out)."""
        f = self.frame
        if f is None or f.n_racers == 0:
            return self.fit_domain()
        (x0, x1), (y0, y1) = f.surface.spec.domain
        n = f.history.count_upto(f.step)
        pts = np.concatenate([f.history["pos"][:, :n].reshape(-1, 2), f.heads])
        span = max(x1 - x0, y1 - y0)
        ok = np.all(np.isfinite(pts), axis=1) & (np.abs(pts[:, 0] - (x0 + x1) / 2) < 3 * span) \
            & (np.abs(pts[:, 1] - (y0 + y1) / 2) < 3 * span)
        pts = pts[ok]
        lo = np.minimum(pts.min(axis=0), (x0, y0)) if len(pts) else np.array((x0, y0))
        hi = np.maximum(pts.max(axis=0), (x1, y1)) if len(pts) else np.array((x1, y1))
        self.vb.setRange(xRange=(lo[0], hi[0]), yRange=(lo[1], hi[1]), padding=0.02)

    def _restyle(self, frame) -> None:
        self._looks = frame.looks
        t = self.theme
        self.trails.set_style([lk.color for lk in frame.looks], t.trail_width, t.trail_halo)
        for lab in self.labels:
            self.plot.removeItem(lab)
        self.labels = []
        self._label_corners = None
        font = QFont()
        font.setPointSize(t.label_pt)
        font.setBold(True)
        for lk in frame.looks:
            # A tag in the racer's colour with black or white text, whichever contrasts more:
            # readable on both themes, even for the yellow racer on a white screen.
            fill = QColor(lk.color)
            text = "#000000" if luminance(fill) > 0.35 else "#ffffff"
            lab = pg.TextItem(lk.name, color=text, anchor=(0, 0), fill=pg.mkBrush(fill),
                              border=pg.mkPen(t.outline, width=1))
            lab.setFont(font)
            lab.setZValue(25)
            self.plot.addItem(lab, ignoreBounds=True)
            self.labels.append(lab)
        self._head_style = dict(
            symbol=[lk.marker for lk in frame.looks],
            brush=[pg.mkBrush(lk.color) for lk in frame.looks],
            pen=pg.mkPen(t.outline, width=2.5), size=t.head_size,
        )

    def _move_heads(self, frame) -> None:
        R = frame.n_racers
        if R == 0:
            self.heads.setData(pos=np.zeros((0, 2)))
            self.marks.setData(pos=np.zeros((0, 2)))
            self.leaders.setData([], [])
            return
        (x0, x1), (y0, y1) = self.vb.viewRange()
        shown = np.column_stack([np.clip(frame.heads[:, 0], x0, x1), np.clip(frame.heads[:, 1], y0, y1)])
        shown = np.nan_to_num(shown)
        self.heads.setData(pos=shown, **self._head_style)
        self._shown = shown
        self._end_marks(frame, shown)
        self._place_labels()
        if self.theory_label.isVisible() and self._note_covers_head():
            self._place_note()

    def _to_px(self, xy: np.ndarray) -> np.ndarray:
        """Data coordinates (N, 2) to pixels of the view box (y down)."""
        (x0, x1), (y0, y1) = self.vb.viewRange()
        w, h = self.vb.width(), self.vb.height()
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        return np.column_stack([(xy[:, 0] - x0) / (x1 - x0) * w, (y1 - xy[:, 1]) / (y1 - y0) * h])

    def _to_data(self, px: np.ndarray) -> np.ndarray:
        (x0, x1), (y0, y1) = self.vb.viewRange()
        w, h = self.vb.width(), self.vb.height()
        return np.column_stack([x0 + px[:, 0] / w * (x1 - x0), y1 - px[:, 1] / h * (y1 - y0)])

    def _obstacles(self, heads_px: np.ndarray) -> np.ndarray:
        """What a label must not cover, as pixel rectangles: heads and their end marks,
        minima, the start, the arrows and their notes, the theory box."""
        f, t = self.frame, self.theme
        hs = t.head_size
        boxes = [np.column_stack([heads_px - 0.55 * hs, heads_px + 0.55 * hs])]
        stopped = np.asarray(f.status) != Status.RACING
        if stopped.any():  # end marks are twice a head's size (a finished flag stands above it)
            boxes.append(np.column_stack([heads_px[stopped] - (hs, 2 * hs), heads_px[stopped] + (hs, hs)]))
        if len(f.surface.minima):
            m = self._to_px(f.surface.minima)
            boxes.append(np.column_stack([m - 0.7 * hs, m + 0.7 * hs]))
        s = self._to_px(f.start)
        boxes.append(np.column_stack([s - 11, s + 11]))
        for line, text in zip(self.arrow_lines, self.arrow_texts):
            if not text.isVisible():
                continue
            xs, ys = line.getData()
            a, b = self._to_px(np.column_stack([xs, ys]))
            pts = a + np.linspace(0.15, 1.0, 6)[:, None] * (b - a)
            boxes.append(np.column_stack([pts - 6, pts + 6]))
            c = self._to_px(np.array([text.pos().x(), text.pos().y()]))[0]
            half = np.array([text.textItem.boundingRect().width(), text.textItem.boundingRect().height()]) / 2
            boxes.append(np.array([[*(c - half), *(c + half)]]))
        if self.theory_label.isVisible():
            g = self.theory_label.geometry().translated(-self._map_rect().topLeft())
            boxes.append(np.array([[g.left(), g.top(), g.right(), g.bottom()]], dtype=float))
        return np.vstack(boxes)

    def _inside_map(self, centre: np.ndarray, rect: QRectF) -> np.ndarray:
        """``centre`` moved just enough for a note of ``rect``'s size around it to lie on the map."""
        c = self._to_px(centre)[0]
        half = np.array([rect.width(), rect.height()]) / 2 + 2
        c = np.clip(c, half, np.maximum(half, (self.vb.width() - half[0], self.vb.height() - half[1])))
        return self._to_data(c[None])[0]

    def _place_labels(self) -> None:
        """Labels beside their heads, clear of each other, heads and notes; a crowd of heads
        gets a stacked legend in finishing order.  Leader lines join far labels to heads."""
        f = self.frame
        if f is None or f.n_racers == 0 or len(self.labels) != f.n_racers or self._shown is None:
            return
        heads = self._to_px(self._shown)
        sizes = np.array([[lab.textItem.boundingRect().width(), lab.textItem.boundingRect().height()]
                          for lab in self.labels])
        bounds = (0.0, 0.0, self.vb.width(), self.vb.height())
        corners, far = label_layout.place(heads, sizes, ranking(f.status, f.status_step, f.loss), self._obstacles(heads), bounds,
                                          gap=0.5 * self.theme.head_size + 6, prev=self._label_corners)
        self._label_corners = corners
        tl = self._to_data(corners)
        for lab, p in zip(self.labels, tl):
            lab.setPos(*p)
        if far.any():
            # From the head to the nearest point of its label.
            near = np.clip(heads[far], corners[far], corners[far] + sizes[far])
            seg = np.empty((2 * int(far.sum()), 2))
            seg[0::2] = self._shown[far]
            seg[1::2] = self._to_data(near)
            self.leaders.setData(seg[:, 0], seg[:, 1])
        else:
            self.leaders.setData([], [])

    def _end_marks(self, frame, shown) -> None:
        pos, sym, brush, size = [], [], [], []
        t = self.theme
        (x0, x1), (y0, y1) = self.vb.viewRange()
        for r in range(frame.n_racers):
            code = int(frame.status[r])
            col = frame.looks[r].color
            if code == Status.FINISHED:
                # Stand the flag on the head: its pole's foot is offset from the symbol's centre.
                px, py = self.vb.viewPixelSize()
                sz = t.head_size * 2.0
                pos.append(shown[r] + (-0.38 * sz * px, 0.5 * sz * py))
                sym.append(FLAG)
                brush.append(pg.mkBrush(col))
                size.append(t.head_size * 2.0)
            elif code == Status.CONVERGED:
                pos.append(shown[r])
                sym.append(RING)
                brush.append(pg.mkBrush(col))
                size.append(t.head_size * 2.0)
            elif code == Status.DIVERGED:
                pos.append(shown[r])
                sym.append("x")
                brush.append(pg.mkBrush(col))
                size.append(t.head_size * 2.0)
            elif code == Status.ESCAPED:
                hx, hy = frame.heads[r]
                cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
                dx, dy = (hx - cx) / (x1 - x0), (hy - cy) / (y1 - y0)
                if abs(dx) > abs(dy):
                    s = "arrow_right" if dx > 0 else "arrow_left"
                else:
                    s = "arrow_up" if dy > 0 else "arrow_down"
                pos.append(shown[r])
                sym.append(s)
                brush.append(pg.mkBrush(col))
                size.append(t.head_size * 2.0)
        if pos:
            self.marks.setData(pos=np.array(pos), symbol=sym, brush=brush, size=size,
                               pen=pg.mkPen(t.outline, width=2))
        else:
            self.marks.setData(pos=np.zeros((0, 2)))

    # -- inside the step and theory ---------------------------------------------------------------
    ARROWS = (("−g", "gradient"), ("momentum", "memory"), ("Δx", "step"))

    def _make_arrows(self) -> None:
        self.arrow_lines, self.arrow_heads, self.arrow_texts = [], [], []
        for _ in self.ARROWS:
            line = pg.PlotCurveItem()
            line.setZValue(14)
            head = pg.ArrowItem(tipAngle=32)
            head.setZValue(15)
            text = pg.TextItem(anchor=(0.5, 0.5))
            text.setZValue(26)  # above the racer labels
            for it in (line, head, text):
                self.plot.addItem(it, ignoreBounds=True)
                it.hide()
            self.arrow_lines.append(line)
            self.arrow_heads.append(head)
            self.arrow_texts.append(text)

    def set_inside_step(self, explained: Explanation | None, color: str | None = None) -> None:
        """Arrows at the selected racer's head (drawn in ``color``): the negative gradient, the
        optimizer's memory, and the step actually taken, all magnified by one common factor."""
        self._inside_step = explained
        self._inside_color = color
        self._draw_arrows()

    def _arrow_colors(self) -> list[str]:
        racer = self._inside_color if self._inside_step is not None else None
        return [self.theme.foreground, "#F0E442" if self.theme.name == "dark" else "#8a6d00",
                racer or "#D55E00"]

    def _draw_arrows(self) -> None:
        e = self._inside_step
        if e is None or e.status.kind != Status.RACING:  # a stopped racer takes no next step
            for group in (self.arrow_lines, self.arrow_heads, self.arrow_texts):
                for it in group:
                    it.hide()
            self._place_labels()
            return
        x = e.x
        vecs = [-(e.gradient if e.gradient_seen is None else e.gradient_seen), e.memory, e.step]
        norms = [float(np.hypot(*v)) if v is not None else np.nan for v in vecs]
        finite = [n for n in norms if np.isfinite(n) and n > 0]
        (vx0, vx1), (vy0, vy1) = self.vb.viewRange()
        span = 0.15 * min(vx1 - vx0, vy1 - vy0)
        k = span / max(finite) if finite else 1.0
        px, py = self.vb.viewPixelSize()
        font = QFont()
        font.setPointSize(self.theme.label_pt)
        font.setBold(True)
        bg = QColor(self.theme.background)
        bg.setAlpha(200)
        for i, (v, n, col) in enumerate(zip(vecs, norms, self._arrow_colors())):
            line, head, text = self.arrow_lines[i], self.arrow_heads[i], self.arrow_texts[i]
            if v is None or not np.isfinite(n) or n == 0:
                line.hide(), head.hide(), text.hide()
                continue
            end = x + v * k
            line.setData([x[0], end[0]], [x[1], end[1]])
            line.setPen(pg.mkPen(col, width=self.theme.trail_width * 0.9, style=Qt.DashLine if i == 1 else Qt.SolidLine))
            ang = np.degrees(np.arctan2(-(end[1] - x[1]) / py, (end[0] - x[0]) / px))
            head.setStyle(angle=180 + ang, headLen=self.theme.head_size * 0.9, brush=pg.mkBrush(col),
                          pen=pg.mkPen(self.theme.outline, width=1.5))
            head.setPos(*end)
            text.setText(self.ARROWS[i][0] + (f"  ×{k:.3g}" if i == 0 and not 0.5 < k < 2 else ""))
            text.setColor(col)
            text.fill = pg.mkBrush(bg)  # readable over the racer labels it may cover
            text.setFont(font)
            text.setPos(*self._inside_map(x + v * k * 1.18, text.textItem.boundingRect()))
            for it in (line, head, text):
                it.show()
        self._place_labels()  # the racers' labels keep clear of the arrows and their notes

    def set_theory(self, lines: np.ndarray | None, text: str = "") -> None:
        """Dashed segments (pairs of points) such as the Hessian's eigen-directions, and a note."""
        if lines is None or not len(lines):
            self.theory.setData([], [])
            self.theory_label.set_text("")
            self.theory_label.hide()
            self._place_labels()
            return
        self.theory.setData(lines[:, 0], lines[:, 1])
        self.theory_label.set_text(text)
        self.theory_label.show()
        self._place_note()

    def _map_rect(self) -> QRect:
        return self.mapFromScene(self.vb.sceneBoundingRect()).boundingRect()

    def _note_rects(self, size: QSize) -> list[QRect]:
        """The theory box in each corner of the map, in widget pixels."""
        r = self._map_rect().adjusted(10, 10, -10, -10)
        w, h = size.width(), size.height()
        return [QRect(x, y, w, h) for y in (r.top(), r.bottom() - h) for x in (r.left(), r.right() - w)]

    def _note_covers_head(self) -> bool:
        if self.frame is None or self._shown is None:
            return False
        g = self.theory_label.geometry().translated(-self._map_rect().topLeft())
        heads = self._to_px(self._shown)
        pad = 0.6 * self.theme.head_size
        return bool(np.any((heads[:, 0] > g.left() - pad) & (heads[:, 0] < g.right() + pad)
                           & (heads[:, 1] > g.top() - pad) & (heads[:, 1] < g.bottom() + pad)))

    def _place_note(self) -> None:
        """Put the theory box in the corner with the fewest trail points under it and no
        head; where every corner would cover a head, fold it to its first line."""
        lab = self.theory_label
        lab.adjustSize()
        pts = np.zeros((0, 2))
        heads = np.zeros((0, 2))
        if self.frame is not None and self._shown is not None:
            f = self.frame
            n = f.history.count_upto(f.step)
            idx = np.unique(np.linspace(0, max(n - 1, 0), min(n, 300)).astype(int))
            trail = f.history["pos"][:, idx].reshape(-1, 2)
            pts = self._to_px(trail[np.all(np.isfinite(trail), axis=1)]) + self._map_rect().topLeft().toTuple()
            heads = self._to_px(self._shown) + self._map_rect().topLeft().toTuple()
        pad = 0.6 * self.theme.head_size

        def cost(rect: QRect) -> float:
            def inside(p, m):
                return int(np.sum((p[:, 0] > rect.left() - m) & (p[:, 0] < rect.right() + m)
                                  & (p[:, 1] > rect.top() - m) & (p[:, 1] < rect.bottom() + m)))
            return 1e6 * inside(heads, pad) + inside(pts, 4)

        best = None
        for folded in ((True,) if lab.folded else (False, True)):
            size = lab.size_for(folded)
            for i, rect in enumerate(self._note_rects(size)):
                c = cost(rect) + (0.5 if i != 2 else 0.0)  # ties: bottom left, as before
                if best is None or c < best[0]:
                    best = (c, folded, rect)
            if best[0] < 1e6:
                break  # the whole box fits somewhere clear of every head
        _, folded, rect = best
        lab.show_folded(folded)
        lab.setGeometry(rect)
        self._place_labels()

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if "theory_label" in self.__dict__ and self.theory_label.isVisible():
            self._place_note()

    # -- input ----------------------------------------------------------------------------------
    def _clicked(self, ev) -> None:
        if ev.button() != Qt.LeftButton or ev.double() or self.frame is None:
            return
        if not self.vb.sceneBoundingRect().contains(ev.scenePos()):
            return
        p = self.vb.mapSceneToView(ev.scenePos())
        ev.accept()
        self.start_picked.emit(float(p.x()), float(p.y()))

    def _start_dragged(self, item) -> None:
        p = item.pos()
        self.start_picked.emit(float(p.x()), float(p.y()))

    def head_scene_pos(self, r: int) -> QPointF:
        """Where racer r's head marker is, in widget pixels (for tests and the export)."""
        spot = self.heads.data[r]
        return self.mapFromScene(self.vb.mapViewToScene(QPointF(spot["x"], spot["y"])))
