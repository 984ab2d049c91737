"""Distributions of a layer's outputs and weights, computed by the engine in the worker at the
views' rate: a histogram now (outlier-robust range, the dead or saturated share written on it)
and percentile bands over time (TensorBoard's 0, 7, 16, 31, 50, 69, 84, 93, 100); for digits,
a strip of misclassified validation digits with their predicted and true labels."""
from __future__ import annotations

import copy
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine import lab as LAB
from engine.nn import inside as INSIDE

from ...shell.worker import OneWorkerAtATime, Worker
from ...theme import Theme, style_axes
from .views import _label

EVERY_S = 0.5  # while playing, new distributions at most this often
ROWS = 256  # validation examples whose layer outputs are shown
STRIP = 12  # misclassified digits shown
STRIP_COLS = 6  # per row (two rows: digits large enough to read from the back)
MAX_SAMPLES = 400  # band samples kept (older ones thinned)


class DistributionsView(OneWorkerAtATime, QWidget):
    """``history`` holds (step, per layer value bands, per layer weight bands) as recorded;
    ``latest`` the engine's distributions last drawn, ``wrong`` the strip's (index, predicted)."""

    def __init__(self, theme: Theme, parent=None):
        super().__init__(parent)
        self.theme = theme
        self.session = None
        self.raw: np.ndarray | None = None  # validation digits as drawn
        self.latest: list[INSIDE.LayerDistribution] | None = None
        self.wrong: tuple[np.ndarray, np.ndarray] | None = None
        self.history: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.step = -1
        self._worker: Worker | None = None
        self._cancelled: list[Worker] = []
        self._asked = (-1, -1)
        self._pending = False
        self._at = 0.0
        self._who = -1
        self._digits = None  # the lab's options when it trains on digits (their strip's source)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        row.addWidget(QLabel("layer:"))
        self.layer = QComboBox()
        row.addWidget(self.layer, 1)
        self.head = QLabel()
        row.addWidget(self.head)
        lay.addLayout(row)
        self.plots = pg.GraphicsLayoutWidget()
        lay.addWidget(self.plots, 2)
        self.hist, self.bands = {}, {}
        for r, kind in enumerate(("values", "weights")):
            for c, what in enumerate(("hist", "bands")):
                p = self.plots.addPlot(row=r, col=c)
                p.setMenuEnabled(False)
                p.setMouseEnabled(False, False)
                p.hideButtons()
                (self.hist if what == "hist" else self.bands)[kind] = p
        self.strip = pg.GraphicsLayoutWidget()
        self.strip_box = self.strip.addViewBox()
        self.strip_box.setAspectLocked(True)
        self.strip_box.setMouseEnabled(False, False)
        self.strip_box.invertY(True)
        self.strip_image = pg.ImageItem(axisOrder="row-major")
        self.strip_box.addItem(self.strip_image)
        self.strip_labels = [pg.TextItem("", anchor=(0.5, 0)) for _ in range(STRIP)]
        for t in self.strip_labels:
            self.strip_box.addItem(t)
        self.strip_title = QLabel()
        lay.addWidget(self.strip_title)
        lay.addWidget(self.strip, 1)
        self.layer.currentIndexChanged.connect(lambda _: self._draw())
        self.set_theme(theme)

    def showEvent(self, ev) -> None:
        super().showEvent(ev)
        self._draw()
        self._strip()

    def sizeHint(self) -> QSize:
        return QSize(32 * self.fontMetrics().averageCharWidth(), 40 * self.fontMetrics().height())

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        for w in (self.plots, self.strip):
            w.setBackground(theme.background)
        for p in (*self.hist.values(), *self.bands.values()):
            style_axes(p, theme, theme.axis_pt - 1, 1.0)
        self.strip.setMinimumHeight(5 * theme.font_pt)
        self._draw()

    # -- data -----------------------------------------------------------------------------------
    def set_session(self, session, lab) -> None:
        self.cancel()
        self.session = session
        self.latest, self.wrong, self.history, self.step = None, None, [], -1
        self._asked = (-1, -1)
        digits = session is not None and session.race.net.input_dim == 64 and session.data.classes > 0
        self.raw = None  # loaded with the first distributions, in the worker
        self._digits = copy.deepcopy(lab) if digits else None
        self.strip.setVisible(digits)
        self.strip_title.setVisible(digits)
        self.layer.blockSignals(True)
        self.layer.clear()
        if session is not None:
            for c in INSIDE.columns(session.race.net)[1:]:
                self.layer.addItem(f"{c.name} ({c.width}{' ' + c.activation if c.activation else ''})")
        self.layer.blockSignals(False)
        if session is not None:
            self.request()

    def set_frame(self, f, playing: bool) -> None:
        """Recorded at the views' rate even when hidden (the bands need the past), drawn when shown."""
        if self.session is None:
            return
        if playing and time.perf_counter() - self._at < EVERY_S:
            return
        if (self.session.race.t, self.session.selected) != self._asked:
            self.request()

    def request(self) -> None:
        s = self._ask()
        if s is None:
            return
        self._at = time.perf_counter()
        X = s.race.Xv[:ROWS]
        labels = s.data.y_val
        lab, raw = self._digits, self.raw

        def task(job):
            step, net, _, _ = s.network_now()
            dist = INSIDE.distributions(net, X)
            job.check()
            if lab is None:
                return step, s.selected, dist, None, None
            wrong = INSIDE.misclassified(net, s.race.Xv, labels, STRIP)
            return step, s.selected, dist, wrong, LAB.raw_validation(lab) if raw is None else raw

        self._start_worker(task, "distributions", s)

    def _done(self, w, session, res) -> None:
        if not self._ended(w) or session is not self.session:
            return
        step, who, self.latest, self.wrong, self.raw = res
        if self.history and (who != self._who or step < self.history[-1][0]):
            self.history = []  # another contender, or a reset: its own history
        self._who = who
        self.step = step
        if not self.history or self.history[-1][0] != step:
            self.history.append((step, np.array([d.value_bands for d in self.latest]),
                                 np.array([d.weight_bands for d in self.latest])))
            if len(self.history) > MAX_SAMPLES:
                self.history = self.history[:1] + self.history[2::2]
        if self.isVisible():
            self._draw()
            self._strip()

    # -- drawing --------------------------------------------------------------------------------
    def band_series(self, kind: str, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """(steps, bands (samples, 9)) of a layer's outputs (``values``) or ``weights``."""
        if not self.history:
            return np.zeros(0), np.zeros((0, len(INSIDE.BAND_PERCENTILES)))
        steps = np.array([h[0] for h in self.history])
        return steps, np.array([h[1 if kind == "values" else 2][layer] for h in self.history])

    def _draw(self) -> None:
        th = self.theme
        i = self.layer.currentIndex()
        if self.latest is None or not 0 <= i < len(self.latest):
            return
        d = self.latest[i]
        color = th.palette[0]
        who = self.session.looks[self._who].name if self.session is not None and 0 <= self._who < len(self.session.looks) else ""
        self.head.setText(f"{who}, step {self.step:,}")
        for kind, v in (("values", d.values), ("weights", d.weights)):
            p = self.hist[kind]
            p.clear()
            lo, hi = INSIDE.robust_range(v)
            counts, edges, below, above = INSIDE.histogram(v, lo, hi)
            brush = pg.mkColor(color)
            brush.setAlpha(160)
            p.addItem(pg.PlotCurveItem(edges, counts, stepMode="center", fillLevel=0, brush=brush,
                                       pen=pg.mkPen(color, width=th.curve_width / 2)))
            p.setXRange(lo, hi, padding=0)
            what = "outputs" if kind == "values" else "weights"
            out = f" (+{below + above} outside)" if below + above else ""
            note = f", {100 * d.fraction:.0f}% {d.word}" if kind == "values" and d.word else ""
            _label(p, f"{what}{note}{out}", th)
            b = self.bands[kind]
            b.clear()
            steps, bands = self.band_series(kind, i)
            if steps.size:
                self._bands(b, steps, bands, color)
                core = bands[:, 1:-1]  # 7th..93rd: the axis ignores the extremes' outliers
                lo, hi = float(np.nanmin(core)), float(np.nanmax(core))
                pad = 0.15 * (hi - lo) if hi > lo else 0.1 * max(abs(lo), 1.0)
                b.setYRange(lo - pad, hi + pad, padding=0)
            _label(b, "over steps", th)

    @staticmethod
    def _bands(plot, steps, bands, color) -> None:
        # Nested bands 0-100, 7-93, 16-84, 31-69, darker inwards, and the median.
        for k, alpha in zip(range(4), (45, 70, 100, 140)):
            lo = pg.PlotCurveItem(steps, bands[:, k])
            hi = pg.PlotCurveItem(steps, bands[:, -1 - k])
            c = pg.mkColor(color)
            c.setAlpha(alpha)
            plot.addItem(pg.FillBetweenItem(lo, hi, brush=c))
        plot.addItem(pg.PlotCurveItem(steps, bands[:, 4], pen=pg.mkPen(color, width=2)))

    def _strip(self) -> None:
        """The misclassified digits as one image, in rows of STRIP_COLS, each labelled below."""
        if self.raw is None or self.wrong is None:
            return
        idx, pred = self.wrong
        labels = self.session.data.y_val
        self.strip_title.setText(f"Misclassified validation digits at step {self.step:,}: predicted / true"
                                 if idx.size else f"No validation digit misclassified at step {self.step:,}")
        rows = max(1, -(-STRIP // STRIP_COLS))
        cell = 8 + 8  # a digit's 8 pixels and a gap as tall again for its label
        mosaic = np.full((rows * cell, STRIP_COLS * 10), np.nan)
        for k, j in enumerate(idx):
            r, c = divmod(k, STRIP_COLS)
            mosaic[r * cell: r * cell + 8, c * 10: c * 10 + 8] = self.raw[j].reshape(8, 8)
        hi = float(self.raw.max()) or 1.0
        # Ink dark on light paper on either theme; the gaps (NaN) are the background.
        rgba = np.zeros((*mosaic.shape, 4), dtype=np.uint8)
        ok = np.isfinite(mosaic)
        grey = (255 * (1.0 - np.clip(np.where(ok, mosaic, 0.0) / hi, 0, 1))).astype(np.uint8)
        rgba[..., 0] = rgba[..., 1] = rgba[..., 2] = grey
        rgba[..., 3] = np.where(ok, 255, 0)
        self.strip_image.setImage(rgba)
        self.strip_image.setRect(QRectF(0, 0, mosaic.shape[1], mosaic.shape[0]))
        for k, t in enumerate(self.strip_labels):
            t.setVisible(k < idx.size)
            if k < idx.size:
                r, c = divmod(k, STRIP_COLS)
                t.setText(f"{pred[k]} / {labels[idx[k]]}", color=self.theme.foreground)
                t.setPos(c * 10 + 4, r * cell + 8.3)
        self.strip_box.autoRange(padding=0.02)
