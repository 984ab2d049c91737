"""The network lab's own views, each fed a LabFrame: the gradient flow through the layers, the
dropout masks of the shown step and the network's output over the data.  Plot items are built
once (again only when the network's shape changes) and updated with setData / setImage."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QFont, QFontMetrics
from PySide6.QtWidgets import QGraphicsItem, QLabel, QSizePolicy, QVBoxLayout, QWidget

from engine.lab import log_heat
from engine.race.status import Status

from ...theme import Theme, style_axes
from ...views.contours import segments
from ...views.curves import LossAxis, horizon
from .session import CHECK_EVERY, LabFrame

WINDOW = 200  # checks shown in the heat map (a rolling window of the latest ones)
REF_RATIO = 1e-3  # the rule-of-thumb update size |Δw|/|w|
LAYER_MAP = pg.colormap.get("viridis")  # layers input (dark) to output (light)
HEAT_MAP = pg.colormap.get("inferno")
DIVERGED_RGBA = (255, 0, 200, 255)  # a NaN or infinite gradient: a cell no colour map has


def layer_colors(n: int) -> list:
    return [LAYER_MAP.map(0.15 + 0.75 * i / max(n - 1, 1), mode="qcolor") for i in range(n)]


def _label(plot, text: str, theme: Theme) -> None:
    """A plot's title that never widens its plot (on a narrow panel a long one loses its end,
    never its start).  An unchanged title is left alone: setting one lays the plot out again,
    and its repaint followed."""
    key = (text, theme.foreground, theme.font_pt)
    if getattr(plot, "_title_shown", None) == key:
        return
    plot._title_shown = key
    t = plot.titleLabel
    if "updateMin" not in vars(t):
        plain = t.updateMin

        def narrow():
            plain()
            t.setMinimumWidth(0)
            t._sizeHint = {k: (0, v[1]) for k, v in t._sizeHint.items()}

        t.updateMin = narrow
    plot.setTitle(text, color=theme.foreground, size=f"{theme.font_pt}pt", justify="left")


class DecadeAxis(LossAxis):
    """A left axis over log10 values (the bars' heights) labelled as powers of ten, whole
    decades only and never closer than a line of text apart."""

    def tickValues(self, minVal, maxVal, size):
        font = self.style.get("tickFont") or QFont()
        per = 1.3 * QFontMetrics(font).height() * (maxVal - minVal) / max(size, 1)  # decades a label needs
        k = max(1, int(np.ceil(per)))
        first = int(np.ceil(minVal / k) * k)
        return [(None, [float(v) for v in range(first, int(np.floor(maxVal)) + 1, k)])]


def _font(pt: int) -> QFont:
    f = QFont()
    f.setPointSize(max(pt, 6))
    return f


def _bars(bars, x, values, other=None, ox=None, ovalues=None, keep=None) -> tuple[float, float]:
    """Bars from a common floor up to log10 of each finite, positive value (the others are
    left out); returns the y range that shows them all (and ``keep``, a range to include)."""
    tops = []
    for item, xs, v in ((bars, x, values), (other, ox, ovalues)):
        if item is None:
            continue
        ok = np.isfinite(v) & (v > 0)
        with np.errstate(divide="ignore"):
            tops.append((item, xs[ok], np.log10(v[ok])))
    allv = np.concatenate([t for *_, t in tops] + ([np.asarray(keep, float)] if keep else []))
    lo = np.floor(allv.min() - 0.3) if allv.size else -6.0
    hi = allv.max() + 0.3 if allv.size else 1.0
    for item, xs, t in tops:
        item.setOpts(x=xs, y0=lo, y1=t, height=None)
    return lo, max(hi, lo + 1)


class GradientFlowView(pg.GraphicsLayoutWidget):
    """The selected contender's gradient per layer: norm against the step (log, one curve per
    layer, input dark to output light, with a legend), bars of the current step (max and mean
    |gᵢ| per layer on a log axis; the update size |Δw|/|w| per layer against the 1e-3 rule of
    thumb), and a heat map of log10 |g| layer x step over a rolling window whose colour limits
    are the window's 2nd and 98th percentiles; a NaN or infinite gradient is a magenta
    "diverged" cell, an exact zero the darkest one, the steps after a stop blank.  Taller than wide it stacks the plots; wider, it sets them two by two."""

    def __init__(self, theme: Theme, parent=None, staged: bool = False):
        """``staged``: only the first plot now, the others by ``build`` (a plot is ~10 ms of
        the GUI thread; the mode makes them in turns)."""
        super().__init__(parent)
        self.theme = theme
        self.plots: tuple = ()
        self.curves: list[pg.PlotDataItem] = []
        self.layers: tuple[str, ...] = ()
        self.last: tuple[np.ndarray, np.ndarray] | None = None  # (steps, norms) of the curves drawn
        # The numbers the bars show: step, and per layer "max", "mean" |g_i| and "update" |Δw|/|w|.
        self.now: dict[str, np.ndarray] = {}
        self.shape: str | None = None
        self._y = None  # the curves' value range shown (log10), moved in steps
        self._horizon = None
        self._tick_key = None
        self._heat_x = None
        self._dots = None  # the curves drawn with dots (only their first steps recorded)
        self._building = self._build_plots()
        next(self._building)
        if not staged:
            self.build()

    def build(self, one: bool = False) -> bool:
        """Make the remaining plots (``one``: the next one only); True once all are made."""
        for _ in self._building:
            if one:
                return False
        return True

    def _build_plots(self):
        self.lines = self.addPlot(row=0, col=0, axisItems={"left": LossAxis("left")})
        self.lines.setLogMode(y=True)
        self.lines.disableAutoRange()  # set from the data in steps: autoranging re-laid the axes every frame
        yield
        # Bar heights are log10 of the values; the axes label them as powers of ten.
        self.bars_plot = self.addPlot(row=1, col=0, axisItems={"left": DecadeAxis("left")})
        yield
        self.update_plot = self.addPlot(row=1, col=1, axisItems={"left": DecadeAxis("left")})
        yield
        self.heat_plot = self.addPlot(row=2, col=0)
        yield
        for p in (self.bars_plot, self.update_plot):
            p.getAxis("left").setLogMode(False, True)
        self.plots = (self.lines, self.bars_plot, self.update_plot, self.heat_plot)
        for p in self.plots:
            p.hideButtons()
            p.setMenuEnabled(False)
            p.setMouseEnabled(False, False)
        self.lines.showGrid(x=True, y=True, alpha=0.25)
        self.lines.getAxis("left").enableAutoSIPrefix(False)
        # The layer legend is a row of its own under the curves (inside the plot it hid them).
        self.legend = pg.LegendItem(colCount=3, verSpacing=-6, horSpacing=12, frame=False)
        self.legend.layout.setContentsMargins(0, 0, 0, 0)
        self.bar_max = pg.BarGraphItem(x=[], height=[], width=0.38)
        self.bar_mean = pg.BarGraphItem(x=[], height=[], width=0.38)
        self.bars_plot.addItem(self.bar_max)
        self.bars_plot.addItem(self.bar_mean)
        self.bar_update = pg.BarGraphItem(x=[], height=[], width=0.7)
        self.update_plot.addItem(self.bar_update)
        self.ref = pg.InfiniteLine(pos=np.log10(REF_RATIO), angle=0, movable=False,
                                   label="1e-3", labelOpts={"position": 0.05, "anchors": [(0, 0), (0, 0)]})
        self.update_plot.addItem(self.ref, ignoreBounds=True)
        self.heat = pg.ImageItem(axisOrder="row-major")
        self.heat_plot.addItem(self.heat)
        self.diverged = pg.TextItem("", color=DIVERGED_RGBA[:3], anchor=(0, 0))
        self.heat_plot.addItem(self.diverged, ignoreBounds=True)
        self.stop_line = pg.PlotCurveItem()  # the step a contender stopped at
        self.stop_line.setVisible(False)
        self.heat_plot.addItem(self.stop_line, ignoreBounds=True)
        # The current step: a two-point curve in view coordinates (log10 |g| up the axis), not
        # an InfiniteLine, which once moved recomputes its bounds inside its paint and asks
        # for its region to be painted again.
        self.cursor = pg.PlotCurveItem()
        self.lines.addItem(self.cursor, ignoreBounds=True)
        self._arrange("tall")
        self.set_theme(self.theme)

    # -- layout -------------------------------------------------------------------------------
    def _arrange(self, shape: str) -> None:
        """"tall": curves, then the two bar plots side by side, then the heat map, one under
        the other.  "wide": curves | heat map over max/mean bars | update bars.  "short" (under
        about 24 lines of tick labels, e.g. the centre at 1280x720 with the lesson shown): the
        curves over the two bar plots, without the heat map (the curves show the same numbers),
        so that what is left stays readable."""
        if shape == self.shape or not self.plots:
            return
        self.shape = shape
        lay = self.ci
        for p in self.plots:
            if p.scene() is not None and p in lay.items:
                lay.removeItem(p)
        if self.legend in lay.items:
            lay.removeItem(self.legend)
        self.heat_plot.setVisible(shape != "short")
        # (item, row, column, rows, columns); the legend is the row under the curves.
        if shape == "wide":
            places = ((self.lines, 0, 0, 1, 1), (self.legend, 1, 0, 1, 1), (self.heat_plot, 0, 1, 2, 1),
                      (self.bars_plot, 2, 0, 1, 1), (self.update_plot, 2, 1, 1, 1))
            stretch = (1, 0, 1)
        elif shape == "short":
            places = ((self.lines, 0, 0, 1, 2), (self.legend, 1, 0, 1, 2), (self.bars_plot, 2, 0, 1, 1),
                      (self.update_plot, 2, 1, 1, 1))
            stretch = (3, 0, 2)
        else:
            places = ((self.lines, 0, 0, 1, 2), (self.legend, 1, 0, 1, 2), (self.bars_plot, 2, 0, 1, 1),
                      (self.update_plot, 2, 1, 1, 1), (self.heat_plot, 3, 0, 1, 2))
            stretch = (4, 0, 3, 3)
        for p, row, col, rows, cols in places:
            lay.addItem(p, row=row, col=col, rowspan=rows, colspan=cols)
        # Short, the curves' "step" label goes (its tick numbers say it): a line of text is a
        # fifth of their height there.
        self.lines.getAxis("bottom").showLabel(shape != "short")
        for row in range(4):
            lay.layout.setRowStretchFactor(row, 0)
        for row, share in enumerate(stretch):
            lay.layout.setRowStretchFactor(row, share)
        for col in (0, 1):
            lay.layout.setColumnStretchFactor(col, 1)

    def resizeEvent(self, ev) -> None:
        w, h = self.width(), self.height()
        if w > 0 and h > 0 and getattr(self, "plots", ()):
            line = QFontMetrics(_font(self.theme.axis_pt)).height()
            self._arrange("short" if h < 24 * line else "wide" if w > 1.15 * h else "tall")
            self._ticks()
        super().resizeEvent(ev)

    # -- style --------------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackground(theme.background)
        if not self.plots:  # the plots take the theme when made
            return
        for p in self.plots:
            style_axes(p, theme, theme.axis_pt - 1, 1.2)
        fg = theme.foreground
        self.lines.setLabel("left", "|g|", color=fg)
        for p in (self.lines, self.heat_plot):
            p.setLabel("bottom", "step", color=fg)
        self.lines.getAxis("bottom").showLabel(self.shape != "short")
        self.cursor.setPen(pg.mkPen(fg, width=1.5))
        self.stop_line.setPen(pg.mkPen(fg, width=2, style=Qt.DashLine))
        self.ref.setPen(pg.mkPen(fg, width=2, style=Qt.DashLine))
        self.ref.label.setColor(fg)
        self.ref.label.setFont(_font(theme.axis_pt - 2))
        self.ref.label.fill = pg.mkBrush(pg.mkColor(theme.background).getRgb()[:3] + (210,))  # readable over bars
        self.legend.setLabelTextColor(fg)
        self.legend.setLabelTextSize(f"{theme.axis_pt - 2}pt")
        self._pens()
        if self.layers:
            self._legend()

    def _build(self, layers: tuple[str, ...]) -> None:
        self.layers = layers
        for c in self.curves:
            self.lines.removeItem(c)
        self.curves = []
        self._dots = None
        colors = layer_colors(len(layers))
        for name, col in zip(layers, colors):
            c = pg.PlotDataItem(name=name)
            # Kept as a pixmap between data updates, as the curves plots' are.
            c.curve.setCacheMode(QGraphicsItem.DeviceCoordinateCache)
            self.lines.addItem(c)
            self.curves.append(c)
        self.bar_max.setOpts(brushes=colors)
        self.bar_update.setOpts(brushes=colors)
        self._ticks()
        self._pens()
        self._legend()

    def _ticks(self) -> None:
        """Layer names under the bars and beside the heat map, every k-th one so they never
        run into each other (L10 and L11 did on a narrow panel)."""
        L = len(getattr(self, "layers", ()))
        if not L:
            return
        fm = QFontMetrics(_font(self.theme.axis_pt - 1))
        room = max(self.bars_plot.getViewBox().width(), 1)
        k = max(1, int(np.ceil(L * 1.3 * fm.horizontalAdvance(f"L{L}") / room)))
        keep = [i for i in range(L) if i % k == 0 or i == L - 1 and (L - 1) % k >= k / 2]
        rows = max(1, int(np.ceil(L * 1.2 * fm.height() / max(self.heat_plot.getViewBox().height(), 1))))
        if (L, k, rows, self.theme.axis_pt) == self._tick_key:
            return  # set again, the axes were drawn again at every frame
        self._tick_key = (L, k, rows, self.theme.axis_pt)
        # Room for every k-th name only: the axis says "layers 1 → L" instead (a lone "L7" under
        # eleven bars read as a layer of its own, and "L1" at the edge was dropped).
        major = [(i, f"L{i + 1}") for i in keep] if k == 1 else []
        for p in (self.bars_plot, self.update_plot):
            ax = p.getAxis("bottom")
            ax.setTicks([major, [(i, "") for i in range(L)]])
            ax.setLabel(f"layers 1 → {L}" if k > 1 else "", color=self.theme.foreground)
            ax.showLabel(k > 1)
        self.heat_plot.getAxis("left").setTicks([[(i + 0.5, f"L{i + 1}") for i in range(L)
                                                  if i % rows == 0 or i == L - 1 and (L - 1) % rows >= rows / 2]])

    def _legend(self) -> None:
        """Which colour is which layer: all of them for a few layers; else the input, middle and
        output ones (the colours run evenly from dark to light between them)."""
        self.legend.clear()
        L = len(self.curves)
        keep = range(L) if L <= 4 else sorted({0, L // 2, L - 1})
        for i in keep:
            name = f"L{i + 1}" + (" input" if i == 0 else " output" if i == L - 1 else "")
            self.legend.addItem(self.curves[i], name)

    def _pens(self) -> None:
        for c, col in zip(self.curves, layer_colors(len(self.curves))):
            c.setPen(pg.mkPen(col, width=self.theme.curve_width * 0.8))
            c.setSymbolBrush(col)
            c.setSymbolPen(None)
        fg = self.theme.foreground
        self.bar_mean.setOpts(brush=pg.mkBrush("#888888"), pen=pg.mkPen(fg))

    # -- data ---------------------------------------------------------------------------------
    def set_frame(self, f: LabFrame) -> None:
        if f.layers != self.layers:
            self._build(f.layers)
        r, L = f.selected, len(f.layers)
        steps, norms, gmax, gmean, update = f.telemetry(r, ("gnorm", "gmax", "gmean", "update"))  # (n, L) each
        n = len(steps)
        every = max(1, -(-n // 600))
        # Dots while there are only the first few steps (a curve of one point draws nothing).
        dots = n < CHECK_EVERY
        if dots != self._dots:
            self._dots = dots
            for c in self.curves:
                c.setSymbol("o" if dots else None)
                c.setSymbolSize(7)
        for i, c in enumerate(self.curves):
            y = norms[::every, i]
            ok = np.isfinite(y) & (y > 0)
            c.setData(steps[::every][ok], y[ok])
        self.last = (steps, norms)
        self._ranges(f.step, norms)
        self.cursor.setData([f.step, f.step], list(self._y))
        _label(self.lines, f"Gradient flow — {f.looks[r].name}", self.theme)
        nan = np.full(L, np.nan)
        stop = int(f.status_step[r]) if f.status[r] != Status.TRAINING else None
        # The bars: the latest step recorded (a stopped contender's: its last before the stop).
        m = n - 1 if stop is None else int(np.searchsorted(steps, stop, side="right")) - 1
        now = {k: (v[m] if m >= 0 else nan) for k, v in (("gmax", gmax), ("gmean", gmean), ("update", update))}
        self.now = {"step": int(steps[m]) if m >= 0 else 0, "max": now["gmax"], "mean": now["gmean"],
                    "update": now["update"]}
        x = np.arange(L)
        lo, hi = _bars(self.bar_max, x - 0.2, now["gmax"], self.bar_mean, x + 0.2, now["gmean"])
        self.bars_plot.setYRange(lo, hi, padding=0)
        self.bars_plot.setXRange(-0.7, L - 0.3, padding=0)
        ref = np.log10(REF_RATIO)
        # Headroom over the reference line: its "1e-3" label, under it, keeps clear of the title.
        lo, hi = _bars(self.bar_update, x, now["update"], None, None, None, (ref, ref + 0.7))
        self.update_plot.setYRange(lo, hi, padding=0)
        self.update_plot.setXRange(-0.7, L - 0.3, padding=0)
        grey = "#888888"
        _label(self.bars_plot, f'|gᵢ| max, <span style="color:{grey}">mean</span>', self.theme)
        _label(self.update_plot, "|Δw|/|w|", self.theme)
        self._ticks()
        # The heat map's cells are the checks' (evenly spaced); before the first, the first steps'.
        checks = steps % CHECK_EVERY == 0
        self._heat(*((steps[checks], norms[checks]) if checks.any() else (steps, norms)), stop)

    def _ranges(self, step: int, norms: np.ndarray) -> None:
        """The curves' axes: the steps up to a horizon that moves in jumps (as the curves
        plots'), the values over the heat map's window between robust limits (the engine's
        percentiles, so an early spike does not flatten the rest) widened to half decades, so
        the axes are laid out again only now and then, not at every frame."""
        end = horizon(step)
        if end != self._horizon:
            self._horizon = end
            self.lines.setXRange(0, end, padding=0)
        w = norms[-WINDOW:]
        _, bad, _, lo, hi = log_heat(w) if len(w) else (None, None, None, -3.0, 0.0)
        if len(w) and bad.all():
            lo, hi = -3.0, 0.0
        y = (np.floor(2 * lo - 0.6) / 2, np.ceil(2 * hi + 0.6) / 2)
        if y != self._y:
            self._y = y
            self.lines.setYRange(*y, padding=0)

    def _heat(self, steps: np.ndarray, norms: np.ndarray, stop: int | None = None) -> None:
        """``stop``: the step the contender stopped at (early stop or divergence): the steps
        after it were never trained and are left blank, a line marks it."""
        w = norms[-WINDOW:]
        if not len(w):
            self.heat.clear()
            self.diverged.setVisible(False)
            self.stop_line.setVisible(False)
            return
        s0, s1 = float(steps[-len(w)]), float(steps[-1])
        gone = steps[-len(w):] > stop if stop is not None else np.zeros(len(w), dtype=bool)
        logs, bad, zero, lo, hi = log_heat(w[~gone])  # the engine's log10 cells and 2nd/98th percentile limits
        rgba = np.zeros((*w.shape, 4), dtype=np.uint8)  # the steps after a stop: transparent
        part = HEAT_MAP.map(np.clip((logs - lo) / (hi - lo), 0, 1), mode="byte")
        part[bad] = DIVERGED_RGBA
        rgba[~gone] = part
        self.heat.setImage(np.ascontiguousarray(rgba.transpose(1, 0, 2)), autoLevels=False)
        if s1 < CHECK_EVERY:  # the first steps' cells, a step wide each
            self.heat.setRect(QRectF(s0 - 1, 0, len(w), w.shape[1]))
        else:
            self.heat.setRect(QRectF(s0, 0, max(s1 - s0, CHECK_EVERY), w.shape[1]))
        # The step axis moves in jumps of a tenth of the window (at every frame its labels
        # were laid out again): the latest cells run on towards its end, then it moves on.
        span = WINDOW * CHECK_EVERY
        end = max(span, -(-s1 // (span / 10)) * (span / 10))
        x = (max(0.0, end - 1.1 * span), end) if len(w) == WINDOW else (0.0, float(horizon(int(s1))))
        if x != self._heat_x:
            self._heat_x = x
            self.heat_plot.setXRange(*x, padding=0)
        self.heat_plot.setYRange(0, w.shape[1], padding=0)
        _label(self.heat_plot, f"log₁₀ |g| per layer: {lo:.1f} … {hi:.1f}" + (" · black: 0" if zero.any() else ""),
               self.theme)
        self.stop_line.setVisible(stop is not None)
        if stop is not None:
            self.stop_line.setData([stop, stop], [0, w.shape[1]])
        # Hidden unless needed: a text item whose plot moved is laid out again in its paint,
        # which then asked for a second paint at every frame.
        self.diverged.setVisible(bool(bad.any()))
        if bad.any():
            self.diverged.setText("magenta: diverged (NaN / inf)")
            self.diverged.setPos(s0, w.shape[1])


class MasksView(QWidget):
    """Per dropout layer, which units of each example of the batch were dropped at the shown
    step, per DropConnect layer which weights of its matrix (dark: dropped), from the engine's
    exact masks; the rescaling of the kept ones stated."""

    def __init__(self, theme: Theme, parent=None):
        super().__init__(parent)
        self.theme = theme
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        # One short line (the full rule is its tooltip): a wrapped paragraph squeezed the masks
        # to nothing in a short dock.
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        lay.addWidget(self.note)
        self.plots = pg.GraphicsLayoutWidget()
        lay.addWidget(self.plots, 1)
        self.images: dict[str, tuple] = {}
        self.shown: dict[str, np.ndarray] = {}  # the masks on screen, by name
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.plots.setBackground(theme.background)
        self.plots.setMinimumHeight(7 * theme.axis_pt)  # a title, the masks and the axes
        for p, _ in self.images.values():
            style_axes(p, theme, theme.axis_pt - 2, 1.0)

    def _build(self, names: list[str]) -> None:
        self.plots.clear()
        self.images = {}
        for i, name in enumerate(names):
            p = self.plots.addPlot(row=0, col=i)
            p.hideButtons()
            p.setMenuEnabled(False)
            p.setMouseEnabled(False, False)
            p.invertY(True)
            img = pg.ImageItem(axisOrder="row-major")
            img.setLevels((0, 1))
            img.setLookupTable(np.array([[25, 25, 30], [235, 235, 225]], dtype=np.uint8))
            p.addItem(img)
            style_axes(p, self.theme, self.theme.axis_pt - 2, 1.0)
            # Dropout: rows are the batch's examples (the note says so): no left axis, its room
            # goes to the masks and their titles (an "example" label squeezed and cut them).
            # DropConnect: the weight matrix, a row per input, a column per unit.
            p.hideAxis("left")
            p.setLabel("bottom", "unit" if name.endswith(".dropout") else "unit (rows: inputs)",
                       color=self.theme.foreground)
            self.images[name] = (p, img)

    def set_frame(self, f: LabFrame) -> None:
        if not f.dropouts:
            self.note.setText("No dropout or DropConnect in this network (Setup: a hidden layer's dropout p).")
            self.note.setToolTip("")
            self.plots.setVisible(False)
            if self.images:
                self._build([])
            self.shown = {}
            return
        names = [n for n, _ in f.dropouts]
        self.plots.setVisible(True)
        if list(self.images) != names:
            self._build(names)
        if f.masks is None:
            self.note.setText("Masks appear from step 1 (step 0 has drawn none).")
            for _, img in self.images.values():
                img.clear()
            self.shown = {}
            return
        kept, tags = [], []
        nd = nc = 0
        for name, p in f.dropouts:
            m = f.masks[name]
            plot, img = self.images[name]
            img.setImage(m, autoLevels=False)
            if name.endswith(".dropout"):
                nd += 1
                tag = f"D{nd}"
            else:
                nc += 1
                tag = f"W{nc}"
            # Short: two or three grids share the dock's width (a longer title ran into the next).
            _label(plot, f"{tag}: {100 * m.mean():.0f}% kept", self.theme)
            kept.append(p)
            tags.append(tag)
        self.shown = {n: f.masks[n] for n in names}
        p = kept[0]
        what = "units" if nc == 0 else "weights" if nd == 0 else "units and weights"
        if f.dropout_form == "inverted":
            short = f"kept ×{1 / (1 - p):.3g} in training"
            rule = (f"Inverted form: while training, kept {what} are multiplied by 1/(1−p) "
                    f"(= {1 / (1 - p):.3g} at p = {p:g}); nothing changes at test time.")
        else:
            short = f"all ×{1 - p:.3g} at test"
            rule = (f"Original form: kept {what} pass unscaled while training; at test time every one "
                    f"is multiplied by (1−p) (= {1 - p:.3g} at p = {p:g}).")
        ps = f"p = {kept[0]:g}" if len(set(kept)) == 1 else ", ".join(f"{t} p={p:g}" for t, p in zip(tags, kept))
        rows = (["D: a row per example"] if nd else []) + (["W: weights (DropConnect), a row per input"] if nc else [])
        self.note.setText(f"Step {f.mask_step:,} · {f.looks[f.selected].name} · {ps} · "
                          f"{' · '.join(rows)}, dark = dropped · {short}")
        self.note.setToolTip(f"Masks of step {f.mask_step:,} for {f.looks[f.selected].name} — dropout (D): a row "
                             f"per example of the batch, a column per unit; DropConnect (W): a layer's weight "
                             f"matrix, a row per input, a column per unit; dark: dropped. {rule}")


class OutputView(pg.PlotWidget):
    """What the selected contender has learned: for 2-D classification its class probability
    over the plane with the p = 0.5 boundary and the examples (training filled, validation
    hollow); for 1-D regression its fitted curve over the data; otherwise the confusion matrix
    of the validation examples."""

    def __init__(self, theme: Theme, parent=None):
        super().__init__(parent)
        self.theme = theme
        self.plot = self.getPlotItem()
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        # The p = 0.5 boundary as segments (the shared vectorised marching squares): pyqtgraph's
        # isocurve took ~10 ms of the GUI thread at each new output.
        self.contour = pg.PlotCurveItem(connect="pairs")
        self.plot.addItem(self.contour, ignoreBounds=True)
        self.fit = pg.PlotDataItem()
        self.plot.addItem(self.fit)
        self.train = pg.ScatterPlotItem(size=7)
        self.val = pg.ScatterPlotItem(size=9)
        self.plot.addItem(self.train)
        self.plot.addItem(self.val)
        self.data_key = None
        self.shown = None  # (output step, contender, data key) drawn
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackground(theme.background)
        style_axes(self.plot, theme, theme.axis_pt - 1, 1.2)
        self.contour.setPen(pg.mkPen(theme.foreground, width=3))
        self.fit.setPen(pg.mkPen("#E69F00", width=theme.curve_width))
        self.data_key = None

    def _class_colors(self, n: int) -> np.ndarray:
        base = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#F0E442", "#56B4E9", "#E69F00", "#999999"]
        return np.array([pg.mkColor(base[i % len(base)]).getRgb()[:3] for i in range(n)], dtype=float)

    def set_frame(self, f: LabFrame) -> None:
        d = f.data
        kind = "plane" if f.extent is not None and d.classes else "line" if f.line is not None else "confusion"
        if (kind, f.generation, self.theme.name) != self.data_key:
            self.data_key = (kind, f.generation, self.theme.name)
            self._points(kind, f)
        r = f.selected
        out = f.output
        if (out.step, r, self.data_key) == self.shown:
            return  # the network's output changes at the views' rate, not every frame
        self.shown = (out.step, r, self.data_key)
        title = f"{f.looks[r].name} · step {out.step:,}"
        if kind == "plane":
            g = out.values[r]
            colors = self._class_colors(d.classes)
            if g.shape[-1] == 1:  # one sigmoid output: p(class 1)
                probs = np.concatenate([1 - g, g], axis=-1)
            else:
                probs = g
            rgb = probs @ colors
            bg = np.array(pg.mkColor(self.theme.background).getRgb()[:3], dtype=float)
            conf = np.clip(2 * probs.max(axis=-1, keepdims=True) - 1, 0, 1) if d.classes == 2 else 0.7
            rgb = (0.35 + 0.45 * conf) * rgb + (0.65 - 0.45 * conf) * bg
            self.image.setImage(rgb.astype(np.uint8), autoLevels=False, levels=(0, 255))
            x0, x1, y0, y1 = f.extent
            self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
            if d.classes == 2:
                res = probs.shape[0]
                xs = x0 + (np.arange(res) + 0.5) * (x1 - x0) / res  # the pixels' centres
                ys = y0 + (np.arange(res) + 0.5) * (y1 - y0) / res
                seg = segments(xs, ys, probs[..., 1], [0.5])
                self.contour.setData(seg[:, 0], seg[:, 1], connect="pairs")
            self.contour.setVisible(d.classes == 2)
        elif kind == "line":
            self.fit.setData(f.line, out.values[r][:, 0])
        else:
            cm, acc = out.confusion[r], out.accuracy[r]  # counted by the engine (session._output)
            C = cm.shape[0]
            self.image.setImage(cm.astype(float), levels=(0, max(cm.max(), 1)))
            self.image.setRect(QRectF(-0.5, -0.5, C, C))
            # On a line of its own: one line was cut in a narrow centre.
            title += f"<br>validation: {100 * acc:.1f}% right"
        _label(self.plot, title, self.theme)

    def _points(self, kind: str, f: LabFrame) -> None:
        d = f.data
        self.image.setVisible(kind != "line")
        self.fit.setVisible(kind == "line")
        self.train.setVisible(kind != "confusion")
        self.val.setVisible(kind != "confusion")
        self.contour.setVisible(kind == "plane")
        for side in ("bottom", "left"):
            self.plot.getAxis(side).setTicks(None)  # the confusion matrix's class ticks go
        fg = self.theme.foreground
        if kind == "plane":
            colors = self._class_colors(d.classes).astype(int)
            # One brush and pen per class, shared by its points (one each per point took 0.1 s).
            brushes = [pg.mkBrush(*rgb) for rgb in colors]
            pens = [pg.mkPen(*rgb, width=2.2) for rgb in colors]
            self.train.setData(d.X_train[:, 0], d.X_train[:, 1], brush=[brushes[c] for c in d.y_train],
                               pen=pg.mkPen(fg, width=0.8))
            self.val.setData(d.X_val[:, 0], d.X_val[:, 1], brush=pg.mkBrush(0, 0, 0, 0),
                             pen=[pens[c] for c in d.y_val])
            x0, x1, y0, y1 = f.extent
            self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
            self.plot.setAspectLocked(True)
            # Short labels: on a narrow centre a longer one was cut (the tooltip says more).
            self.plot.setLabel("bottom", "x₁", color=fg)
            self.plot.setLabel("left", "x₂", color=fg)
            self.setToolTip("The inputs x₁, x₂ standardised; colour: the class the network predicts, paler where "
                            "it is less sure; white line: p = 0.5; filled dots: training, rings: validation")
        elif kind == "line":
            self.train.setData(d.X_train[:, 0], d.y_train, brush=pg.mkBrush(fg), pen=None)
            self.val.setData(d.X_val[:, 0], d.y_val, brush=pg.mkBrush(0, 0, 0, 0), pen=pg.mkPen(fg, width=1.5))
            self.plot.setAspectLocked(False)
            self.plot.enableAutoRange()
            self.plot.setLabel("bottom", "x", color=fg)
            self.setToolTip("The input x standardised; the line: the network's prediction; filled dots: training, "
                            "rings: validation")
            self.plot.setLabel("left", "y", color=fg)
        else:
            C = d.classes
            self.image.setColorMap(pg.colormap.get("viridis"))
            # The axes hold the C x C matrix and nothing else: a locked aspect in a tall view
            # stretched the class axis to -5 … 15.
            self.plot.setAspectLocked(False)
            self.plot.disableAutoRange()
            self.plot.setRange(xRange=(-0.5, C - 0.5), yRange=(-0.5, C - 0.5), padding=0)
            ticks = [[(i, str(i)) for i in range(C)]]
            self.plot.getAxis("bottom").setTicks(ticks)
            self.plot.getAxis("left").setTicks(ticks)
            self.plot.setLabel("bottom", "predicted class", color=fg)
            self.plot.setLabel("left", "true class", color=fg)

