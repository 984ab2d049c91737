"""Loss and gradient-norm curves against the step, one line per racer, with a cursor at the
current step.  Curves come from the decimated history, so their cost is bounded."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QGraphicsItem

from ..theme import Theme, style_axes
from .surface_image import display_loss

MAX_POINTS = 400  # about one point per two pixels of a side panel


class LossAxis(pg.AxisItem):
    """The left axis: on a log scale it labels whole decades only (pyqtgraph otherwise writes
    2·10¹, 3·10¹, ... on top of each other on a short panel); with ``symlog`` set, the data
    are symlog(f) and the ticks sit at 0 and ±1, ±10, ±100, ... labelled in f."""

    symlog = False

    def logTickStrings(self, values, scale, spacing):
        strings = super().logTickStrings(values, scale, spacing)
        return [s if abs(v - round(v)) < 1e-9 else "" for s, v in zip(strings, values)]

    def tickValues(self, minVal, maxVal, size):
        if not self.symlog:
            return super().tickValues(minVal, maxVal, size)
        top = int(np.ceil(max(abs(minVal), abs(maxVal)))) + 1
        # 0 first, then the decades from the largest: each kept if its label clears those
        # already kept (0 and +-1 are only 0.3 apart on this scale and overlapped on a short panel).
        cands = [0.0] + [sg * symlog(10.0 ** k) for k in reversed(range(top)) for sg in (-1, 1)]
        font = self.style.get("tickFont") or QFont()
        gap = 1.2 * QFontMetrics(font).height() * (maxVal - minVal) / max(size, 1)
        kept: list[float] = []
        for v in cands:
            if minVal <= v <= maxVal and all(abs(v - k) >= gap for k in kept):
                kept.append(v)
        return [(None, sorted(kept))]

    def tickStrings(self, values, scale, spacing):
        if not self.symlog:
            return super().tickStrings(values, scale, spacing)
        return [_label(inverse_symlog(v)) for v in values]


def _label(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1 else f"{x:.2g}"


def symlog(f):
    """sign(f) log10(1 + |f|): a log scale for both signs, linear near 0 (unbounded surfaces)."""
    return np.sign(f) * np.log10(1.0 + np.abs(f))


def inverse_symlog(v):
    return np.sign(v) * (10.0 ** np.abs(v) - 1.0)


def horizon(extent: int) -> int:
    """The step axis' end for a race of ``extent`` steps: a margin of about 4 %, rounded up
    to two significant digits (at least 10), so the axis follows the race in small jumps."""
    want = max(10.0, 1.04 * extent)
    unit = 10 ** max(int(np.floor(np.log10(want))) - 1, 0)
    return int(-(-want // unit) * unit)


class CurvePlot(pg.PlotWidget):
    """``kind`` is "loss" (f - f* on a log axis, symlog f where unbounded) or "grad" (|g|)."""

    def __init__(self, kind: str, theme: Theme, parent=None):
        axis = LossAxis("left")
        super().__init__(parent, axisItems={"left": axis})
        self.axis = axis
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
        style_axes(self.plot, theme, theme.axis_pt - 1, 1.2)
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
        # Short: the label runs along a panel that may be ~150 px tall; the tooltip says more.
        text = ("f − f*  (log)" if bounded else "f  (sym. log)") if self.kind == "loss" else "|gradient|  (log)"
        self.plot.setLabel("left", text, color=self.theme.foreground)
        self.setToolTip(
            ("Loss above the global minimum, f − f*, on a log scale" if bounded else
             "f on a symmetric log scale, sign(f)·log10(1 + |f|): the surface is unbounded below")
            if self.kind == "loss" else "Norm of the true gradient (before noise and clipping), log scale")

    def set_frame(self, frame) -> None:
        old = self.frame
        self.frame = frame
        if frame.looks != self._looks:
            self._restyle(frame)
        log = self.kind == "grad" or frame.surface.bounded_below
        if log != self._log:
            self._log = log
            self.axis.symlog = self.kind == "loss" and not log
            self.plot.setLogMode(x=False, y=log)
            self._title()
        self.cursor.setPos(frame.step)
        # The step axis spans the race computed so far (all of it when scrubbing back in a
        # race that is over), in jumps of a few per cent rather than at every frame.
        end = horizon(max(frame.step, frame.computed))
        if end != self._horizon:
            self._horizon = end
            self.plot.setXRange(0, end, padding=0.0)
        if old is not None and old.generation == frame.generation and old.step == frame.step:
            return
        steps, loss, grad = frame.history.sample(frame.step, ("loss", "grad"), MAX_POINTS)
        x = np.append(steps, frame.step).astype(np.float64)
        for r, c in enumerate(self.curves):
            if self.kind == "loss":
                y = display_loss(frame.surface, np.append(loss[r], frame.loss[r]))
                if self.axis.symlog:
                    y = symlog(y)
            else:
                y = np.maximum(np.append(grad[r], frame.grad_norm[r]), 1e-16)
            y = np.where(np.isfinite(y), y, np.nan)
            c.setData(x, y, connect="finite")

    def _restyle(self, frame) -> None:
        # Curves are kept and re-coloured: making a PlotDataItem costs ~0.4 ms, and a preset
        # of 18 racers made 18 of them in each plot within one event.
        self._looks = frame.looks
        R = len(frame.looks)
        for c in self.curves[R:]:
            self.plot.removeItem(c)
        del self.curves[R:]
        while len(self.curves) < R:
            c = pg.PlotDataItem()
            # Each curve kept as a pixmap between data updates: the window repaints the
            # plots for other reasons too (a panel shown, the cursor), 18 thick curves
            # stroked again each time took ~25 ms.
            c.curve.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
            self.plot.addItem(c)
            self.curves.append(c)
        for c, lk in zip(self.curves, frame.looks):
            c.setPen(pg.mkPen(lk.color, width=self.theme.curve_width))
