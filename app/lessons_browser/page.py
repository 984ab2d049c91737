"""The lessons in the window: the start page (the browser over the whole window), the Lessons
menu (every lesson by topic), File > Open folder of lessons, and opening a lesson."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QRect, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QMenu

from ..presenter import prefs
from .browser import LessonBrowser
from .catalog import Catalog, Entry, load_catalog
from .thumbnails import Thumbnails


class LessonsPage(QObject):
    """Attached to a ShellWindow (``win``); ``catalog`` is every lesson it can open."""

    opened = Signal(object)  # the Entry just opened

    def __init__(self, win):
        super().__init__(win)
        self.win = win
        self.thumbnails = Thumbnails(win.model.scenario.view.theme, self)
        self._catalog: Catalog | None = None
        self.browser: LessonBrowser | None = None
        self._covered: list = []  # the panels and toolbar the page hid, shown again when it goes
        self.adjust = None  # changes every lesson opened gets first (presenter mode's look)
        self.act_browse = win.action("Browse lessons…", lambda: self.show_page(), "Ctrl+L",
                                     tip="Every lesson as a card, by topic, with the teacher's notes (Ctrl+L)")
        self.act_start_page = win.action("Lessons at start", checkable=True,
                                          tip="Open on the lesson browser when no file or lesson is given")
        self.act_start_page.setChecked(prefs.start_page())
        self.act_start_page.toggled.connect(prefs.set_start_page)  # after: showing it writes nothing
        self.act_open_folder = win.action("Open folder of lessons…", self.ask_folder,
                                          tip="List the lessons of a folder of yours beside the built-in ones")
        win.installEventFilter(self)
        win.restyled.connect(self._restyle)

    def _restyle(self) -> None:
        """The window's theme changed (presenter mode's may): the page and its pictures follow."""
        if self.browser is None:
            return
        theme = self.win.theme
        self.browser.set_theme(theme)
        if theme.name != self.thumbnails.theme:
            self.thumbnails.set_theme(theme.name)
            self.browser.set_catalog(self.catalog)

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog(prefs.lesson_folders())
        return self._catalog

    def reload(self) -> Catalog:
        self._catalog = None
        if self.browser is not None:
            self.browser.set_catalog(self.catalog)
        return self.catalog

    # -- menus ----------------------------------------------------------------------------------
    def add_menu(self, menubar) -> QMenu:
        """The Lessons menu (rebuilt with the window's menus): browse, presenter mode, and every
        lesson by topic, filled when it opens."""
        m = menubar.addMenu("&Lessons")
        m.aboutToShow.connect(lambda: self._fill_menu(m))  # the lessons read when first needed
        return m

    def _fill_menu(self, m: QMenu) -> None:
        m.clear()
        m.addAction(self.act_browse)
        presenter = getattr(self.win, "presenter", None)
        if presenter is not None:
            presenter.add_menu_entries(m)
        m.addAction(self.act_open_folder)
        m.addAction(self.act_start_page)
        m.addSeparator()
        cat = self.catalog
        subs: dict[str, QMenu] = {}
        for i, e in enumerate(cat.entries):
            if e.topic not in subs:
                subs[e.topic] = m.addMenu(e.topic)
            a = subs[e.topic].addAction(f"{i + 1}. {e.title}", lambda e=e: self.open_entry(e))
            a.setToolTip(e.summary)
        for p in cat.problems:
            m.addAction(f"Not listed: {Path(p.path).name}").setEnabled(False)

    # -- the page -------------------------------------------------------------------------------
    def show_page(self, presenting: bool = False) -> LessonBrowser:
        """The browser over the window, the lesson shown (if any) selected."""
        b = self.browser
        if b is None:
            b = self.browser = LessonBrowser(self.thumbnails, self.win)
            b.chosen.connect(self.open_entry)
            b.leave.connect(self.hide_page)
            b.open_folder.connect(self.ask_folder)
            b.set_catalog(self.catalog)
        b.set_presenting(presenting)
        self._restyle()
        i = self.current_index()
        if i is not None:
            b.select(i)
        if not b.isVisible():
            # The page covers the window; its panels step aside (a mode raises its docks when
            # it lays them out, which would put them over the page).
            self._covered = [w for w in (*self.win.docks.values(), self.win.view_bar) if w.isVisible()]
            for w in self._covered:
                w.hide()
        self._place()
        b.show()
        b.raise_()
        b.cards_list.setFocus()
        return b

    def hide_page(self) -> None:
        if self.browser is not None and self.browser.isVisible():
            self.browser.hide()
            for w in self._covered:
                if w is self.win.view_bar or w in self.win.docks.values():  # a new mode has new docks
                    w.show()
            self._covered = []
            self.win.setFocus()

    def selected(self) -> Entry | None:
        """The lesson of the page's current card (None without a page or a card)."""
        item = self.browser.cards_list.currentItem() if self.page_shown else None
        return None if item is None else self.browser.catalog.entries[item.data(Qt.UserRole)]

    @property
    def page_shown(self) -> bool:
        return self.browser is not None and self.browser.isVisible()

    def _place(self) -> None:
        mb = self.win.menuBar()
        top = mb.height() if mb.isVisible() else 0
        self.browser.setGeometry(QRect(0, top, self.win.width(), self.win.height() - top))

    def eventFilter(self, obj, ev) -> bool:
        if obj is self.win:
            if ev.type() == QEvent.Resize and self.page_shown:
                self._place()
            elif ev.type() == QEvent.Close:
                self.thumbnails.shutdown()
        return False

    # -- opening --------------------------------------------------------------------------------
    def current_index(self) -> int | None:
        """The shown lesson's number - 1 in the catalog (by its file, else by its id), if it is one."""
        cat = self.catalog
        i = cat.index_of(self.win.path) if self.win.path else None
        lesson = self.win.model.scenario.lesson
        if i is None and lesson is not None:
            e = cat.find(lesson.id)
            i = None if e is None else cat.entries.index(e)
        return i

    def open_entry(self, entry: Entry, adjust=None) -> bool:
        """Open the lesson (asking first about unsaved changes); ``adjust(scenario)`` may
        change it before it is shown (presenter mode's theme)."""
        if not self.win._discard_ok():
            return False
        if not self.win.load_scenario(str(entry.path), adjust or self.adjust):
            return False
        self.hide_page()
        prefs.set_last_lesson(str(entry.path))
        self.opened.emit(entry)
        return True

    def ask_folder(self) -> None:
        folders = prefs.lesson_folders()
        folder = QFileDialog.getExistingDirectory(self.win, "Open folder of lessons", folders[-1] if folders else "")
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder: str) -> Catalog:
        """List the lessons of ``folder`` from now on (and at later starts); a bad file there
        is named on the page and in the status bar, and the other lessons still list."""
        prefs.add_lesson_folder(str(folder))
        cat = self.reload()
        found = [e for e in cat.entries if not e.builtin and Path(e.path).parent == Path(folder)]
        bad = [p for p in cat.problems if Path(p.path).parent == Path(folder) or Path(p.path) == Path(folder)]
        msg = f"{len(found)} lesson{'s' * (len(found) != 1)} from {folder}"
        if bad:
            msg += f"; not listed: {'; '.join(str(p) for p in bad)}"
        self.win.statusBar().showMessage(msg)  # until the next message: it may name files to fix
        self.show_page(self.browser.presenting if self.browser is not None else False)
        return cat
