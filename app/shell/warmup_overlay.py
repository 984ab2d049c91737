"""A panel over the mode's centre while the engine's kernels compile: what is happening, how
long it takes once, and a bar that keeps moving through each stage on its expected time."""
from __future__ import annotations

import math
import time

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QFrame, QLabel, QProgressBar, QVBoxLayout, QWidget

from .. import theme as themes
from .warmup import STAGES, expected_seconds

SHOW_AFTER_S = 0.3  # a warm cache is done sooner: the panel never flashes
# Each tick repaints the panel, and the compile shares the interpreter with the window: four
# ticks a second move the bar visibly; an opaque panel repaints without the map beneath it.
TICK_MS = 250
BAR_STEPS = 1000


def fraction(stage: int, elapsed: float) -> float:
    """How far the bar stands with ``stage`` running for ``elapsed`` s: the stages before it by
    their expected seconds, this one approaching its end without reaching it (a slower machine
    sees a bar that slows down, never one that stops or runs ahead of the work)."""
    total = sum(s.seconds for s in STAGES)
    if stage >= len(STAGES):
        return 1.0
    done = sum(s.seconds for s in STAGES[:stage])
    expected = STAGES[stage].seconds
    return (done + expected * (1.0 - math.exp(-elapsed / expected))) / total


class WarmUpOverlay(QFrame):
    """Shown over ``host`` from ``start()`` until ``finish()``; ``set_stage(i)`` as stage i starts."""

    def __init__(self, host: QWidget, theme: themes.Theme):
        super().__init__(host)
        self.setObjectName("warmup_overlay")
        self.setAttribute(Qt.WA_OpaquePaintEvent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 18, 24, 18)
        lay.setSpacing(10)
        self.title = QLabel(f"Preparing the engine for this computer: once, about {expected_seconds()} s")
        self.bar = QProgressBar()
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setTextVisible(False)
        self.detail = QLabel()
        for w in (self.title, self.bar, self.detail):
            lay.addWidget(w)
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._stage = 0
        self._t0 = self._stage_t0 = 0.0
        self.set_theme(theme)
        self.hide()
        self._host = None
        self.set_host(host)

    def set_theme(self, theme: themes.Theme) -> None:
        pal = self.palette()
        pal.setColor(QPalette.Window, QColor(theme.panel))
        self.setPalette(pal)
        self.setAutoFillBackground(True)  # opaque (see TICK_MS)
        self.setStyleSheet(f"#warmup_overlay {{ border: 1px solid {theme.grid}; }} QLabel {{ color: {theme.foreground}; }}")
        f = QFont()
        f.setPointSize(theme.font_pt)
        self.detail.setFont(f)  # the map's font is the plot's, smaller
        f.setPointSize(round(theme.font_pt * 1.25))
        f.setBold(True)
        self.title.setFont(f)
        if self.isVisible():
            self._place()

    def set_host(self, host: QWidget) -> None:
        """Sit over ``host`` (a new mode's centre), following its size."""
        if self._host is not None:
            self._host.removeEventFilter(self)
        self._host = host
        self.setParent(host)
        host.installEventFilter(self)
        if self._timer.isActive():
            self._tick()

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
        if obj is self._host and ev.type() == QEvent.Resize and self.isVisible():
            self._place()
        return False

    def _place(self) -> None:
        self.adjustSize()
        host = self._host.rect()
        w = min(max(self.sizeHint().width(), 420), host.width() - 40)
        self.resize(w, self.sizeHint().height())
        # Low on the map: the start and the racers' labels stay in sight above it.
        self.move((host.width() - w) // 2, max(host.height() - self.height() - 90, 0))
        self.raise_()

    def start(self) -> None:
        self._t0 = self._stage_t0 = time.perf_counter()
        self._stage = 0
        self._timer.start()

    def set_stage(self, i: int) -> None:
        self._stage = i
        self._stage_t0 = time.perf_counter()
        self._tick()

    def finish(self) -> None:
        self._timer.stop()
        self.hide()

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def _tick(self) -> None:
        now = time.perf_counter()
        elapsed = now - self._t0
        self.bar.setValue(round(BAR_STEPS * fraction(self._stage, now - self._stage_t0)))
        label = STAGES[self._stage].label if self._stage < len(STAGES) else "Starting the race"
        self.detail.setText(f"{label}…   {elapsed:.0f} s")
        if not self.isVisible() and elapsed >= SHOW_AFTER_S:
            self.show()
            self._place()
