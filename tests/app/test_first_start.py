"""The first start: the racers wait on the shaded map with an overlay while the race kernel
compiles, the terminal warm-up, and the message for missing X11 libraries."""
from __future__ import annotations

import io
import threading

import numpy as np

from app import platform_check as P
from app.shell import warmup
from app.shell import window as window_module
from app.shell.warmup import MAP_READY, STAGES
from app.shell.warmup_overlay import fraction
from app.shell.worker import Worker
from engine.scenario import Scenario, classic_six

from .conftest import make_window

LDD_MISSING = """\
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => /lib/x86_64-linux-gnu/libxcb-icccm.so.4 (0x00007f)
\tlibxcb-weird.so.9 => not found
"""


def test_missing_xcb_libraries_are_named_with_their_packages(monkeypatch):
    monkeypatch.setattr(P, "xcb_plugin", lambda: P.Path("/venv/libqxcb.so"))
    env = {"DISPLAY": ":0"}
    msg = P.check_display(env, "linux", report=lambda path: LDD_MISSING)
    assert "libxcb-cursor.so.0" in msg and "libxcb-weird.so.9" in msg
    assert "sudo apt-get install libxcb-cursor0 libxkbcommon-x11-0\n" in msg
    assert "libxcb-icccm4" in msg  # the family, for the library it does not know
    assert P.check_display(env, "linux", report=lambda path: "") is None  # nothing missing, or no ldd


def test_the_xcb_check_stays_out_of_offscreen_wayland_windows_and_macos():
    assert P.uses_xcb({}, "linux") and P.uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not P.uses_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not P.uses_xcb({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not P.uses_xcb({}, "win32") and not P.uses_xcb({}, "darwin")


def test_optirace_prints_the_packages_instead_of_opening(monkeypatch, capsys):
    from app.cli import main

    monkeypatch.setattr(P, "check_display", lambda: P.message(["libxcb-cursor.so.0"]))
    assert main(["--no-restore"]) == 1
    assert "sudo apt-get install libxcb-cursor0" in capsys.readouterr().err


def test_the_bar_moves_through_each_stage_and_never_runs_ahead():
    n = len(STAGES)
    ends = [fraction(i, 0.0) for i in range(n + 1)]
    assert ends[0] == 0.0 and ends[-1] == 1.0 and all(a < b for a, b in zip(ends, ends[1:]))
    for i in range(n):
        inside = [fraction(i, t) for t in (0.1, 1.0, 3.0)]
        assert ends[i] < inside[0] and all(a < b for a, b in zip(inside, inside[1:]))
        assert fraction(i, 1e6) <= ends[i + 1]


def test_warm_up_in_the_terminal_names_every_stage():
    out = io.StringIO()
    assert warmup.run(None, out=out) == 0
    text = out.getvalue()
    assert "Preparing the engine for this computer" in text and "Ready in" in text
    assert all(f"[{i + 1}/{len(STAGES)}] {s.label}" in text for i, s in enumerate(STAGES))


def test_racers_wait_on_the_map_under_the_overlay_until_the_race_kernel_is_ready(qtbot, monkeypatch):
    gate = threading.Event()
    n = len(STAGES)

    def held_warm_up(parent):
        def task(job):
            job.progress(0, n)
            job.progress(MAP_READY, n)  # the surface kernels: the map can be drawn
            gate.wait(60)
            job.progress(n, n)
        return Worker(task, "warm-up", parent)

    monkeypatch.setattr(window_module, "warm_up_worker", held_warm_up)
    sc = Scenario(surface="beale", racers=classic_six("beale"))
    win = make_window(qtbot, sc, warm_up=True)
    mode, overlay = win.mode, win.overlay
    try:
        # The fake warm-up compiles nothing: on a cold cache the map's kernels compile here.
        qtbot.waitUntil(lambda: win.map_ready and overlay.isVisible(), timeout=60000)
        frame = mode.surface_view.frame
        assert frame.waiting and frame.n_racers == 6
        assert np.allclose(frame.heads, sc.start_point())
        assert mode.surface_view.background.has_content()  # the surface is shaded
        assert {mode.leaderboard.item(r, 5).text() for r in range(6)} == {"waiting"}
        assert win.controller.session is None and not win.ready
        assert "Preparing the engine for this computer" in overlay.title.text()
        assert STAGES[MAP_READY].label in overlay.detail.text()
        before = overlay.bar.value()
        qtbot.waitUntil(lambda: overlay.bar.value() > before, timeout=30000)  # it moves while a stage compiles

        win.model.set_surface("booth")  # edits while waiting show at once
        qtbot.waitUntil(lambda: mode.surface_view.frame.surface.spec.id == "booth", timeout=30000)
        assert mode.surface_view.frame.waiting
    finally:
        gate.set()
    qtbot.waitUntil(lambda: win.ready, timeout=120000)  # a cold cache compiles the race kernels now
    assert not overlay.isVisible() and not overlay.running
    frame = win.controller.frame
    assert not frame.waiting and frame.surface.spec.id == "booth"
    assert {mode.leaderboard.item(r, 5).text() for r in range(6)} == {"racing"}
    win.close()
