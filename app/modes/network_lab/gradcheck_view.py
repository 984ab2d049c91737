"""The gradient check of the selected contender's network, computed by the engine in the shared
worker: the relative error of backprop per layer (green: right, red: wrong), the epsilon sweep,
and the "break backprop" switch that makes one classic mistake at a chosen layer."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (QCheckBox, QComboBox, QHBoxLayout, QHeaderView, QLabel, QProgressBar, QPushButton,
                               QSizePolicy, QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from engine import lab as LAB
from engine.nn.gradcheck import FAIL, PASS
from engine.nn.mistakes import MISTAKES

from ...shell.worker import OneWorkerAtATime, Worker
from ...theme import Theme, style_axes
from .views import _label

# Verdict colours (background, text) that read on both themes and on a projector.
GREEN, RED, AMBER = ("#2e7d32", "#ffffff"), ("#c62828", "#ffffff"), ("#f9a825", "#000000")


def verdict(err: float) -> tuple[str, tuple[str, str]]:
    """The word and colours of a relative error: right below PASS, wrong above FAIL."""
    if not np.isfinite(err):
        return "—", ("#808080", "#ffffff")
    if err < PASS:
        return "right", GREEN
    if err > FAIL:
        return "WRONG", RED
    return "look closer", AMBER


def _sci(v: float) -> str:
    return "—" if not np.isfinite(v) else f"{v:.1e}"


class GradCheckView(OneWorkerAtATime, QWidget):
    """Fed the lab's session (``set_session``) and frames; checks when asked, when its
    settings change and, paused, when the network has moved on.  ``result`` is the last
    engine.lab.GradientCheck shown; ``checked`` fires after each check is drawn."""

    checked = Signal()
    mistake_changed = Signal(str, int)  # (mistake id or "", layer): the scenario records it

    def __init__(self, theme: Theme, parent=None):
        super().__init__(parent)
        self.theme = theme
        self.session = None
        self.result: LAB.GradientCheck | None = None
        self.step = -1  # the network's step of the check shown
        self._asked = (-1, -1)  # (step, contender) of the latest check asked for
        self._worker: Worker | None = None
        self._want = False  # a check was asked for while one ran
        self._cancelled: list[Worker] = []  # finishing their current group unseen; joined at shutdown
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        row, row2 = QHBoxLayout(), QHBoxLayout()
        self.broken = QCheckBox("break backprop")
        self.broken.setToolTip("Compute the analytic gradient with a classic mistake (a demonstration: training "
                               "never uses it) and watch the check catch it")
        self.mistake = QComboBox()
        # The menu's width must not set the panel's: the full name is in the open menu.
        self.mistake.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.mistake.setMinimumContentsLength(10)
        for m in MISTAKES.values():
            self.mistake.addItem(m.name, m.id)
            self.mistake.setItemData(self.mistake.count() - 1, m.doc, Qt.ToolTipRole)
        self.layer = QSpinBox()
        self.layer.setPrefix("layer ")
        self.layer.setRange(1, 1)
        self.run_button = QPushButton("Check")
        self.run_button.setToolTip("Check the selected contender's network as it is now")
        row.addWidget(self.broken)
        row.addWidget(self.mistake, 1)
        row2.addWidget(self.layer)
        row2.addWidget(self.run_button)
        row2.addStretch(1)
        lay.addLayout(row)
        lay.addLayout(row2)
        prow = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.cancel_button)
        lay.addLayout(prow)
        self.head = QLabel()
        self.head.setWordWrap(True)
        self.head.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        lay.addWidget(self.head)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["layer", "W error", "b error", "backprop"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.NoEditTriggers)
        self.table.setSelectionMode(QTableWidget.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        lay.addWidget(self.table, 2)
        self.why = QLabel()
        self.why.setWordWrap(True)
        self.why.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        lay.addWidget(self.why)
        self.plot = pg.PlotWidget()
        self.plot.setLogMode(True, True)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        for ax in ("bottom", "left"):
            self.plot.getAxis(ax).enableAutoSIPrefix(False)
        # Fixed axes (a relative error lies in [0, 1]): one sweep compares with the next.
        self.plot.setXRange(-12.2, -0.8, padding=0)
        self.plot.setYRange(-12, 0, padding=0)
        self.pass_line = pg.InfiniteLine(np.log10(PASS), angle=0)
        self.fail_line = pg.InfiniteLine(np.log10(FAIL), angle=0)
        for line in (self.pass_line, self.fail_line):
            self.plot.addItem(line)
        self.sweep = self.plot.plot([], [], symbol="o")
        self.broken_sweep = self.plot.plot([], [], symbol="s")
        self.trunc = self.plot.plot([], [])
        self.round = self.plot.plot([], [])
        self.plot.setMinimumHeight(160)
        lay.addWidget(self.plot, 3)
        # The legend under the plot: inside, it hid a part of the curves on a narrow panel.
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)
        lay.addWidget(self.legend)
        self._busy(False)
        self.broken.toggled.connect(self._settings_changed)
        self.mistake.currentIndexChanged.connect(self._settings_changed)
        self.layer.valueChanged.connect(self._settings_changed)
        self.run_button.clicked.connect(self.request)
        self.cancel_button.clicked.connect(self.cancel)
        self.set_theme(theme)

    def sizeHint(self) -> QSize:
        # What the dock asks for first: a side panel's width, never the table's and plot's whole
        # natural width (that squeezed the other column to nothing at 1280 x 720).
        return QSize(8 * self.fontMetrics().averageCharWidth() * 4, 40 * self.fontMetrics().height())

    # -- settings -----------------------------------------------------------------------------
    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        f = QFont()
        f.setPointSize(theme.font_pt + 1)
        self.table.setFont(f)
        self.table.horizontalHeader().setFont(f)
        self.plot.setBackground(theme.background)
        style_axes(self.plot.getPlotItem(), theme, theme.axis_pt, 1.0)
        self.plot.setLabel("bottom", "step ε", color=theme.foreground)
        self.plot.setLabel("left", "relative error", color=theme.foreground)
        w = theme.curve_width
        self.sweep.setPen(pg.mkPen(theme.palette[0], width=w))
        self.sweep.setSymbolBrush(theme.palette[0])
        self.sweep.setSymbolPen(theme.outline)
        self.broken_sweep.setPen(pg.mkPen(RED[0], width=w))
        self.broken_sweep.setSymbolBrush(RED[0])
        self.broken_sweep.setSymbolPen(theme.outline)
        self.trunc.setPen(pg.mkPen(theme.foreground, width=w / 1.5, style=Qt.DashLine))
        self.round.setPen(pg.mkPen(theme.foreground, width=w / 1.5, style=Qt.DotLine))
        self.pass_line.setPen(pg.mkPen(GREEN[0], width=w / 1.5, style=Qt.DashLine))
        self.fail_line.setPen(pg.mkPen(RED[0], width=w / 1.5, style=Qt.DashLine))
        self.legend.setText(
            f'<span style="color:{theme.palette[0]}">●―</span> backprop &nbsp; '
            f'<span style="color:{RED[0]}">■―</span> broken backprop &nbsp; '
            f'- - truncation ∝ ε² &nbsp; ··· round-off ∝ 1/ε &nbsp; '
            f'<span style="color:{GREEN[0]}">- -</span> 1e-7 &nbsp; <span style="color:{RED[0]}">- -</span> 1e-4')
        if self.result is not None:
            self._show(self.result)

    def set_mistake(self, mistake: str, layer: int) -> None:
        """Show the check broken by ``mistake`` ("" for the true backward pass) at ``layer``."""
        for w in (self.broken, self.mistake, self.layer):
            w.blockSignals(True)
        self.broken.setChecked(bool(mistake))
        if mistake:
            self.mistake.setCurrentIndex(max(self.mistake.findData(mistake), 0))
        self.layer.setValue(int(layer))
        for w in (self.broken, self.mistake, self.layer):
            w.blockSignals(False)
        self.mistake.setEnabled(self.broken.isChecked())
        self.layer.setEnabled(self.broken.isChecked())

    def settings(self) -> tuple[str, int]:
        """(mistake id, or "" for the true backward pass; layer)."""
        return (self.mistake.currentData() if self.broken.isChecked() else "", self.layer.value())

    def _settings_changed(self, *_) -> None:
        self.mistake.setEnabled(self.broken.isChecked())
        self.layer.setEnabled(self.broken.isChecked())
        self.mistake_changed.emit(*self.settings())
        self.request()

    # -- the session ----------------------------------------------------------------------------
    def set_session(self, session, mistake: str = "", layer: int = 1) -> None:
        """A new lab: forget the old check and check the new network (broken by ``mistake`` at
        ``layer`` when given)."""
        self.cancel()
        self.session = session
        self.result = None
        self.step = -1
        self.table.setRowCount(0)
        self.why.setText("")
        for c in (self.sweep, self.broken_sweep, self.trunc, self.round):
            c.setData([], [])
        if session is None:
            self.head.setText("No network: fix the setup.")
            return
        self.layer.blockSignals(True)
        self.layer.setRange(1, len(session.race.net.dense))
        self.layer.blockSignals(False)
        self.set_mistake(mistake, layer)
        self.request()

    def set_frame(self, f, playing: bool) -> None:
        """Paused on a network the shown check is not of: check it (only while visible)."""
        if playing or self.session is None or not self.isVisible():
            return
        if (self.session.race.t, self.session.selected) != self._asked:
            self.request()

    def request(self) -> None:
        """Check the network now (after the running check, if one runs)."""
        if self.session is None:
            return
        if self.running:
            self._want = True
            return
        session, (mistake, layer) = self.session, self.settings()
        self._asked = (session.race.t, session.selected)

        def task(job):
            step, net, X, y = session.network_now()
            return step, LAB.check_gradients(net, X, y, mistake, layer, job=job)

        self._want = False
        self._worker = w = Worker(task, "gradcheck", self, errors=(ValueError,))
        w.progress.connect(self._progress)
        w.finished.connect(lambda res: self._done(w, session, res))
        w.failed.connect(lambda msg: self._failed(w, msg))
        w.cancelled.connect(lambda: self._ended(w))
        self._busy(True)
        w.start()

    def cancel(self) -> None:
        self._want = False
        if self._drop_worker() is not None:
            self._busy(False)

    # -- results --------------------------------------------------------------------------------
    def _busy(self, busy: bool) -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _ended(self, w: Worker) -> bool:
        """Whether ``w`` is the current worker (its result is wanted); clears it."""
        if w is not self._worker:
            return False
        self._worker = None
        self._busy(False)
        if self._want:
            self.request()
        return True

    def _failed(self, w: Worker, msg: str) -> None:
        if self._ended(w):
            self.why.setText(f"Cannot break backprop there: {msg}")
            self.why.setStyleSheet(f"color: {RED[0]}; font-weight: bold")

    def _done(self, w: Worker, session, res) -> None:
        if not self._ended(w) or session is not self.session:
            return
        self.step, self.result = res
        self._show(self.result)
        self.checked.emit()

    def _show(self, r: LAB.GradientCheck) -> None:
        s = self.session
        name = s.looks[s.selected].name if s is not None else ""
        sample = f"all {r.total:,} parameters" if r.checked == r.total else f"{r.checked:,} of {r.total:,} parameters"
        self.head.setText(f"Step {self.step:,}, {name}: backprop against centered differences (ε = 1e-6), "
                          f"{sample}, first {LAB.GRADCHECK_ROWS} validation examples")
        rows = []
        for i in range(r.layer_errors.size):
            sel = r.group_layer == i + 1
            errs = dict(zip((g.rsplit(".", 1)[-1] for g in np.array(r.groups)[sel]), r.group_errors[sel]))
            rows.append((f"{i + 1}", errs.get("W", np.nan), errs.get("b", np.nan), r.layer_errors[i]))
        for g, e, owner in zip(r.groups, r.group_errors, r.group_layer):
            if owner == 0:  # norm scales, PReLU slopes
                rows.append((g, e, np.nan, e))
        self.table.setRowCount(len(rows))
        for k, (label, ew, eb, worst) in enumerate(rows):
            word, _ = verdict(worst)
            for c, text in enumerate((label, _sci(ew), _sci(eb), word)):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignCenter)
                if c > 0:
                    _, (cbg, cfg) = verdict(ew if c == 1 else eb if c == 2 else worst)
                    item.setBackground(QColor(cbg))
                    item.setForeground(QColor(cfg))
                item.setToolTip(f"relative error ‖numeric − analytic‖ / (‖numeric‖ + ‖analytic‖): right below "
                                f"{PASS:g}, wrong above {FAIL:g}")
                self.table.setItem(k, c, item)
        self.why.setStyleSheet("")
        wrong = [i + 1 for i in range(r.layer_errors.size) if r.layer_errors[i] > FAIL]
        if r.expected is None:
            self.why.setText("True backward pass: every layer right." if not wrong else
                             f"Layers {', '.join(map(str, wrong))} disagree with the differences.")
        else:
            m = MISTAKES[r.mistake]
            stated = list(r.expected.layers)
            agree = "as stated" if stated == wrong else f"but the check finds layers {wrong or 'none'} wrong"
            self.why.setText(f"Broken at layer {r.layer}: {m.name}. Wrong: layer{'s' if len(stated) > 1 else ''} "
                             f"{', '.join(map(str, stated))}, {agree}. Why: {r.expected.why}.")
        ok = np.isfinite(r.sweep) & (r.sweep > 0)
        self.sweep.setData(r.eps[ok], r.sweep[ok])
        if r.broken_sweep is None:
            self.broken_sweep.setData([], [])
        else:
            bad = np.isfinite(r.broken_sweep) & (r.broken_sweep > 0)
            self.broken_sweep.setData(r.eps[bad], r.broken_sweep[bad])
        self.trunc.setData(r.eps, r.truncation)
        self.round.setData(r.eps, r.roundoff)
        _label(self.plot.getPlotItem(), "ε sweep: slopes 2 and −1", self.theme)

    def table_rows(self) -> list[list[str]]:
        """The table as text, row by row (what is on screen)."""
        return [[self.table.item(k, c).text() for c in range(self.table.columnCount())]
                for k in range(self.table.rowCount())]
