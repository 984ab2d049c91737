"""Curves against the step, one line per racer (a loss, a gradient norm, ...), with a cursor at
the current step; the mode hands it plain series."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics
from PySide6.QtWidgets import QGraphicsItem

from ..theme import Theme, style_axes


class LossAxis(pg.AxisItem):
    """The left axis: on a log scale it labels whole decades only (pyqtgraph otherwise writes
    2·10¹, 3·10¹, ... on top of each other on a short panel); with ``symlog`` set, the data
    are symlog(f) and the ticks sit at 0 and ±1, ±10, ±100, ... labelled in f."""

    symlog = False

    def logTickStrings(self, values, scale, spacing):
        strings = super().logTickStrings(values, scale, spacing)
        lo, hi = sorted(self.range) if self.range else (0.0, 0.0)
        if np.floor(hi) > np.floor(lo) or not len(values):
            return [s if abs(v - round(v)) < 1e-9 else "" for s, v in zip(strings, values)]
        # Within one decade (a validation loss between 0.3 and 0.8) there is no whole decade to
        # label: the 1, 2, 3 and 5 multiples are (all ticks when none of those is in view),
        # else the axis had no number at all.
        mant = [round(10 ** (v - np.floor(v + 1e-9)), 6) for v in values]
        keep = [m in (1, 2, 3, 5) for m in mant]
        return [s if k or not any(keep) else "" for s, k in zip(strings, keep)]

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
    """One line per racer against the step, on a ``"log"``, ``"symlog"`` or ``"linear"`` value
    axis, with a cursor at the current step.  Plain inputs: ``set_axis``, ``set_looks``,
    ``set_cursor`` and ``set_series``."""

    def __init__(self, theme: Theme, parent=None):
        axis = LossAxis("left")
        super().__init__(parent, axisItems={"left": axis})
        self.axis = axis
        self.theme = theme
        self.plot = self.getPlotItem()
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        axis.enableAutoSIPrefix(False)  # "(x0.001)" beside an accuracy reads as a unit
        self.curves: list[pg.PlotDataItem] = []
        self.cursor = pg.InfiniteLine(angle=90, movable=False)
        self.plot.addItem(self.cursor, ignoreBounds=True)
        self.looks: tuple = ()
        self.events: list[pg.InfiniteLine] = []
        self.scale = None
        self._label = ("", "")
        self._horizon = None
        self.plot.disableAutoRange(axis="x")
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackground(theme.background)
        style_axes(self.plot, theme, theme.axis_pt - 1, 1.2)
        self.plot.setLabel("bottom", "step", color=theme.foreground)
        self.plot.setLabel("left", self._label[0], color=theme.foreground)
        c = QColor(theme.foreground)
        c.setAlphaF(0.7)
        self.cursor.setPen(pg.mkPen(c, width=2))
        self._pens()

    def set_axis(self, label: str, tip: str, scale: str) -> None:
        """The value axis: its label (short: it runs along a panel that may be ~150 px
        tall), a tooltip that says more, and its scale."""
        if scale not in ("log", "symlog", "linear"):
            raise ValueError(f"scale must be 'log', 'symlog' or 'linear', got {scale!r}")
        if (label, tip) != self._label:
            self._label = (label, tip)
            self.plot.setLabel("left", label, color=self.theme.foreground)
            self.setToolTip(tip)
        if scale != self.scale:
            self.scale = scale
            self.axis.symlog = scale == "symlog"
            self.plot.setLogMode(x=False, y=scale == "log")

    def set_looks(self, looks) -> None:
        """One curve per look, in its colour.  Curves are kept and re-coloured: making a
        PlotDataItem costs ~0.4 ms, and a preset of 18 racers made 18 of them in each plot
        within one event."""
        looks = tuple(looks)
        if looks == self.looks:
            return
        self.looks = looks
        R = len(looks)
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
        self._pens()

    def _pens(self) -> None:
        for c, lk in zip(self.curves, self.looks):
            c.setPen(pg.mkPen(lk.color, width=self.theme.curve_width))

    def set_cursor(self, step: int, extent: int) -> None:
        """The cursor at ``step``; the step axis spans ``extent`` steps in jumps of a few per
        cent rather than at every frame."""
        self.cursor.setPos(step)
        end = horizon(extent)
        if end != self._horizon:
            self._horizon = end
            self.plot.setXRange(0, end, padding=0.0)

    def set_events(self, events) -> None:
        """Dashed lines at the steps where a racer stopped: (step, word, colour) each, e.g.
        (1200, "diverged", "#D55E00")."""
        events = list(events)
        while len(self.events) < len(events):
            line = pg.InfiniteLine(angle=90, movable=False, label="", labelOpts={"position": 0.9})
            self.plot.addItem(line, ignoreBounds=True)
            self.events.append(line)
        for line, (step, word, color) in zip(self.events, events):
            line.setPen(pg.mkPen(color, width=2, style=Qt.DashLine))
            line.setPos(step)
            line.label.setFormat(word)
            line.label.setColor(color)
            line.setVisible(True)
        for line in self.events[len(events):]:
            line.setVisible(False)

    @property
    def step(self) -> float:
        return self.cursor.value()

    def set_series(self, steps: np.ndarray, values: np.ndarray) -> None:
        """``values`` (curves, len(steps)) in their own unit; on a log axis values at or below
        0 sit at 1e-16, on any axis a non-finite value leaves a gap."""
        x = np.asarray(steps, dtype=np.float64)
        for c, y in zip(self.curves, np.asarray(values, dtype=np.float64)):
            if self.scale == "log":
                y = np.maximum(y, 1e-16)
            elif self.scale == "symlog":
                y = symlog(y)
            c.setData(x, np.where(np.isfinite(y), y, np.nan), connect="finite")
