"""The live leaderboard: rank, racer, loss, distance to the nearest minimum, step and status,
re-sorted every frame (finished first by finishing step, then racing by loss, then the rest)."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPen, QPixmap, QTransform
from pyqtgraph.graphicsItems.ScatterPlotItem import Symbols
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from engine.status import Status

from ..theme import Theme

# "step" is the step reached while racing, else the step at which the racer stopped.
COLUMNS = ("#", "Racer", "f − f*", "to min", "step", "status")
WAITING_TIP = "waiting: at the start while the engine is prepared for this computer"
# Order of the status groups in the ranking.
# Escaping happens only on surfaces unbounded below (elsewhere the escape box is infinite),
# where running off downhill is the right behaviour: escaped racers rank like finishers.
GROUP = {Status.FINISHED: 0, Status.ESCAPED: 0, Status.RACING: 1, Status.CONVERGED: 2, Status.DIVERGED: 4}


_ICONS: dict[tuple, QIcon] = {}


def marker_icon(marker: str, color: str, outline: str, size: int) -> QIcon:
    """The racer's head marker (same shape and colour as on the map) as an icon."""
    key = (marker, color, outline, size)
    if key in _ICONS:
        return _ICONS[key]
    pm = QPixmap(size, size)
    pm.fill(Qt.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.Antialiasing)
    p.setBrush(QColor(color))
    p.setTransform(QTransform().translate(size / 2, size / 2).scale(size * 0.8, size * 0.8))
    p.setPen(QPen(QColor(outline), 1.5 / size))
    p.drawPath(Symbols[marker])
    p.end()
    _ICONS[key] = QIcon(pm)
    return _ICONS[key]


def _num(v: float) -> str:
    if not np.isfinite(v):
        return "—"
    if v == 0:
        return "0"
    a = abs(v)
    return f"{v:.3g}" if 1e-3 <= a < 1e4 else f"{v:.2e}"


def column_widths(font: QFont, icon: int, names) -> list[int]:
    """Widths of the six columns in ``font`` (the last: what the status needs)."""
    fm = QFontMetrics(font)
    bold = QFont(font)
    bold.setBold(True)
    widest = max((QFontMetrics(bold).horizontalAdvance(n) for n in names), default=60)
    out = [fm.horizontalAdvance(sample) + 14 for sample in ("99", "", "1.23e-04", "0.00123", "1,000,000")]
    out[1] = widest + icon + 24  # bold name after its marker icon
    return out + [max(fm.horizontalAdvance(s.short) for s in GROUP) + 2 * fm.height()]


def ranking(frame) -> list[int]:
    """Racer indices, best first."""
    keys = []
    for r in range(frame.n_racers):
        code = Status(int(frame.status[r]))
        loss = float(frame.loss[r]) if np.isfinite(frame.loss[r]) else np.inf
        second = int(frame.status_step[r]) if GROUP[code] == 0 else loss  # sooner is better
        if code == Status.DIVERGED:
            second = -int(frame.status_step[r])  # the later a racer diverged, the better
        keys.append((GROUP[code], second, r))
    return [k[2] for k in sorted(keys)]


class Leaderboard(QTableWidget):
    racer_selected = Signal(int)

    def __init__(self, theme: Theme, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setFocusPolicy(Qt.NoFocus)
        self.setShowGrid(False)
        h = self.horizontalHeader()
        # Fixed widths set from the font (resizing to contents on every update cost ~10 ms a frame).
        h.setSectionResizeMode(QHeaderView.Fixed)
        h.setSectionResizeMode(5, QHeaderView.Stretch)
        self._names = None
        self._icons: dict[int, tuple] = {}
        self.order: list[int] = []
        self.frame = None
        self.cellClicked.connect(lambda row, col: self.racer_selected.emit(self.order[row]) if row < len(self.order) else None)
        self.set_theme(theme)

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        f = QFont()
        f.setPointSize(theme.font_pt)
        self.setFont(f)
        self.verticalHeader().setDefaultSectionSize(int(theme.font_pt * 2.3))
        self.setIconSize(QSize(int(theme.font_pt * 1.6), int(theme.font_pt * 1.6)))
        self._icons = {}
        widths = column_widths(self.font(), self.iconSize().width(), ())
        for col in (0, 2, 3, 4):
            self.setColumnWidth(col, widths[col])
        self._status_width = widths[5]
        self._names = None
        self._fit_columns()
        if self.frame is not None:
            self.set_frame(self.frame)

    def set_frame(self, frame) -> None:
        self.frame = frame
        R = frame.n_racers
        if self.rowCount() != R:
            self.setRowCount(R)
            for row in range(R):
                for col in range(len(COLUMNS)):
                    it = QTableWidgetItem()
                    it.setTextAlignment((Qt.AlignLeft if col == 1 or col == 5 else Qt.AlignRight) | Qt.AlignVCenter)
                    self.setItem(row, col, it)
        names = tuple(lk.name for lk in frame.looks)
        if names != self._names:
            self._names = names
            self.setColumnWidth(1, column_widths(self.font(), self.iconSize().width(), names)[1])
            self._fit_columns()
        unbounded = frame.surface.f_min is None
        if self.horizontalHeaderItem(2).text() != ("f" if unbounded else COLUMNS[2]):
            self.horizontalHeaderItem(2).setText("f" if unbounded else COLUMNS[2])
        self.order = ranking(frame)
        mins = frame.surface.minima
        fmin = frame.surface.f_min
        bold = QFont(self.font())
        bold.setBold(True)
        for row, r in enumerate(self.order):
            look = frame.looks[r]
            code = Status(int(frame.status[r]))
            loss = frame.loss[r] - fmin if fmin is not None else frame.loss[r]
            dist = (np.min(np.hypot(*(mins - frame.heads[r]).T)) if len(mins) else np.nan)
            step = int(frame.status_step[r]) if code != Status.RACING else frame.step
            word = "waiting" if frame.waiting else code.short
            texts = (str(row + 1), look.name, _num(loss), _num(dist), f"{step:,}", word)
            for col, text in enumerate(texts):
                it = self.item(row, col)
                if it.text() != text:
                    it.setText(text)
            # The cell shows the short word; its tooltip the full meaning.
            self.item(row, 5).setToolTip(WAITING_TIP if frame.waiting else f"{code.label}: {code.tip}")
            name = self.item(row, 1)
            key = (look.marker, look.color)
            if self._icons.get(row) != key:
                self._icons[row] = key
                name.setIcon(marker_icon(look.marker, look.color, self.theme.outline, int(self.theme.font_pt * 1.6)))
                name.setFont(bold)

    def essential_width(self, theme: Theme) -> int:
        """Width that shows rank, racer, loss and status without scrolling in ``theme``'s
        fonts (the window sizes the dock from it before the table changes font)."""
        f = QFont(self.font())
        f.setPointSize(theme.font_pt)
        w = column_widths(f, int(theme.font_pt * 1.6), self._names or ())
        return w[0] + w[1] + w[2] + w[5] + 2 * self.frameWidth() + 4

    # Columns a narrow table drops first (a small window, projector mode): distance, then step.
    OPTIONAL = (3, 4)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Hide optional columns while the rest (status included) would not fit without scrolling."""
        if not hasattr(self, "_status_width"):
            return
        room = self.viewport().width()
        need = sum(self.columnWidth(c) for c in (0, 1, 2)) + self._status_width
        for col in reversed(self.OPTIONAL):
            self.setColumnHidden(col, False)
        hidden = []
        for col in self.OPTIONAL:
            if need + sum(self.columnWidth(c) for c in self.OPTIONAL if c not in hidden) <= room:
                break
            hidden.append(col)
        for col in hidden:
            self.setColumnHidden(col, True)
