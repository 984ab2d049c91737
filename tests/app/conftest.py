"""Fixtures for the window tests: settings in a temporary file, a window without warm-up
thread, and a check that fails any test leaving timers or threads running."""
from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QThread, QTimer
from PySide6.QtWidgets import QApplication

from app.model import ScenarioModel
from engine.scenario import RacerConfig, Scenario, classic_six


@pytest.fixture(autouse=True)
def tmp_settings(tmp_path, monkeypatch):
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("OPTIRACE_SETTINGS", str(path))
    return path


def _running(app) -> list[str]:
    out = []
    for w in app.topLevelWidgets():
        out += [f"timer of {t.parent()!r}" for t in w.findChildren(QTimer) if t.isActive() and t.interval() > 0
                and not w.isVisible()]
        out += [f"thread {t!r}" for t in w.findChildren(QThread) if t.isRunning()]
    return out


@pytest.fixture(autouse=True)
def no_leftovers(qapp):
    """Fail a test that leaves a QThread, an active timer of a closed window, or a Python thread."""
    before = set(threading.enumerate())
    yield
    QApplication.processEvents()
    left = _running(qapp)
    extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not left and not extra, f"test left running: {left + [repr(t) for t in extra]}"


def make_window(qtbot, scenario: Scenario | None = None, *, restore=False, warm_up=False):
    from app.shell.window import ShellWindow

    model = ScenarioModel(scenario) if scenario is not None else None
    win = ShellWindow(model, restore=restore, warm_up=warm_up)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    if win.ready and win.mode.id == "surface":  # the map is sampled in a worker: start from the drawn surface
        qtbot.waitUntil(lambda: not win.mode.surface_view.sampling, timeout=30_000)
    return win


@pytest.fixture
def window(qtbot):
    win = make_window(qtbot, Scenario(surface="beale", racers=classic_six("beale")))
    yield win
    win.close()
    assert not win.controller.timer.isActive()


@pytest.fixture
def two_racers():
    return Scenario(surface="quadratic", racers=[RacerConfig("sgd", {"lr": 0.05}), RacerConfig("adam", {"lr": 0.1})])
