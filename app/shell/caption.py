"""The lesson's caption on screen, in a banner under the centre: the scenario's title and
caption, or, while playback is stopped at one of the lesson's pauses, that pause's caption."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QLabel

from .. import theme as themes


class CaptionBanner(QLabel):
    """``show_scenario`` sets what it says between pauses, ``show_pause`` what it says at a
    pause until ``resume``; ``set_wanted`` is the View menu's switch."""

    def __init__(self, theme: themes.Theme, parent=None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.setTextFormat(Qt.RichText)
        self.setAlignment(Qt.AlignLeft | Qt.AlignVCenter)
        self.wanted = True
        self.pause_step: int | None = None  # the pause whose caption is shown
        self._scenario_text = ""
        self._pauses: dict[int, str] = {}
        self.set_theme(theme)
        self._refresh()

    def set_theme(self, theme: themes.Theme) -> None:
        # Larger than the panels' text: the caption is read from the back of a lecture hall.
        f = QFont(self.font())
        f.setPointSize(round(theme.title_pt * 1.1))
        self.setFont(f)
        accent = QColor("#0072B2" if theme.name == "light" else "#56B4E9")
        self.setStyleSheet(f"color: {theme.foreground}; background: {theme.panel};"
                           f" border-left: 6px solid {accent.name()}; padding: 8px 14px;")

    def show_scenario(self, scenario) -> None:
        """The title and caption of ``scenario`` (a lesson writes them in its table), and the
        captions of its pauses."""
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
        else:
            text = self._scenario_text
        self.setText(text)
        self.setVisible(self.wanted and bool(text))
