"""The lesson's caption on screen, in a banner under the centre: the scenario's title and
caption, or, while playback is stopped at one of the lesson's pauses, that pause's caption."""
from __future__ import annotations

import html

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QLabel, QWidget

from .. import theme as themes

MAX_SHARE = 0.28  # of the centre's height at most: the map keeps the room


class CaptionBanner(QLabel):
    """``show_scenario`` sets what it says between pauses, ``show_pause`` what it says at a
    pause until ``resume``; ``set_wanted`` is the View menu's switch."""

    def __init__(self, theme: themes.Theme, parent=None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.RichText)
        self.setAlignment(Qt.AlignLeft | Qt.AlignVCenter)
        self.wanted = True
        self.title_at_pauses = False  # presenter mode keeps the lesson's title in view
        self.max_share = MAX_SHARE  # presenter mode gives the words more (the hall reads them)
        # The widget whose height bounds the banner: its parent, or (presenter mode, where it
        # spans the window in a bar of its own) the window, and then it sets its own height.
        self.host: QWidget | None = None
        self._title = ""
        self.pause_step: int | None = None  # the pause whose caption is shown
        self._scenario_text = ""
        self._pauses: dict[int, str] = {}
        self._full = ""  # the text to show, before fitting
        self.set_theme(theme)
        self._refresh()

    def set_theme(self, theme: themes.Theme) -> None:
        # Larger than the panels' text: the caption is read from the back of a lecture hall.
        self._pt = round(theme.title_pt * 1.1)
        self._min_pt = theme.font_pt
        f = QFont(self.font())
        f.setPointSize(self._pt)
        self.setFont(f)
        accent = QColor("#0072B2" if theme.name == "light" else "#56B4E9")
        self.setStyleSheet(f"color: {theme.foreground}; background: {theme.panel};"
                           f" border-left: 6px solid {accent.name()}; padding: 8px 14px;")
        self._fit()  # a new size of type needs another height (presenter mode's is larger)

    def show_scenario(self, scenario) -> None:
        """The title and caption of ``scenario`` (a lesson writes them in its table), and the
        captions of its pauses."""
        self._title = scenario.title
        parts = [f"<b>{html.escape(scenario.title)}</b>"] if scenario.title else []
        if scenario.caption:
            parts.append(html.escape(scenario.caption))
        self._scenario_text = " — ".join(parts)
        lesson = scenario.lesson
        self._pauses = {p.step: p.caption for p in lesson.pauses} if lesson is not None else {}
        self.pause_step = None
        self._refresh()

    def show_pause(self, step: int) -> None:
        if step in self._pauses:
            self.pause_step = step
            self._refresh()

    def resume(self) -> None:
        """Back to the scenario's caption (play resumed, or the step shown moved on)."""
        if self.pause_step is not None:
            self.pause_step = None
            self._refresh()

    def set_wanted(self, on: bool) -> None:
        self.wanted = on
        self._refresh()

    def _refresh(self) -> None:
        if self.pause_step is not None:
            text = f"<b>❚❚</b>  {html.escape(self._pauses[self.pause_step])}"
            if self.title_at_pauses and self._title:
                text = f"<b>{html.escape(self._title)}</b> — {text}"
        else:
            text = self._scenario_text
        self._full = text
        self.setToolTip("")
        self.setVisible(self.wanted and bool(text))
        self._fit()

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        if ev.oldSize().width() != ev.size().width():
            self._fit()

    def event(self, ev) -> bool:
        if ev.type() == QEvent.ParentChange and self.parentWidget() is not None:
            self.parentWidget().installEventFilter(self)  # its height sets the limit
        return super().event(ev)

    def eventFilter(self, obj, ev) -> bool:
        if obj is self._host() and ev.type() == QEvent.Resize and ev.oldSize().height() != ev.size().height():
            self._fit()
        return False

    def _host(self) -> QWidget | None:
        return self.host or self.parentWidget()

    def set_host(self, host: QWidget | None) -> None:
        """Bound the banner by ``host``'s height, and size it to its text (None: by the parent's,
        sized by the parent's layout)."""
        if self.host is not None:
            self.host.removeEventFilter(self)
        self.host = host
        if host is None:
            self.setMinimumHeight(0)
            self.setMaximumHeight(16777215)  # QWIDGETSIZE_MAX
        else:
            host.installEventFilter(self)
        self._fit()

    def _fit(self) -> None:
        """At most ``max_share`` of the centre: a smaller font first (down to the panels' size),
        then the end of a long caption cut (the whole text in the tooltip)."""
        parent = self._host()
        width = self.width()
        if parent is None or width <= 0 or not self._full:
            self.setText(self._full)
            return
        self._fit_within(width, max(int(self.max_share * parent.height()), self.fontMetrics().height() * 2))
        if self.host is not None:
            self.setFixedHeight(self.heightForWidth(width))

    def _fit_within(self, width: int, limit: int) -> None:
        f = QFont(self.font())
        self.setText(self._full)
        for pt in range(self._pt, self._min_pt - 1, -1):
            f.setPointSize(pt)
            self.setFont(f)
            if self.heightForWidth(width) <= limit:
                break
        if self.heightForWidth(width) <= limit:
            return
        words = self._full.split(" ")
        lo, hi = 1, len(words)  # the most words that fit, with an ellipsis
        while lo < hi:
            mid = (lo + hi + 1) // 2
            self.setText(" ".join(words[:mid]) + " …")
            lo, hi = (mid, hi) if self.heightForWidth(width) <= limit else (lo, mid - 1)
        self.setText(" ".join(words[:lo]) + " …")
        self.setToolTip(self._full)
