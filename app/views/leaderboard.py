"""The live leaderboard: rank, racer, the mode's value columns (a ``Column`` spec) and status,
re-sorted every update (finished first by finishing step, then racing by the sort column, then
the rest).  It takes plain rows: looks, values and statuses."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QIcon, QPainter, QPen, QPixmap, QTransform
from pyqtgraph.graphicsItems.ScatterPlotItem import Symbols
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from engine.race.status import Status

from ..theme import Theme

WAITING_TIP = "waiting: at the start while the engine is prepared for this computer"
# Order of the status groups in the ranking.
# Escaping happens only on surfaces unbounded below (elsewhere the escape box is infinite),
# where running off downhill is the right behaviour: escaped racers rank like finishers.
# Networks in training rank with racers still racing; stopped early ranks by its best loss.
GROUP = {Status.FINISHED: 0, Status.ESCAPED: 0, Status.RACING: 1, Status.TRAINING: 1, Status.CONVERGED: 2,
         Status.STOPPED: 2, Status.DIVERGED: 4}


def number(v: float) -> str:
    """A value in three significant digits, in exponent form when very small or large."""
    if v == 0:
        return "0"
    a = abs(v)
    return f"{v:.3g}" if 1e-3 <= a < 1e4 else f"{v:.2e}"


def count(v: float) -> str:
    return f"{int(v):,}"


@dataclass(frozen=True)
class Column:
    """A value column of the board."""

    header: str
    format: Callable[[float], str] = number  # for finite values; the board writes others as "—"
    sample: str = "1.23e-04"  # the widest text expected: sizes the column
    align: str = "right"  # or "left"
    essential: bool = True  # kept on a narrow board; the others go first, in spec order
    # The key that ranks the racers still racing (lowest first), e.g. the loss itself, or
    # minus an accuracy; one column of a spec has it.
    sort: Callable[[float], float] | None = None
    tip: str = ""


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


def column_widths(font: QFont, icon: int, names, columns: Sequence[Column], status_steps: bool = False) -> list[int]:
    """Widths of the rank, racer, value and status columns in ``font`` (``status_steps``: room
    for "stopped at 10,000")."""
    fm = QFontMetrics(font)
    bold = QFont(font)
    bold.setBold(True)
    widest = max((QFontMetrics(bold).horizontalAdvance(n) for n in names), default=60)
    values = [max(fm.horizontalAdvance(c.sample), fm.horizontalAdvance(c.header)) + 14 for c in columns]
    # The status word and the cell's margins (a line's height: twice that elided "training"
    # on a projector-sized board).
    status = max(fm.horizontalAdvance(s) for s in (*(g.short for g in GROUP), "waiting")) + fm.height()
    if status_steps:
        status += fm.horizontalAdvance(" at 10,000")
    # The racer: a bold name after its marker icon.
    return [fm.horizontalAdvance("99") + 14, widest + icon + 24, *values, status]


def ranking(status, status_step, key) -> list[int]:
    """Row indices, best first: finished (and escaped) by their step, racing by ``key``
    (lowest first), converged elsewhere by ``key``, diverged latest first."""
    keys = []
    for r in range(len(status)):
        code = Status(int(status[r]))
        k = float(key[r]) if np.isfinite(key[r]) else np.inf
        second = int(status_step[r]) if GROUP[code] == 0 else k  # sooner is better
        if code == Status.DIVERGED:
            second = -int(status_step[r])  # the later a racer diverged, the better
        keys.append((GROUP[code], second, r))
    return [k[2] for k in sorted(keys)]


class Leaderboard(QTableWidget):
    """``set_columns(columns)`` gives the value columns; ``set_rows(...)`` the racers."""

    racer_selected = Signal(int)

    def __init__(self, theme: Theme, columns: Sequence[Column] = (), parent=None, status_steps: bool = False):
        """``status_steps``: a status that ended says its step ("stopped at 140"), for boards
        whose step column may be hidden (the lab's)."""
        super().__init__(0, 0, parent)
        self.status_steps = status_steps
        self.verticalHeader().hide()
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setFocusPolicy(Qt.NoFocus)
        self.setShowGrid(False)
        self.columns: tuple[Column, ...] = ()
        self._names = None
        self._icons: dict[int, tuple] = {}
        self.order: list[int] = []
        self._rows = None  # the last set_rows arguments, shown again in a new theme
        self.cellClicked.connect(lambda row, col: self.racer_selected.emit(self.order[row]) if row < len(self.order) else None)
        self.theme = theme
        self.set_columns(columns)
        self.set_theme(theme)

    @property
    def status_column(self) -> int:
        return 2 + len(self.columns)

    def set_columns(self, columns: Sequence[Column]) -> None:
        """The value columns between the racer and its status (unchanged ones cost nothing)."""
        columns = tuple(columns)
        if columns == self.columns and self.columnCount():
            return
        self.columns = columns
        headers = ["#", "Racer", *(c.header for c in columns), "status"]
        self.setRowCount(0)  # rows are made again with the new columns' alignment
        self._icons = {}
        self.setColumnCount(len(headers))
        self.setHorizontalHeaderLabels(headers)
        for i, c in enumerate(columns):
            if c.tip:
                self.horizontalHeaderItem(2 + i).setToolTip(c.tip)
        h = self.horizontalHeader()
        # Fixed widths set from the font (resizing to contents on every update cost ~10 ms a frame).
        h.setSectionResizeMode(QHeaderView.Fixed)
        h.setSectionResizeMode(self.status_column, QHeaderView.Stretch)
        self._size_columns()

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        f = QFont()
        f.setPointSize(theme.font_pt)
        self.setFont(f)
        self.verticalHeader().setDefaultSectionSize(int(theme.font_pt * 2.3))
        self.setIconSize(QSize(int(theme.font_pt * 1.6), int(theme.font_pt * 1.6)))
        self._icons = {}
        self._size_columns()
        if self._rows is not None:
            self.set_rows(*self._rows)

    def _size_columns(self) -> None:
        widths = column_widths(self.font(), self.iconSize().width(), self._names or (), self.columns, self.status_steps)
        for col, w in enumerate(widths[:-1]):
            self.setColumnWidth(col, w)
        self._status_width = widths[-1]
        self._racer_width = widths[1]
        self._fit_columns()

    def set_rows(self, looks, values, status, status_step, waiting: bool = False) -> None:
        """Row r: ``looks[r]`` (name, color, marker), ``values[r]`` (one per column), its
        Status code and the step it took that status (any while racing); ``waiting``: no run
        yet, the rows wait at the start."""
        self._rows = (looks, values, status, status_step, waiting)
        R, ncol = len(looks), self.columnCount()
        if self.rowCount() != R:
            self.setRowCount(R)
            aligns = [Qt.AlignRight, Qt.AlignLeft,
                      *(Qt.AlignLeft if c.align == "left" else Qt.AlignRight for c in self.columns), Qt.AlignLeft]
            for row in range(R):
                for col in range(ncol):
                    it = QTableWidgetItem()
                    it.setTextAlignment(aligns[col] | Qt.AlignVCenter)
                    self.setItem(row, col, it)
        names = tuple(lk.name for lk in looks)
        if names != self._names:
            self._names = names
            self._size_columns()
        sort = next((i for i, c in enumerate(self.columns) if c.sort is not None), None)
        key = [self.columns[sort].sort(float(v[sort])) for v in values] if sort is not None else [0.0] * R
        self.order = ranking(status, status_step, np.asarray(key, dtype=float))
        bold = QFont(self.font())
        bold.setBold(True)
        last = self.status_column
        for row, r in enumerate(self.order):
            look = looks[r]
            code = Status(int(status[r]))
            word = "waiting" if waiting else code.short
            if self.status_steps and not waiting and not code.moving:
                word += f" at {int(status_step[r]):,}"
            texts = (str(row + 1), look.name, *(c.format(v) if np.isfinite(v) else "—" for c, v in zip(self.columns, values[r])), word)
            for col, text in enumerate(texts):
                it = self.item(row, col)
                if it.text() != text:
                    it.setText(text)
            # The cell shows the short word; its tooltip the full meaning.
            self.item(row, last).setToolTip(WAITING_TIP if waiting else f"{code.label}: {code.tip}")
            name = self.item(row, 1)
            key = (look.marker, look.color)
            if self._icons.get(row) != key:
                self._icons[row] = key
                name.setIcon(marker_icon(look.marker, look.color, self.theme.outline, int(self.theme.font_pt * 1.6)))
                name.setFont(bold)

    def essential_width(self, theme: Theme) -> int:
        """Width that shows rank, racer, the essential values and status without scrolling in
        ``theme``'s fonts (the window sizes the dock from it before the table changes font)."""
        f = QFont(self.font())
        f.setPointSize(theme.font_pt)
        w = column_widths(f, int(theme.font_pt * 1.6), self._names or (), self.columns)
        return sum(w[c] for c in self._essential()) + 2 * self.frameWidth() + 4

    def _essential(self) -> list[int]:
        return [0, 1, *(2 + i for i, c in enumerate(self.columns) if c.essential), self.status_column]

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """Hide optional columns while the rest (status included) would not fit without
        scrolling: the first optional column of the spec goes first.  Still too narrow, the
        racer column gives way (down to its marker and a few letters, the name elided; the
        marker and colour still tell the racers apart) before the status is cut."""
        if not hasattr(self, "_status_width"):
            return
        optional = [2 + i for i, c in enumerate(self.columns) if not c.essential]
        room = self.viewport().width()
        fm = QFontMetrics(self.font())
        floor = min(self._racer_width, self.iconSize().width() + 24 + fm.horizontalAdvance("Mom…"))
        short = sum(self.columnWidth(c) for c in self._essential()[:-1] if c != 1) + self._status_width
        self.setColumnWidth(1, max(floor, min(self._racer_width, room - short)))
        need = short + self.columnWidth(1)
        for col in optional:
            self.setColumnHidden(col, False)
        hidden = []
        for col in optional:
            if need + sum(self.columnWidth(c) for c in optional if c not in hidden) <= room:
                break
            hidden.append(col)
        for col in hidden:
            self.setColumnHidden(col, True)
