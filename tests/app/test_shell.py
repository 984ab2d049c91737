"""The shell knows a mode only through its interface: a stand-in mode added as one row of the
table is switched to; files open, save, come back in Open recent and drop onto the window."""
from __future__ import annotations

import sys
import types

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QLabel, QMessageBox

from app import modes
from app.modes.base import DockSpec, Mode
from engine import scenario as scenario_io
from engine.scenario import RacerConfig, Scenario

from .conftest import make_window


class NotesMode(Mode):
    """The smallest mode: a label in the centre, one dock, no session."""

    id = "notes"
    title = "Notes"
    presentation_hides = ("jot",)

    def __init__(self, shell):
        super().__init__(shell)
        self.label = QLabel("centre")
        self.jot = QLabel("jot")
        self.started = False
        self.themes = []

    def centre(self):
        return self.label

    def docks(self):
        return [DockSpec("jot", "Jottings", self.jot, Qt.RightDockWidgetArea)]

    def start(self):
        self.started = True

    def themed(self):
        return [self]

    def set_theme(self, theme):
        self.themes.append(theme.name)


@pytest.fixture
def with_notes_mode(monkeypatch):
    module = types.ModuleType("notes_mode_for_tests")
    module.NotesMode = NotesMode
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(modes.MODES, "notes", ("Notes", module.__name__, "NotesMode"))


def test_a_new_mode_is_one_row_of_the_table(with_notes_mode, qtbot):
    win = make_window(qtbot)
    assert set(win.mode_actions) == {"surface", "lab", "notes"}
    assert win.mode_actions["notes"].shortcut().toString() == "Ctrl+3"
    win.mode_actions["notes"].trigger()
    assert isinstance(win.mode, NotesMode) and win.mode.started
    assert set(win.docks) == {"jot"} and win.controller.session is None
    assert win.model.scenario.mode == "notes"
    qtbot.waitUntil(lambda: win.mode.label.isVisible())
    win.act_light.trigger()  # the shell restyles what the mode lists
    qtbot.waitUntil(lambda: not win.restyling, timeout=5000)
    assert win.mode.themes == ["light"]
    win.act_projector.trigger()
    qtbot.waitUntil(lambda: not win.restyling, timeout=5000)
    assert not win.docks["jot"].isVisible()
    win.mode_actions["surface"].trigger()
    assert set(win.docks) >= {"racers", "leaderboard"} and win.controller.session is win.mode.session
    win.close()


def test_save_as_then_save_open_recent_and_the_title(window, qtbot, tmp_path, monkeypatch):
    path = tmp_path / "mine.toml"
    assert window.windowTitle().startswith("untitled")
    window.model.add_racer("lion", {"lr": 0.01})
    assert "•" in window.windowTitle() and window.modified
    assert window.write_scenario(str(path))
    assert window.windowTitle().startswith("mine.toml") and not window.modified
    assert scenario_io.load(path).racers[-1].optimizer == "lion"
    window.model.set_hyper(0, "lr", 0.0123)
    assert window.save_scenario()  # to the same file, no dialog
    assert scenario_io.load(path).racers[0].hyper["lr"] == pytest.approx(0.0123)
    assert window.recent_files()[0] == str(path)
    window._fill_recent()
    assert [a.text() for a in window.recent_menu.actions()] == ["mine.toml"]


def test_replacing_unsaved_changes_asks_first(window, tmp_path, monkeypatch):
    other = tmp_path / "other.toml"
    scenario_io.save(Scenario(surface="booth", racers=[RacerConfig("sgd")]), other)
    window.model.add_racer("adam")
    answers = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.append(a[2]) or QMessageBox.Cancel)
    window.dropEvent(_drop(window, other))
    assert answers and window.model.scenario.surface == "beale"  # cancelled: nothing replaced
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    window.dropEvent(_drop(window, other))
    assert window.model.scenario.surface == "booth" and window.path == str(other) and not window.modified


_KEEP = []  # a QDropEvent holds its mime data by a plain pointer: keep the data alive


def _drop(window, path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    _KEEP.append(mime)
    return QDropEvent(QPointF(10, 10), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)


def test_a_file_for_a_mode_this_build_lacks_is_refused_and_changes_nothing(window, tmp_path, monkeypatch):
    path = tmp_path / "tuning.toml"
    path.write_text('schema = 2\nmode = "tuning"\n', encoding="utf-8")
    warned = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: warned.append(a[2]))
    assert not window.load_scenario(str(path))
    assert "mode 'tuning' is not in this OptiRace yet" in warned[0] and window.mode.id == "surface"
