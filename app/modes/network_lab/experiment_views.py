"""The Network lab's experiment figures, drawn from engine.experiments' results: networks' paths
in function space, the loss landscape on a plane of weight space with the contenders' paths and
their distance from it, and initialisers side by side (per-layer std bars, loss curves)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from engine.experiments import FunctionSpace, InitCompare, Landscape
from engine.nn.function_space import PROJECTIONS

from ...theme import MARKERS, PALETTE, Theme, height_colormap, style_axes
from ...views.contours import segments
from ...views.curves import CurvePlot
from ...views.look import Look

HOVER_PX = 14  # a point within this many pixels of the mouse names its network


def _latest(steps: np.ndarray, step: int) -> int:
    """The index of the latest record at or before ``step``."""
    return max(int(np.searchsorted(steps, step, side="right")) - 1, 0)


def _plot(theme: Theme) -> pg.PlotWidget:
    w = pg.PlotWidget()
    p = w.getPlotItem()
    p.hideButtons()
    p.setMenuEnabled(False)
    w.setBackground(theme.background)
    style_axes(p, theme, theme.axis_pt - 1, 1.2)
    return w


def _legend(plot: pg.PlotItem, theme: Theme, offset=(10, 10)) -> pg.LegendItem:
    """The plot's legend (made once, emptied by ``plot.clear()``) in the theme's colours."""
    legend = plot.addLegend(offset=offset, labelTextSize=f"{theme.axis_pt}pt")
    legend.setLabelTextColor(theme.foreground)
    legend.setBrush(pg.mkBrush(QColor(theme.panel)))
    return legend


def progress_colors(color: str, n: int) -> list[QColor]:
    """``n`` shades of ``color`` from dark (the first record) to light (the last)."""
    base = QColor(color)
    out = []
    for f in np.linspace(0.0, 1.0, max(n, 1)):
        c = QColor(base)
        c.setHslF(base.hslHueF(), base.hslSaturationF(), 0.18 + 0.62 * float(f))
        out.append(c)
    return out[:n]


class FunctionSpaceView(pg.PlotWidget):
    """Each network's function on the probe set over training, projected to 2-D: a trail per
    network coloured dark to light by progress, its family's marker shape, the record at the
    current step ringed; hovering a point names its network."""

    def __init__(self, theme: Theme, parent=None):
        super().__init__(parent)
        self.theme = theme
        self.res: FunctionSpace | None = None
        self.step = 0
        self.heading = ""  # the figure's title at the current step (the panel shows it above)
        self.shown = -1  # the record drawn as the current one
        self.plot = self.getPlotItem()
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setAspectLocked(False)
        self.items: list = []
        self.heads = pg.ScatterPlotItem(pxMode=True)
        self.heads.setZValue(10)
        self.hover = pg.TextItem(anchor=(0, 1))
        self.hover.setZValue(20)
        self.hover.hide()
        self.hovered = ""
        self.scene().sigMouseMoved.connect(self._moved)
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.setBackground(theme.background)
        style_axes(self.plot, theme, theme.axis_pt - 1, 1.2)
        self.hover.setColor(theme.foreground)
        self.hover.fill = pg.mkBrush(theme.panel)
        if self.res is not None:
            self.set_result(self.res)

    def set_result(self, res: FunctionSpace) -> None:
        self.res = res
        self.shown = -1
        self.plot.clear()  # and the legend's entries
        t = self.theme
        # Bottom right: in the lessons' runs the trails start at the top left and fan out to the right.
        self.legend = _legend(self.plot, t, offset=(-10, -10))
        N, T, _ = res.points.shape
        for n in range(N):
            f = int(res.family[n])
            color = t.palette[f % len(t.palette)]
            shades = progress_colors(color, T)
            xy = res.points[n]
            line = pg.PlotDataItem(xy[:, 0], xy[:, 1], pen=pg.mkPen(QColor(color).darker(130), width=1.5))
            dots = pg.ScatterPlotItem(xy[:, 0], xy[:, 1], symbol=MARKERS[f % len(MARKERS)], size=t.head_size * 0.45,
                                      brush=[pg.mkBrush(c) for c in shades], pen=pg.mkPen(t.outline, width=0.5))
            self.plot.addItem(line)
            self.plot.addItem(dots)
        for f, name in enumerate(res.names):
            sample = pg.ScatterPlotItem(symbol=MARKERS[f % len(MARKERS)], size=t.head_size * 0.7,
                                        brush=pg.mkBrush(t.palette[f % len(t.palette)]), pen=pg.mkPen(t.outline))
            self.legend.addItem(sample, name)
        self.plot.addItem(self.heads)
        self.plot.addItem(self.hover, ignoreBounds=True)
        lo, hi = res.points.reshape(-1, 2).min(axis=0), res.points.reshape(-1, 2).max(axis=0)
        self.plot.setRange(xRange=(lo[0], hi[0]), yRange=(lo[1], hi[1]), padding=0.06)
        self.set_step(self.step)

    def set_step(self, step: int) -> None:
        self.step = int(step)
        res = self.res
        if res is None:
            return
        k = _latest(res.steps, self.step)
        if k == self.shown:  # playback moves on every frame, the records every few steps
            return
        self.shown = k
        t = self.theme
        pts = res.points[:, k]
        self.heads.setData(pts[:, 0], pts[:, 1], symbol=[MARKERS[int(f) % len(MARKERS)] for f in res.family],
                           size=t.head_size, brush=[pg.mkBrush(t.palette[int(f) % len(t.palette)]) for f in res.family],
                           pen=pg.mkPen(t.foreground, width=2.5))
        sil = ", ".join(f"{name} {res.silhouette[f, k]:.2f}" for f, name in enumerate(res.names))
        name = PROJECTIONS.get(res.projection).name
        self.heading = (f"Functions on the validation set ({name}), step {int(res.steps[k])}. "
                        f"Silhouette (1: apart, 0: mixed): {sil}")

    def network_at(self, scene_pos) -> int | None:
        """The network whose recorded point (any record) lies nearest ``scene_pos``, within
        HOVER_PX pixels."""
        if self.res is None:
            return None
        vb = self.plot.vb
        N, T, _ = self.res.points.shape
        flat = self.res.points.reshape(-1, 2)
        px = np.array([[p.x(), p.y()] for p in (vb.mapViewToScene(pg.Point(*xy)) for xy in flat)])
        d = np.hypot(px[:, 0] - scene_pos.x(), px[:, 1] - scene_pos.y())
        i = int(np.argmin(d))
        return i // T if d[i] <= HOVER_PX else None

    def _moved(self, scene_pos) -> None:
        n = self.network_at(scene_pos)
        if n is None:
            self.hovered = ""
            self.hover.hide()
            return
        self.hovered = self.res.member_name(n)
        acc = self.res.accuracy[n, _latest(self.res.steps, self.step)]
        self.hover.setText(f"{self.hovered}  ({100 * acc:.0f}% right)")
        self.hover.setPos(self.plot.vb.mapSceneToView(scene_pos))
        self.hover.show()


class LandscapeView(QSplitter):
    """The network's loss on the plane (log colour, iso-lines), each contender's projected path
    as a trail with its head at the current step, and beside it each one's distance from the
    plane against the step."""

    def __init__(self, theme: Theme, parent=None):
        super().__init__(Qt.Horizontal, parent)
        self.theme = theme
        self.res: Landscape | None = None
        self.looks: tuple[Look, ...] = ()
        self.step = 0
        self.heading = ""
        self.shown = -1
        self.map = _plot(theme)
        self.plot = self.map.getPlotItem()
        self.image = pg.ImageItem()
        self.iso = pg.PlotDataItem(connect="pairs")
        self.trails: list[pg.PlotDataItem] = []
        self.halos: list[pg.PlotDataItem] = []
        self.heads = pg.ScatterPlotItem(pxMode=True)
        self.heads.setZValue(10)
        self.distance = CurvePlot(theme)
        self.distance.set_axis("distance from the plane", "How far each contender's weights are from the plane: "
                               "the map under a trail is the loss of its weights only where this is 0", "linear")
        self.addWidget(self.map)
        self.addWidget(self.distance)
        self.setSizes([600, 400])
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.map.setBackground(theme.background)
        style_axes(self.plot, theme, theme.axis_pt - 1, 1.2)
        self.distance.set_theme(theme)
        if self.res is not None:
            self.set_result(self.res, self.looks)

    def set_result(self, res: Landscape, looks) -> None:
        self.res, self.looks = res, tuple(looks)
        self.shown = -1
        t = self.theme
        self.plot.clear()
        z = np.log10(np.where(np.isfinite(res.grid) & (res.grid > 0), res.grid, np.nan))
        lo, hi = np.nanmin(z), np.nanmax(z)
        z = np.nan_to_num(z, nan=hi)
        cmap = height_colormap(t, "viridis")
        self.image.setImage(z.T, levels=(lo, hi), lut=cmap.getLookupTable(nPts=256))
        a, b = res.alphas, res.betas
        self.image.setRect(pg.QtCore.QRectF(a[0], b[0], a[-1] - a[0], b[-1] - b[0]))
        self.plot.addItem(self.image)
        seg = segments(a, b, z, np.linspace(lo, hi, 14)[1:-1])
        self.iso.setData(seg[:, 0], seg[:, 1], connect="pairs", pen=pg.mkPen(QColor(255, 255, 255, 90), width=1))
        self.plot.addItem(self.iso)
        self.trails, self.halos = [], []
        for r, lk in enumerate(self.looks):
            halo = pg.PlotDataItem(res.coords[r, :, 0], res.coords[r, :, 1], pen=pg.mkPen(t.outline, width=t.trail_width + 3))
            tr = pg.PlotDataItem(res.coords[r, :, 0], res.coords[r, :, 1], pen=pg.mkPen(lk.color, width=t.trail_width),
                                 name=lk.name)
            self.plot.addItem(halo)
            self.plot.addItem(tr)
            self.trails.append(tr)
            self.halos.append(halo)
        start = pg.ScatterPlotItem([0.0], [0.0], symbol="+", size=t.head_size, pen=pg.mkPen(t.start, width=3))
        self.plot.addItem(start)
        self.plot.addItem(self.heads)
        legend = _legend(self.plot, t)
        for tr, lk in zip(self.trails, self.looks):
            legend.addItem(tr, lk.name)
        through = [self.looks[i].name for i in range(len(self.looks)) if res.distance[i, -1] <= 1e-9 * max(1.0, res.distance.max())]
        what = ("the start and the ends of " + " and ".join(through)) if res.plane.kind == "points" else \
            "two filter-normalised random directions"
        self.heading = (f"The network's loss on the whole training set (colour: log scale, dark {10 ** lo:.2g} to "
                        f"light {10 ** hi:.2g}) on the plane of weight space through {what}; + marks the start")
        self.plot.setRange(xRange=(a[0], a[-1]), yRange=(b[0], b[-1]), padding=0)
        self.distance.set_looks(self.looks)
        self.set_step(self.step)

    def set_step(self, step: int) -> None:
        self.step = int(step)
        res = self.res
        if res is None:
            return
        self.distance.set_cursor(self.step, int(res.steps[-1]))
        k = _latest(res.steps, self.step)
        if k == self.shown:  # playback moves on every frame, the records every few steps
            return
        self.shown = k
        for r, (tr, halo) in enumerate(zip(self.trails, self.halos)):
            for item in (tr, halo):
                item.setData(res.coords[r, : k + 1, 0], res.coords[r, : k + 1, 1])
        t = self.theme
        self.heads.setData(res.coords[:, k, 0], res.coords[:, k, 1], size=t.head_size,
                           symbol=[lk.marker for lk in self.looks], brush=[pg.mkBrush(lk.color) for lk in self.looks],
                           pen=pg.mkPen(t.outline, width=2))
        self.distance.set_series(res.steps[: k + 1], res.distance[:, : k + 1])


class InitView(QWidget):
    """Initialisers side by side: per initialiser a small plot of each hidden layer's activation
    std and each weight matrix's gradient std at step 0, and every one's validation loss."""

    def __init__(self, theme: Theme, parent=None):
        super().__init__(parent)
        self.theme = theme
        self.res: InitCompare | None = None
        self.heading = ""
        self.grid = pg.GraphicsLayoutWidget()
        self.curves = CurvePlot(theme)
        self.curves.set_axis("val loss  (log)", "Validation loss of the network under each initialiser", "log")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        split = QSplitter(Qt.Vertical)
        split.addWidget(self.grid)
        split.addWidget(self.curves)
        lay.addWidget(split)
        self.bars: dict[str, tuple] = {}
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.grid.setBackground(theme.background)
        self.curves.set_theme(theme)
        if self.res is not None:
            self.set_result(self.res)

    def looks(self) -> tuple[Look, ...]:
        return tuple(Look(i, PALETTE[k % len(PALETTE)], MARKERS[k % len(MARKERS)]) for k, i in enumerate(self.res.inits))

    def set_result(self, res: InitCompare) -> None:
        self.res = res
        t = self.theme
        self.grid.clear()
        self.bars = {}
        cols = min(len(res.inits), 4)
        for k, (init, st, sym) in enumerate(zip(res.inits, res.stats, res.symmetric)):
            p = self.grid.addPlot(row=k // cols, col=k % cols)
            p.hideButtons()
            p.setMenuEnabled(False)
            style_axes(p, t, t.axis_pt - 3, 1.0)
            x = np.arange(1, len(st.act_std) + 1)
            act = pg.BarGraphItem(x=x - 0.2, height=st.act_std, width=0.38, brush=PALETTE[k % len(PALETTE)])
            xg = np.arange(1, len(st.grad_std) + 1)  # every weight matrix, the output layer's last
            top = max(float(np.max(st.act_std)), 1e-12) if np.max(st.act_std) > 0 else 1.0
            g = st.grad_std / max(float(np.max(st.grad_std)), 1e-300) * top
            grad = pg.BarGraphItem(x=xg + 0.2, height=g, width=0.38, brush=QColor(t.foreground).darker(160))
            p.addItem(act)
            p.addItem(grad)
            note = " · units alike" if sym and all(sym) else ""
            p.setTitle(f"{init}{note}", color=t.foreground, size=f"{t.axis_pt - 1}pt")
            p.setLabel("bottom", "layer", color=t.foreground)
            self.bars[init] = (st.act_std, st.grad_std)
        self.grid.ci.setToolTip("Bars per hidden layer at step 0: colour, the activations' std; grey, the weight "
                                "gradient's std (scaled to the tallest colour bar)")
        self.heading = ("At step 0, per layer: the activations' std (colour) and the weight gradient's std "
                        "(grey, the largest as tall as the tallest colour bar); below, each initialiser's validation loss")
        self.curves.set_looks(self.looks())
        legend = _legend(self.curves.plot, t, offset=(10, -10))
        legend.setColumnCount(2)
        legend.clear()
        for c, lk in zip(self.curves.curves, self.curves.looks):
            legend.addItem(c, lk.name)
        self.curves.set_series(res.steps, res.val_loss)
        self.curves.set_cursor(int(res.steps[-1]), int(res.steps[-1]))

    def set_step(self, step: int) -> None:
        if self.res is not None:
            self.curves.set_cursor(int(step), int(self.res.steps[-1]))
