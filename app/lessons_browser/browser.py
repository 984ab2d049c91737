"""The lesson browser's page: a card for every lesson (thumbnail, number and title, topic, one
line of what it shows), a topic filter, the teacher's notes of the selected lesson in a side
panel, and the lesson files that could not be read.  One click or Enter opens a lesson."""
from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QComboBox, QFrame, QHBoxLayout, QLabel, QListView, QListWidget, QListWidgetItem,
                               QPushButton, QTextBrowser, QVBoxLayout, QWidget)

from .. import theme as themes
from .catalog import Catalog, Entry
from .thumbnails import SIZE, Thumbnails

ALL_TOPICS = "All topics"
# Keys the card list uses itself, ahead of the window's shortcuts (arrows step the race there).
LIST_KEYS = {Qt.Key_Left, Qt.Key_Right, Qt.Key_Up, Qt.Key_Down, Qt.Key_Return, Qt.Key_Enter, Qt.Key_Home,
             Qt.Key_End, Qt.Key_PageUp, Qt.Key_PageDown, Qt.Key_Space, Qt.Key_Escape}


def _font(pt: int, bold: bool = False) -> QFont:
    f = QFont()
    f.setPointSize(pt)
    f.setBold(bold)
    return f


class CardList(QListWidget):
    """The cards in rows that wrap; Escape asks to leave the page."""

    escape = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.IconMode)
        self.setResizeMode(QListView.Adjust)
        self.setMovement(QListView.Static)
        self.setWrapping(True)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QListWidget.SingleSelection)
        self.setFrameShape(QFrame.NoFrame)

    def event(self, ev) -> bool:
        if ev.type() == QEvent.ShortcutOverride and ev.key() in LIST_KEYS and not ev.modifiers():
            ev.accept()
            return True
        return super().event(ev)

    def keyPressEvent(self, ev) -> None:
        if ev.key() == Qt.Key_Escape:
            self.escape.emit()
            return
        if ev.key() in (Qt.Key_Return, Qt.Key_Enter) and self.currentItem() is not None:
            self.itemActivated.emit(self.currentItem())
            return
        super().keyPressEvent(ev)


class LessonCard(QWidget):
    """One lesson: its thumbnail (a placeholder until it is drawn) over its number and title,
    topic and the first sentence of its caption."""

    def __init__(self, number: int, entry: Entry, scale: float, parent=None):
        super().__init__(parent)
        self.entry = entry
        self.setAttribute(Qt.WA_TransparentForMouseEvents)  # clicks select the list's item
        w, h = round(SIZE[0] / 2 * scale), round(SIZE[1] / 2 * scale)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(4)
        self.picture = QLabel("drawing…")
        self.picture.setFixedSize(w, h)
        self.picture.setAlignment(Qt.AlignCenter)
        self.picture.setStyleSheet("border: 1px solid palette(mid); color: palette(mid);")
        lay.addWidget(self.picture)
        pt = round(11 * scale)
        self.title = QLabel(f"{number}. {entry.title}")
        self.title.setTextFormat(Qt.PlainText)
        self.title.setFont(_font(round(pt * 1.2), bold=True))
        self.title.setWordWrap(True)
        self.topic = QLabel(entry.topic + ("" if entry.builtin else "  (your folder)"))
        self.topic.setTextFormat(Qt.PlainText)
        self.topic.setFont(_font(pt))
        self.topic.setObjectName("topic")
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.PlainText)
        self.summary.setFont(_font(pt))
        self.summary.setWordWrap(True)
        self.summary.setMaximumHeight(self.summary.fontMetrics().lineSpacing() * 3 + 2)
        self.summary.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        for lab in (self.title, self.topic, self.summary):
            lab.setFixedWidth(w)
            lay.addWidget(lab)
        self._fit_summary(entry.summary)
        lay.addStretch(1)
        fm = self.title.fontMetrics()
        self.setFixedSize(w + 16, h + 16 + fm.lineSpacing() * 2 + self.topic.fontMetrics().lineSpacing()
                          + self.summary.maximumHeight() + 20)

    def _fit_summary(self, text: str) -> None:
        """As many words as three lines hold, then an ellipsis (the whole line in the tooltip)."""
        lab, limit = self.summary, self.summary.maximumHeight()
        lab.setText(text)
        if lab.heightForWidth(lab.width()) <= limit:
            return
        words = text.split(" ")
        lo, hi = 1, len(words)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lab.setText(" ".join(words[:mid]) + " …")
            lo, hi = (mid, hi) if lab.heightForWidth(lab.width()) <= limit else (lo, mid - 1)
        lab.setText(" ".join(words[:lo]) + " …")
        lab.setToolTip(text)

    def set_picture(self, pix) -> None:
        self.picture.setPixmap(pix.scaled(self.picture.size(), Qt.KeepAspectRatio, Qt.SmoothTransformation))
        self.picture.setStyleSheet("")

    @property
    def has_picture(self) -> bool:
        return self.picture.pixmap() is not None and not self.picture.pixmap().isNull()


class LessonBrowser(QWidget):
    """``chosen(entry)`` when a lesson is opened; ``leave`` on Escape.  ``set_presenting``
    shows it for the hall: larger cards and text, no notes, no folder button."""

    chosen = Signal(object)
    leave = Signal()
    open_folder = Signal()

    def __init__(self, thumbnails: Thumbnails, parent=None):
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.catalog = Catalog((), ())
        self.presenting = False
        self.cards: dict[str, LessonCard] = {}  # lesson file -> card
        self.setAttribute(Qt.WA_StyledBackground)  # its style sheet paints its background
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 16, 24, 16)
        head = QHBoxLayout()
        self.heading = QLabel("Lessons")
        head.addWidget(self.heading)
        head.addStretch(1)
        self.topic_box = QComboBox()
        self.topic_box.setToolTip("Show the lessons of one topic")
        self.topic_box.currentIndexChanged.connect(self._filter)
        head.addWidget(self.topic_box)
        self.folder_button = QPushButton("Open folder of lessons…")
        self.folder_button.clicked.connect(self.open_folder)
        head.addWidget(self.folder_button)
        outer.addLayout(head)
        self.hint = QLabel("← → ↑ ↓ choose    Enter opens    Esc returns")
        self.hint.setFont(_font(20))
        outer.addWidget(self.hint)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.problems.setStyleSheet("color: #D55E00; border-left: 5px solid #D55E00; padding: 6px 10px;")
        outer.addWidget(self.problems)
        body = QHBoxLayout()
        self.cards_list = CardList()
        self.cards_list.itemClicked.connect(self._open_item)
        self.cards_list.itemActivated.connect(self._open_item)
        self.cards_list.currentItemChanged.connect(self._show_notes)
        self.cards_list.escape.connect(self.leave)
        body.addWidget(self.cards_list, 3)
        self.notes = QTextBrowser()
        self.notes.setFocusPolicy(Qt.NoFocus)
        self.notes.setMinimumWidth(260)
        self.notes.setFont(_font(13))
        body.addWidget(self.notes, 1)
        outer.addLayout(body, 1)
        thumbnails.ready.connect(self._picture_ready)
        self.set_presenting(False)

    # -- content --------------------------------------------------------------------------------
    def set_catalog(self, catalog: Catalog) -> None:
        self.catalog = catalog
        keep = self.topic_box.currentText()
        with QSignalBlocker(self.topic_box):
            self.topic_box.clear()
            self.topic_box.addItems([ALL_TOPICS, *catalog.topics()])
            self.topic_box.setCurrentText(keep if keep in catalog.topics() else ALL_TOPICS)
        self.problems.setText("<br>".join(f"<b>Not listed:</b> {html.escape(str(p))}" for p in catalog.problems))
        self.problems.setVisible(bool(catalog.problems))
        self._fill()

    def _fill(self) -> None:
        lst = self.cards_list
        lst.clear()
        self.cards = {}
        scale = 1.6 if self.presenting else 1.0
        for i, e in enumerate(self.catalog.entries):
            card = LessonCard(i + 1, e, scale)
            item = QListWidgetItem()
            item.setData(Qt.UserRole, i)
            item.setSizeHint(card.size() + QSize(12, 12))
            lst.addItem(item)
            lst.setItemWidget(item, card)
            self.cards[str(e.path)] = card
            pix = self.thumbnails.get(e.path)
            if pix is not None:
                card.set_picture(pix)
        self._filter()

    def _picture_ready(self, path: str) -> None:
        card = self.cards.get(path)
        if card is not None:
            pix = self.thumbnails.get(card.entry.path)
            if pix is not None:
                card.set_picture(pix)

    def set_topic(self, topic: str) -> None:
        self.topic_box.setCurrentText(topic if topic in self.catalog.topics() else ALL_TOPICS)

    def _filter(self) -> None:
        topic = self.topic_box.currentText()
        first = None
        for row in range(self.cards_list.count()):
            item = self.cards_list.item(row)
            e = self.catalog.entries[item.data(Qt.UserRole)]
            hidden = topic not in ("", ALL_TOPICS) and e.topic != topic
            item.setHidden(hidden)
            if not hidden and first is None:
                first = item
        cur = self.cards_list.currentItem()
        if first is not None and (cur is None or cur.isHidden()):
            self.cards_list.setCurrentItem(first)

    def select(self, index: int) -> None:
        """Make lesson ``index`` (0-based, in the catalog) the current card."""
        for row in range(self.cards_list.count()):
            item = self.cards_list.item(row)
            if item.data(Qt.UserRole) == index:
                if item.isHidden():
                    self.set_topic(ALL_TOPICS)
                self.cards_list.setCurrentItem(item)
                self.cards_list.scrollToItem(item)
                return

    def visible_entries(self) -> list[Entry]:
        lst = self.cards_list
        return [self.catalog.entries[lst.item(r).data(Qt.UserRole)] for r in range(lst.count())
                if not lst.item(r).isHidden()]

    def _open_item(self, item) -> None:
        self.chosen.emit(self.catalog.entries[item.data(Qt.UserRole)])

    def _show_notes(self, item, _prev=None) -> None:
        if item is None:
            self.notes.clear()
            return
        e = self.catalog.entries[item.data(Qt.UserRole)]
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in e.notes.split("\n") if p.strip())
        self.notes.setHtml(f"<h3>{html.escape(e.title)}</h3><p><i>{html.escape(e.topic)}</i></p>"
                           f"<p><b>Teacher's notes</b></p>{paras or '<p>(none)</p>'}"
                           f"<p style='color: gray'>{html.escape(str(e.path))}</p>")

    # -- look -----------------------------------------------------------------------------------
    def set_presenting(self, on: bool) -> None:
        """For the hall (presenter mode) or the desk: the notes are the teacher's, never projected."""
        changed = on != self.presenting
        self.presenting = on
        self.notes.setVisible(not on)
        self.folder_button.setVisible(not on)
        self.heading.setFont(_font(32 if on else 20, bold=True))
        self.topic_box.setFont(_font(24 if on else 12))
        self.hint.setVisible(on)  # a clicker's keys; at the desk the mouse does it
        if changed:
            self._fill()

    def set_theme(self, theme: themes.Theme) -> None:
        accent = "#0072B2" if theme.name == "light" else "#56B4E9"
        # Colours named here, not taken from the palette: a widget under a style sheet keeps the
        # palette it had when the sheet was set, and the theme changes after.
        self.setStyleSheet(f"LessonBrowser {{ background: {theme.panel}; }}"
                           f"QLabel {{ color: {theme.foreground}; }}"
                           f"QLabel#topic {{ color: {accent}; }}"
                           f"QComboBox {{ color: {theme.foreground}; background: {theme.background}; }}"
                           f"QTextBrowser {{ color: {theme.foreground}; background: {theme.background}; }}"
                           f"QListWidget {{ background: {theme.background}; }}"
                           "QListWidget::item:selected { background: transparent; border: 4px solid #0072B2; }"
                           "QListWidget::item:hover { border: 2px solid #56B4E9; }")

