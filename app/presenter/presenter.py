"""Presenter mode (F5; Esc leaves): the lesson full screen on the chosen screen in projector
mode's look, scaled up further; no menus, panels or playback bar; driven by the keys a
presentation clicker sends.  Page Down / Right play to the next beat (the lesson's next pause,
then its end), then open the next lesson; Page Up / Left go back a beat, then a lesson."""
from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QActionGroup, QGuiApplication
from PySide6.QtWidgets import QApplication, QSizePolicy, QToolBar, QVBoxLayout, QWidget

from ..shell.caption import MAX_SHARE
from . import prefs
from .screens import BlankScreen, JumpPrompt, NotesWindow

# Projector mode's scale (1.35) makes 13-pt panels 18 pt; a hall wants 24 pt and up.
PRESENTER_SCALE = 1.85
# The banner spans the window under the panels, up to this share of its height: at 24 pt a
# pause's caption needs four or five lines at 1024x768.
CAPTION_SHARE = 0.3

# Key -> what it does.  Clickers send Page Down / Page Up for their arrows, B or period for
# "blank", F5 / Escape for start and stop.
KEYS = {
    Qt.Key_PageDown: "next", Qt.Key_Right: "next", Qt.Key_Down: "next",
    Qt.Key_PageUp: "back", Qt.Key_Left: "back", Qt.Key_Up: "back",
    Qt.Key_Space: "play", Qt.Key_R: "reset",
    Qt.Key_B: "blank", Qt.Key_Period: "blank",
    Qt.Key_Home: "first_of_topic", Qt.Key_G: "browse",
    Qt.Key_Return: "jump", Qt.Key_Enter: "jump",
    Qt.Key_Escape: "leave", Qt.Key_F5: "nothing",
    **{getattr(Qt, f"Key_{d}"): "digit" for d in range(10)},
}


@dataclass
class _Before:
    """What presenter mode changed, restored when it is left."""

    geometry: object
    window_state: object
    theme: str
    projector: bool
    mode: str
    docks: tuple[str, ...]
    caption_wanted: bool


class Presenter(QObject):
    """Attached to a ShellWindow with its LessonsPage (``win.lessons``)."""

    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.active = False
        self.blanked = False
        self.digits = ""
        self.notes: NotesWindow | None = None
        self.theme_name = prefs.presenter_theme()
        self._before: _Before | None = None
        self.blank = BlankScreen(win)
        # The banner's place in presenter mode: a bar along the bottom of the whole window (the
        # panels on the right stop above it), so that the words have the window's width.
        self.caption_bar = QToolBar("Caption")
        self.caption_bar.setObjectName("toolbar_presenter_caption")
        self.caption_bar.setMovable(False)
        self.caption_bar.setFloatable(False)
        self.caption_bar.setStyleSheet("QToolBar { border: 0px; padding: 0px; spacing: 0px; }")
        self._caption_slot = QWidget()
        QVBoxLayout(self._caption_slot).setContentsMargins(0, 0, 0, 0)
        self._caption_slot.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        self.caption_bar.addWidget(self._caption_slot)
        self.prompt = JumpPrompt(win)
        self.act_present = win.action("Presenter mode", self.toggle, "F5",
                                      tip="The lesson full screen for the hall, driven by keys or a clicker (F5; Esc leaves)")
        self.theme_group = QActionGroup(self)
        self.theme_actions = {}
        for name, text in (("light", "Light, high contrast"), ("dark", "Dark")):
            a = win.action(text, checkable=True)
            self.theme_group.addAction(a)
            self.theme_actions[name] = a
        self.theme_actions[prefs.presenter_theme()].setChecked(True)
        for name, a in self.theme_actions.items():  # after: showing the setting writes nothing
            a.toggled.connect(lambda on, n=name: on and self.set_theme(n))

    # -- menus ----------------------------------------------------------------------------------
    def add_menu_entries(self, m) -> None:
        m.addAction(self.act_present)
        t = m.addMenu("Presenter theme")
        for a in self.theme_actions.values():
            t.addAction(a)
        s = m.addMenu("Presenter screen")
        chosen = self.screen()
        group = QActionGroup(s)
        for scr in QGuiApplication.screens():
            g = scr.geometry()
            a = s.addAction(f"{scr.name() or 'screen'} ({g.width()}x{g.height()})",
                            lambda scr=scr: prefs.set_presenter_screen(scr.name()))
            a.setCheckable(True)
            a.setChecked(scr is chosen)
            group.addAction(a)

    def screen(self):
        """The chosen screen (by name) if it is connected, else the window's own."""
        name = prefs.presenter_screen()
        return next((s for s in QGuiApplication.screens() if name and s.name() == name), None) or self.win.screen()

    def notes_screen(self, screens=None):
        """A screen other than the presenting one, for the notes window (None with one screen)."""
        screens = QGuiApplication.screens() if screens is None else screens
        shown = self.screen()
        return next((s for s in screens if s is not shown), None)

    # -- entering and leaving -------------------------------------------------------------------
    def toggle(self) -> None:
        self.leave() if self.active else self.enter()

    def enter(self, full_screen: bool = True, theme: str | None = None) -> None:
        """Present the lesson shown (else the last one opened, else the first), in ``theme``
        this time (default: the presenter theme chosen in the Lessons menu)."""
        if self.active:
            return
        self.theme_name = theme or prefs.presenter_theme()
        win, v = self.win, self.win.model.scenario.view
        self._before = _Before(win.saveGeometry(), win.windowState(), v.theme, v.projector, win.mode.id,
                               tuple(k for k, d in win.docks.items() if d.isVisible()), win.caption.wanted)
        self.active = True
        for w in (win.menuBar(), win.view_bar, win.statusBar(), win.playback_bar):
            w.hide()
        self._titles(False)
        win.caption.title_at_pauses = True
        win.caption.max_share = CAPTION_SHARE
        self._caption_slot.layout().addWidget(win.caption)
        win.addToolBar(Qt.BottomToolBarArea, self.caption_bar)
        self.caption_bar.show()
        win.caption.set_host(win)
        win.caption.set_wanted(True)
        win.set_projector_scale(PRESENTER_SCALE)
        lessons = win.lessons
        lessons.adjust = self._adjust  # a lesson opened from the browser (G) is presented too
        chosen = lessons.selected()  # F5 on the lesson browser presents the card selected there
        lessons.hide_page()
        if chosen is not None and lessons.current_index() != lessons.catalog.entries.index(chosen):
            lessons.open_entry(chosen, self._adjust)
        elif lessons.current_index() is None:
            entry = self._start_entry()
            if entry is not None:
                lessons.open_entry(entry, self._adjust)
        win.model.set_view("theme", self.theme_name)  # no change after a lesson opened above
        win.model.set_view("projector", True)
        win.model.race_changed.connect(self._lesson_changed)
        win.controller.stopped_at_pause.connect(self._show_notes)
        self._lesson_changed()
        if full_screen:
            scr = self.screen()
            if win.windowHandle() is not None:
                win.windowHandle().setScreen(scr)
            win.setGeometry(scr.geometry())
            win.showFullScreen()
        QApplication.instance().installEventFilter(self)
        win.installEventFilter(self)
        other = self.notes_screen()
        if other is not None:
            self.notes = NotesWindow()
            self.notes.setGeometry(other.availableGeometry())
            self.notes.show()
            self._show_notes()
        win.setFocus()

    def leave(self, closing: bool = False) -> None:
        """Back to the desk as it was; ``closing``: the window is closing, only the scenario's
        view settings go back (it is saved), nothing is redrawn."""
        if not self.active:
            return
        win, b = self.win, self._before
        QApplication.instance().removeEventFilter(self)
        win.removeEventFilter(self)
        win.model.race_changed.disconnect(self._lesson_changed)
        win.controller.stopped_at_pause.disconnect(self._show_notes)
        self.active = False
        self._unblank()
        self._clear_digits()
        if self.notes is not None:
            self.notes.close()
            self.notes.deleteLater()
            self.notes = None
        if closing:
            win.lessons.adjust = None
            win.model.scenario.view.theme, win.model.scenario.view.projector = b.theme, b.projector
            return
        win.lessons.adjust = None
        win.lessons.hide_page()
        win.setWindowState(b.window_state)
        win.restoreGeometry(b.geometry)
        for w in (win.menuBar(), win.view_bar, win.statusBar(), win.playback_bar):
            w.show()
        self._titles(True)
        win.caption.title_at_pauses = False
        win.caption.max_share = MAX_SHARE
        win.caption.set_host(None)
        win.removeToolBar(self.caption_bar)
        win.centralWidget().layout().insertWidget(1, win.caption)  # between the centre and the playback bar
        win.caption.set_wanted(b.caption_wanted)
        win.set_projector_scale(None)
        win.model.set_view("theme", b.theme)
        win.model.set_view("projector", b.projector)
        if not b.projector:
            # Loading a lesson in projector mode folds the panels afresh, so the window no
            # longer knows which were open: those open before (all, in another mode) return.
            keep = b.docks if win.mode.id == b.mode else tuple(win.docks)
            for k in win.mode.presentation_hides:
                if k in keep and k in win.docks:
                    win.docks[k].show()
            win.layout_docks()
        win.controller.pause_steps = self._pauses()

    def _titles(self, on: bool) -> None:
        """The panels' title bars (with their close buttons) are the desk's, not the hall's."""
        for d in self.win.docks.values():
            d.setTitleBarWidget(None if on else QWidget())

    def set_theme(self, name: str) -> None:
        prefs.set_presenter_theme(name)
        self.theme_name = name
        if self.active:
            self.win.model.set_view("theme", name)

    def _adjust(self, sc) -> None:
        sc.view.theme = self.theme_name
        sc.view.projector = True

    def _start_entry(self):
        """The lesson F5 opens when none is shown: the last one opened, else the first."""
        cat = self.win.lessons.catalog
        i = cat.index_of(prefs.last_lesson()) if prefs.last_lesson() else None
        return cat.entries[i or 0] if cat.entries else None

    # -- the lesson's beats ---------------------------------------------------------------------
    def _pauses(self) -> tuple[int, ...]:
        sc = self.win.model.scenario
        return tuple(sorted(p.step for p in sc.lesson.pauses)) if sc.lesson else ()

    def beats(self) -> tuple[int, ...]:
        """Where Page Down stops: each pause, then the lesson's last step."""
        sc = self.win.model.scenario
        return tuple(sorted({*self._pauses(), sc.export.last})) if sc.lesson else ()

    def _lesson_changed(self) -> None:
        win = self.win
        win.controller.pause_steps = self.beats()
        # A lesson in another mode brings its own panels, shown: projector mode's fold misses
        # them (not yet visible when it runs), so they are put away here.
        for k in win.mode.presentation_hides:
            if k in win.docks:
                win.docks[k].hide()
        self._titles(False)
        self._show_notes()

    def next(self) -> None:
        c, beats = self.win.controller, self.beats()
        if c.session is None or c.busy:
            return
        # The end: the lesson's last step, or where every racer stopped if that came first.
        if not beats or c.k >= beats[-1] or (c.all_done() and c.k >= c.session.end_step()):
            if not c.playing:
                self.go_to(self.index() + 1)
            return
        if c.playing:  # a press while it plays finishes the beat at once, if computed
            target = next(b for b in beats if b > c.k)
            if target <= c.session.computed:
                c.pause()
                c.seek(target)
                c.stopped_at_pause.emit(target)
            return
        c.play()

    def back(self) -> None:
        c = self.win.controller
        if c.session is None or c.busy:
            return
        c.pause()
        if c.k == 0:
            self.go_to(self.index() - 1)
            return
        earlier = [p for p in self.beats() if p < c.k]
        target = earlier[-1] if earlier else 0
        c.seek(target)
        if target:
            c.stopped_at_pause.emit(target)

    def index(self) -> int:
        i = self.win.lessons.current_index()
        return -1 if i is None else i

    def go_to(self, i: int) -> bool:
        """Open lesson number i + 1 (nothing beyond the first or the last)."""
        entries = self.win.lessons.catalog.entries
        if not 0 <= i < len(entries) or i == self.index():
            return False
        return self.win.lessons.open_entry(entries[i], self._adjust)

    def first_of_topic(self) -> None:
        entries = self.win.lessons.catalog.entries
        i = self.index()
        if i >= 0:
            self.go_to(next(j for j, e in enumerate(entries) if e.topic == entries[i].topic))
        elif entries:
            self.go_to(0)

    # -- black screen, lesson numbers, browser --------------------------------------------------
    def toggle_blank(self) -> None:
        self._unblank() if self.blanked else self._blank()

    def _blank(self) -> None:
        self.blanked = True
        self.win.controller.pause()
        self.blank.cover()

    def _unblank(self) -> None:
        self.blanked = False
        self.blank.hide()

    def _clear_digits(self) -> None:
        self.digits = ""
        self.prompt.hide()

    def _digit(self, d: str) -> None:
        self.digits = (self.digits + d)[-3:]
        entries = self.win.lessons.catalog.entries
        n = int(self.digits)
        self.prompt.show_digits(self.digits, entries[n - 1].title if 0 < n <= len(entries) else "(no such lesson)")

    def _jump(self) -> None:
        if self.digits:
            n = int(self.digits)
            self._clear_digits()
            self.go_to(n - 1)

    def browse(self) -> None:
        self.win.controller.pause()
        self.win.lessons.show_page(presenting=True)

    # -- keys -----------------------------------------------------------------------------------
    def handle(self, key: int) -> bool:
        """Do what ``key`` does in presenter mode; False if it does nothing here."""
        what = KEYS.get(key)
        if what is None:
            return False
        if self.blanked:  # a stray press must not change what returns
            if what == "blank":
                self._unblank()
            elif what == "leave":
                self.leave()
            return True
        if what == "digit":
            self._digit(chr(key))
            return True
        if self.digits and what not in ("jump", "leave"):
            self._clear_digits()
        c = self.win.controller
        if what == "leave":
            self._clear_digits() if self.digits else self.leave()
        else:
            {"next": self.next, "back": self.back, "play": c.toggle, "reset": c.reset, "blank": self._blank,
             "first_of_topic": self.first_of_topic, "browse": self.browse, "jump": self._jump,
             "nothing": lambda: None}[what]()
        return True

    def eventFilter(self, obj, ev) -> bool:
        t = ev.type()
        if obj is self.win and t == QEvent.Resize:
            if self.blanked:
                self.blank.cover()
            return False
        if obj is self.win and t == QEvent.Close:
            self.leave(closing=True)
            return False
        if t not in (QEvent.ShortcutOverride, QEvent.KeyPress) or not self.active:
            return False
        if self.win.lessons.page_shown and not self.blanked:
            return False  # the browser's own keys (Escape takes it away)
        target = obj.window() if hasattr(obj, "window") and callable(obj.window) else None
        if target is not self.win and (self.notes is None or target is not self.notes):
            return False
        if ev.modifiers() & ~(Qt.KeypadModifier | Qt.ShiftModifier) or ev.key() not in KEYS:
            return False
        ev.accept()
        if t == QEvent.KeyPress and not ev.isAutoRepeat():
            self.handle(ev.key())
        return True

    # -- the notes window -----------------------------------------------------------------------
    def _show_notes(self, *_) -> None:
        if self.notes is None:
            return
        cat, i = self.win.lessons.catalog, self.index()
        entry = cat.entries[i] if i >= 0 else None
        c, sc = self.win.controller, self.win.model.scenario
        pauses = {p.step: p.caption for p in sc.lesson.pauses} if sc.lesson else {}
        ahead = [s for s in sorted(pauses) if s > c.k]
        beat = f"at step {c.k:,} of {sc.export.last:,}"
        self.notes.show_lesson(i + 1, len(cat.entries), entry, beat, pauses[ahead[0]] if ahead else "")
