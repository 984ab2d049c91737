"""The network diagram: units in layers (for 2-D inputs each unit a small image of its output
over the input plane), edges coloured by the weight's sign and as wide as its size on fixed
decades (or its gradient's), dropout of the shown step on it, and the numbers on hover."""
from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, QSize
from PySide6.QtGui import QCursor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QToolTip, QVBoxLayout, QWidget

from engine.nn import inside as INSIDE

from ...shell.worker import OneWorkerAtATime, Worker
from ...theme import Theme

MAX_UNITS = 32  # units drawn per layer; a wider layer shows its first MAX_UNITS - 1 and "+N more"
MAX_EDGES = 256  # edges drawn between two layers: the strongest by the shown measure
GRID_RES = 24  # each unit's image of the input plane, res x res
EVERY_S = 0.25  # while playing, a new picture at most this often (the views' rate)
HALF = 0.45  # edges start and end this far from a unit's centre (its half size and a margin)
EXAMPLE = 0  # the example of the batch whose dropout mask the diagram shows (the grid's first row)
POSITIVE, NEGATIVE = "#E69F00", "#56B4E9"  # Okabe-Ito orange and sky blue: weight sign
# Edge widths on fixed decades: (lowest decade, highest) of |w| and of |dL/dw|; a decade a step.
DECADES = {"weight": (-3, 1), "gradient": (-6, -2)}
UNIT_MAP = pg.colormap.get("CET-D1")  # diverging: negative blue, 0 grey, positive red


def decade(v: np.ndarray, kind: str) -> np.ndarray:
    """The width step (0 .. hi - lo) of each |v| on the kind's fixed decades."""
    lo, hi = DECADES[kind]
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.floor(np.log10(np.abs(v))) - lo
    return np.clip(np.nan_to_num(k, nan=0.0, neginf=0.0, posinf=hi - lo), 0, hi - lo).astype(np.int64)


def shown_units(width: int) -> int:
    return width if width <= MAX_UNITS else MAX_UNITS - 1


class DiagramView(OneWorkerAtATime, QWidget):
    """Fed the session and frames like the other lab views; ``stats`` and ``grids`` are the
    engine's numbers on screen, ``text_at(x, y)`` what hovering there shows."""

    def __init__(self, theme: Theme, parent=None):
        super().__init__(parent)
        self.theme = theme
        self.session = None
        self.stats: INSIDE.UnitStats | None = None
        self.grids: list[np.ndarray] | None = None
        self.step = -1
        self.masks: dict[str, np.ndarray] | None = None
        self.mask_step = 0
        self.dropout_form = "inverted"
        self._worker: Worker | None = None
        self._asked = (-1, -1)
        self._pending = False
        self._at = 0.0
        self._cancelled: list[Worker] = []
        self.images: dict[int, pg.ImageItem] = {}  # per column of 2-D inputs: its units' images, stacked
        self.pos: list[np.ndarray] = []  # per column: (shown units, 2) centres in view coordinates
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        row.addWidget(QLabel("edge width:"))
        self.edges = QComboBox()
        self.edges.addItem("|w|", "weight")
        self.edges.addItem("|dL/dw|", "gradient")
        row.addWidget(self.edges)
        row.addStretch(1)
        lay.addLayout(row)
        self.head = QLabel()
        self.head.setWordWrap(True)
        self.head.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        lay.addWidget(self.head)
        self.canvas = pg.GraphicsLayoutWidget()
        self.vb = self.canvas.addViewBox()
        self.vb.setAspectLocked(True)
        self.vb.setMouseEnabled(False, False)
        self.vb.invertY(True)
        self.vb.setMenuEnabled(False)
        lay.addWidget(self.canvas, 1)
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        lay.addWidget(self.legend)
        self.canvas.scene().sigMouseMoved.connect(self._hover)
        self.edges.currentIndexChanged.connect(lambda _: self._draw())
        self.set_theme(theme)

    def sizeHint(self) -> QSize:
        return QSize(32 * self.fontMetrics().averageCharWidth(), 40 * self.fontMetrics().height())

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        self.canvas.setBackground(theme.background)
        lo, hi = DECADES[self.edge_kind]
        self.legend.setText(
            f'Edges: <span style="color:{POSITIVE}">■ w &gt; 0</span> &nbsp;<span style="color:{NEGATIVE}">■ w &lt; 0'
            f'</span>; width: {self.edges.currentText()} from 1e{lo} to 1e{hi}, a decade a step. Units: output '
            "over the input plane (red +, blue −). Hover for numbers.")
        self._draw()

    @property
    def edge_kind(self) -> str:
        return self.edges.currentData()

    # -- data -----------------------------------------------------------------------------------
    def set_session(self, session) -> None:
        self.cancel()
        self.session = session
        self.stats, self.grids, self.step = None, None, -1
        self._asked = (-1, -1)
        self.vb.clear()
        self.pos = []
        if session is not None:
            self.request()

    def set_frame(self, f, playing: bool) -> None:
        """Playing, a new picture at the views' rate; paused, the shown step's at once."""
        if self.session is None or not self.isVisible():
            return
        if playing and time.perf_counter() - self._at < EVERY_S:
            return
        self.masks, self.mask_step, self.dropout_form = f.masks, f.mask_step, f.dropout_form
        if (self.session.race.t, self.session.selected) != self._asked:
            self.request()
        elif self.stats is not None:
            self._draw()  # the masks of the shown step
        self._at = time.perf_counter()

    def request(self) -> None:
        s = self._ask()
        if s is None:
            return
        extent = s.extent

        def task(job):
            step, net, X, y = s.network_now()
            grids = INSIDE.unit_grids(net, extent, GRID_RES) if extent is not None else None
            job.check()
            return step, grids, INSIDE.unit_stats(net, X, y)

        self._start_worker(task, "diagram", s)

    def _done(self, w, session, res) -> None:
        if self._ended(w) and session is self.session:
            self.step, self.grids, self.stats = res
            self._draw()

    # -- drawing --------------------------------------------------------------------------------
    def _mask(self, c: INSIDE.Column) -> np.ndarray | None:
        if not c.dropout or self.masks is None or c.dropout not in self.masks:
            return None
        return self.masks[c.dropout][EXAMPLE]

    def _layout(self, cols) -> None:
        n = max(shown_units(c.width) for c in cols)
        w, h = max(self.canvas.width(), 1), max(self.canvas.height(), 1)
        # Columns as far apart as the panel's shape allows, never closer than two unit sizes.
        gap = max(2.0, (w / h) * (n + 1) / max(len(cols) - 1, 1))
        self.pos = []
        for i, c in enumerate(cols):
            k = shown_units(c.width)
            y = np.arange(k) - (k - 1) / 2.0
            self.pos.append(np.column_stack([np.full(k, i * gap), y]))
        self._gap, self._n = gap, n

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._draw()

    def _draw(self) -> None:
        st = self.stats
        self.vb.clear()
        if st is None:
            return
        th = self.theme
        cols = st.columns
        self._layout(cols)
        self.images = {}
        kind = self.edge_kind
        self._capped = False
        scale = th.curve_width / 3.0
        masks = [self._mask(c) for c in cols]
        # Edges, grouped by (sign, width step, faded) into one item each.
        half = HALF
        for i in range(1, len(cols)):
            W = st.W[i - 1] if kind == "weight" else st.dW[i - 1]
            a, b = self.pos[i - 1], self.pos[i]
            sub = W[: len(a), : len(b)]
            faded = np.zeros(sub.shape, dtype=bool)
            if masks[i - 1] is not None:
                faded |= (masks[i - 1][: len(a)] == 0)[:, None]
            if masks[i] is not None:
                faded |= (masks[i][: len(b)] == 0)[None, :]
            key = (sub >= 0) * 100 + decade(sub, kind) * 2 + faded
            r, s_ = np.indices(sub.shape)
            # Between wide layers only the strongest edges: a thousand lines are a hairball, and
            # stroking them took over 100 ms.
            keep = np.ones(sub.shape, dtype=bool)
            if sub.size > MAX_EDGES:
                keep[:] = False
                keep.flat[np.argsort(-np.abs(sub), axis=None)[:MAX_EDGES]] = True
                self._capped = True
            for k in np.unique(key[keep]):
                sel = (key == k) & keep
                ends = np.empty((int(sel.sum()) * 2, 2))
                ends[0::2, 0], ends[0::2, 1] = a[r[sel], 0] + half, a[r[sel], 1]
                ends[1::2, 0], ends[1::2, 1] = b[s_[sel], 0] - half, b[s_[sel], 1]
                color = pg.mkColor(POSITIVE if k >= 100 else NEGATIVE)
                color.setAlpha(40 if k % 2 else 200)
                step = (k % 100) // 2
                self.vb.addItem(pg.PlotCurveItem(ends[:, 0], ends[:, 1], connect="pairs",
                                                 pen=pg.mkPen(color, width=(0.6 + 1.2 * step) * scale)))
        # Units: an image of the input plane each (2-D), else a disc coloured by its mean output.
        lut = UNIT_MAP.getLookupTable(nPts=256, alpha=True)
        for i, c in enumerate(cols):
            k = len(self.pos[i])
            vals = st.values[i][:, :k]
            g = None if self.grids is None else self.grids[i][..., :k]
            m = float(np.nanmax(np.abs(g))) if g is not None else float(np.nanmax(np.abs(vals))) if vals.size else 1.0
            m = m if np.isfinite(m) and m > 0 else 1.0
            if g is not None:
                # One image per layer: the units' images stacked with transparent gaps between.
                res = g.shape[0]
                gap = res // 4
                idx = np.clip(((g / m + 1.0) * 127.5).astype(np.int64), 0, 255)  # (res, res, k)
                rgba = np.zeros((k * (res + gap) - gap, res, 4), dtype=np.uint8)
                for j in range(k):
                    rgba[j * (res + gap): j * (res + gap) + res] = lut[idx[::-1, :, j]]  # y up, as the plane
                img = pg.ImageItem(rgba, axisOrder="row-major")
                self.images[i] = img
                x, y0 = self.pos[i][0]
                img.setRect(QRectF(x - 0.4, y0 - 0.4, 0.8, (k - 1) + 0.8))
                self.vb.addItem(img)
            mask = masks[i]
            heavy = 1.0 / (1.0 - c.p) if mask is not None and self.dropout_form == "inverted" else 1.0
            pens = [pg.mkPen(th.foreground, width=(1.0 * heavy if mask is None or mask[j] else 1.0) * 1.5 * scale)
                    for j in range(k)]
            brushes = None
            if g is None:
                brushes = [pg.mkBrush(UNIT_MAP.map(0.5 + 0.5 * float(np.mean(vals[:, j])) / m, mode="qcolor"))
                           for j in range(k)]
            sym = "s" if g is not None else "o"
            units = pg.ScatterPlotItem(self.pos[i][:, 0], self.pos[i][:, 1], symbol=sym, size=0.85, pxMode=False,
                                       pen=pens, brush=brushes if brushes is not None else pg.mkBrush(None))
            self.vb.addItem(units)
            if mask is not None:
                off = np.flatnonzero(mask[:k] == 0)
                cross = np.array([[x - 0.45, y - 0.45, x + 0.45, y + 0.45, x - 0.45, y + 0.45, x + 0.45, y - 0.45]
                                  for x, y in self.pos[i][off]]).reshape(-1, 2)
                if cross.size:
                    self.vb.addItem(pg.PlotCurveItem(cross[:, 0], cross[:, 1], connect="pairs",
                                                     pen=pg.mkPen(th.foreground, width=3.0 * scale)))
            top = self.pos[i][0][1] - 1.1
            title = f"{c.name}\n{c.width}" + (f" {c.activation}" if c.activation else "")
            if c.dropout:
                title += f"\np={c.p:g}"
            t = pg.TextItem(title, color=th.foreground, anchor=(0.5, 1.0))
            t.setPos(self.pos[i][0][0], top)
            self.vb.addItem(t)
            if c.width > k:
                more = pg.TextItem(f"+{c.width - k} more", color=th.foreground, anchor=(0.5, 0.0))
                more.setPos(self.pos[i][-1][0], self.pos[i][-1][1] + 0.6)
                self.vb.addItem(more)
        s = self.session
        who = s.looks[s.selected].name if s is not None else ""
        drop = ""
        if any(m is not None for m in masks):
            p = next(c.p for c, m in zip(cols, masks) if m is not None)
            rule = f"kept units ×{1 / (1 - p):.3g} (outline heavier)" if self.dropout_form == "inverted" else "kept unscaled"
            drop = f" Dropout of step {self.mask_step:,}, example {EXAMPLE + 1} of its batch: ✕ dropped (edges faded), {rule}."
        capped = f" Between wide layers the {MAX_EDGES} strongest edges." if self._capped else ""
        self.head.setText(f"{who}, weights of step {self.step:,}.{drop}{capped}")
        self.vb.autoRange(padding=0.04)

    # -- hover ------------------------------------------------------------------------------------
    def _hover(self, scene_pos) -> None:
        if self.stats is None:
            return
        p = self.vb.mapSceneToView(scene_pos)
        text = self.text_at(p.x(), p.y())
        if text:
            QToolTip.showText(QCursor.pos(), text, self.canvas)
        else:
            QToolTip.hideText()

    def text_at(self, x: float, y: float) -> str:
        """What hovering at (x, y) (view coordinates) shows: a unit's or an edge's numbers."""
        st = self.stats
        if st is None or not self.pos:
            return ""
        for i, pts in enumerate(self.pos):
            d = np.hypot(pts[:, 0] - x, pts[:, 1] - y)
            j = int(np.argmin(d))
            if d[j] <= 0.45:
                return self._unit_text(i, j)
        for i in range(1, len(self.pos)):
            a, b = self.pos[i - 1], self.pos[i]
            x0, x1 = a[0, 0] + HALF, b[0, 0] - HALF  # where the edges are drawn
            if not x0 <= x <= x1:
                continue
            t = (x - x0) / (x1 - x0)
            # The edge from unit r to unit s passes (x, a_r + t (b_s - a_r)): the nearest one.
            ys = a[:, 1][:, None] * (1 - t) + b[:, 1][None, :] * t
            r, s_ = np.unravel_index(int(np.argmin(np.abs(ys - y))), ys.shape)
            if abs(ys[r, s_] - y) <= 0.15:
                return self._edge_text(i, int(r), int(s_))
        return ""

    def _unit_text(self, i: int, j: int) -> str:
        st = self.stats
        c = st.columns[i]
        v, g = st.values[i][:, j], st.grads[i][:, j]
        lines = [f"{c.name}, unit {j + 1}: output mean {v.mean():.3g}, sd {v.std():.3g}, range {v.min():.3g} … "
                 f"{v.max():.3g} on {len(v)} validation examples"]
        word, frac = INSIDE.inactive_fraction(st.values[i][:, j:j + 1], c.activation)
        if word:
            lines.append(f"{word} on {100 * frac[0]:.0f}% of them")
        if i > 0:
            lines.append(f"mean |dL/d output| {np.mean(np.abs(g)):.3g}")
        if 0 < i and st.b[i - 1] is not None:
            # Column i is dense layer i's output only for the last column; else through its activation.
            lines.append(f"bias of dense{i} into it: {st.b[i - 1][j]:.3g}, dL/db {st.db[i - 1][j]:.3g}")
        m = self._mask(c)
        if m is not None:
            lines.append(f"step {self.mask_step:,}, example {EXAMPLE + 1}: {'kept' if m[j] else 'dropped'}")
        return "\n".join(lines)

    def _edge_text(self, i: int, r: int, s: int) -> str:
        st = self.stats
        return (f"dense{i} weight from {st.columns[i - 1].name} unit {r + 1} to {st.columns[i].name} unit {s + 1}: "
                f"w = {st.W[i - 1][r, s]:.4g}, dL/dw = {st.dW[i - 1][r, s]:.3g}")

    def unit_centre(self, i: int, j: int) -> QPointF:
        return QPointF(*self.pos[i][j])
