"""What presenter mode puts on screens besides the lesson: the black screen (B or period), the
lesson number being typed, and the teacher's notes window for a second screen."""
from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QLabel, QTextBrowser, QVBoxLayout, QWidget


class BlankScreen(QWidget):
    """Black over the whole window: the class looks at the teacher, not the screen."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self.setAutoFillBackground(True)
        self.setStyleSheet("background: #000000;")
        self.setAttribute(Qt.WA_StyledBackground)
        self.hide()

    def cover(self) -> None:
        self.setGeometry(self.parentWidget().rect())
        self.show()
        self.raise_()


class JumpPrompt(QLabel):
    """The lesson number typed so far, in the top right corner until Enter or Escape."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        f = QFont(self.font())
        f.setPointSize(32)
        f.setBold(True)
        self.setFont(f)
        self.setStyleSheet("color: #ffffff; background: #0072B2; padding: 10px 22px; border-radius: 8px;")
        self.hide()

    def show_digits(self, digits: str, title: str) -> None:
        self.setText(f"Lesson {digits} ⏎" + (f"  {title}" if title else ""))
        self.adjustSize()
        p = self.parentWidget()
        self.move(p.width() - self.width() - 24, 24)
        self.show()
        self.raise_()


class NotesWindow(QWidget):
    """The teacher's screen: the lesson's number and title, where the lesson stands, what the
    next beat shows, and the notes, in a large font."""

    def __init__(self):
        super().__init__(None, Qt.Window)
        self.setWindowTitle("Teacher's notes — OptiRace")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(24, 18, 24, 18)
        self.head = QLabel()
        self.head.setWordWrap(True)
        f = QFont(self.font())
        f.setPointSize(22)
        f.setBold(True)
        self.head.setFont(f)
        lay.addWidget(self.head)
        self.text = QTextBrowser()
        f = QFont(self.font())
        f.setPointSize(18)
        self.text.setFont(f)
        lay.addWidget(self.text, 1)

    def show_lesson(self, number: int, total: int, entry, beat: str, next_caption: str) -> None:
        if entry is None:
            self.head.setText("No lesson open")
            self.text.clear()
            return
        self.head.setText(f"{number} / {total}   {html.escape(entry.title)}")
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in entry.notes.split("\n") if p.strip())
        self.text.setHtml(f"<p><i>{html.escape(entry.topic)}</i> — {html.escape(beat)}</p>"
                          + (f"<p><b>Next:</b> {html.escape(next_caption)}</p>" if next_caption else "")
                          + f"<hr>{paras or '<p>(no notes)</p>'}")
