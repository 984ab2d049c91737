"""Loss and gradient-norm curves against the step, one line per racer, with a cursor at the
current step.  Curves come from the decimated history, so their cost is bounded."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont

from ..theme import Theme
from .surface_image import display_loss

MAX_POINTS = 400  # about one point per two pixels of a side panel


class DecadeAxis(pg.AxisItem):
    """A log axis that labels whole decades only (minor ticks keep their lines): pyqtgraph
    otherwise writes 2·10¹, 3·10¹, ... on top of each other on a short panel."""

    def logTickStrings(self, values, scale, spacing):
        strings = super().logTickStrings(values, scale, spacing)
        return [s if abs(v - round(v)) < 1e-9 else "" for s, v in zip(strings, values)]


def nice_horizon(step: int) -> int:
    """The smallest of 100, 200, 500, 1000, 2000, ... that is at least ``step``."""
    h = 100
    while h < step:
        h = h * 5 // 2 if str(h)[0] == "2" else h * 2
    return h


class CurvePlot(pg.PlotWidget):
    """``kind`` is "loss" (f - f* on a log axis, f itself where unbounded) or "grad" (|g|)."""

    def __init__(self, kind: str, theme: Theme, parent=None):
        super().__init__(parent, axisItems={"left": DecadeAxis("left")})
        if kind not in ("loss", "grad"):
            raise ValueError(f"curve kind must be 'loss' or 'grad', got {kind!r}")
        self.kind = kind
        self.theme = theme
        self.frame = None
        self.plot = self.getPlotItem()
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.curves: list[pg.PlotDataItem] = []
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.plot.addItem(self.cursor, ignoreBounds=True)
        self._looks = None
        self._log = None
        self._horizon = None
        self.plot.disableAutoRange(axis="x")
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackground(theme.background)
        font = QFont()
        font.setPointSize(theme.axis_pt - 1)
        for name in ("bottom", "left"):
            ax = self.plot.getAxis(name)
            ax.setPen(pg.mkPen(theme.foreground, width=1.2))
            ax.setTextPen(pg.mkPen(theme.foreground))
            ax.setTickFont(font)
            ax.label.setFont(font)
        self.plot.setLabel("bottom", "step", color=theme.foreground)
        self._title()
        c = QColor(theme.foreground)
        c.setAlphaF(0.7)
        self.cursor.setPen(pg.mkPen(c, width=2))
        self._looks = None
        if self.frame is not None:
            self.set_frame(self.frame)

    def _title(self) -> None:
        bounded = self.frame is None or self.frame.surface.bounded_below
        text = ("f − f*  (log)" if bounded else "f  (unbounded below)") if self.kind == "loss" else "|gradient|  (log)"
        self.plot.setLabel("left", text, color=self.theme.foreground)

    def set_frame(self, frame) -> None:
        old = self.frame
        self.frame = frame
        if frame.looks != self._looks:
            self._restyle(frame)
        log = self.kind == "grad" or frame.surface.bounded_below
        if log != self._log:
            self._log = log
            self.plot.setLogMode(x=False, y=log)
            self._title()
        self.cursor.setPos(frame.step)
        horizon = nice_horizon(frame.step)
        if horizon != self._horizon:
            # The step axis grows in a few jumps (100, 200, 500, 1000, ...) rather than every
            # frame, so the plot is not rescaled and redrawn whole at every step.
            self._horizon = horizon
            self.plot.setXRange(0, horizon, padding=0.02)
        if old is not None and old.generation == frame.generation and old.step == frame.step:
            return
        steps, loss, grad = frame.history.series(frame.step, MAX_POINTS)
        x = np.append(steps, frame.step).astype(np.float64)
        for r, c in enumerate(self.curves):
            if self.kind == "loss":
                y = display_loss(frame.surface, np.append(loss[r], frame.loss[r]))
            else:
                y = np.maximum(np.append(grad[r], frame.grad_norm[r]), 1e-16)
            y = np.where(np.isfinite(y), y, np.nan)
            c.setData(x, y, connect="finite")

    def _restyle(self, frame) -> None:
        self._looks = frame.looks
        for c in self.curves:
            self.plot.removeItem(c)
        self.curves = []
        for lk in frame.looks:
            c = pg.PlotDataItem(pen=pg.mkPen(lk.color, width=self.theme.curve_width))
            self.plot.addItem(c)
            self.curves.append(c)
