"""How long the GUI's event loop is blocked by each interaction while a race plays, at 1920x1080,
then the same for the Network lab (switching to it, editing its setup, play, pause, scrub).

A 1 ms heartbeat timer records the gaps between its ticks while the race plays and the script
changes a setting; the longest gap is how long the window could not react (target < 50 ms).
``python benchmarks/bench_gui.py`` (offscreen; ``--repeats N``, ``--only surface|lab``)."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from engine.scenario import Scenario, classic_six  # noqa: E402

SETTLE_MS = 600  # after an action, keep measuring this long: deferred work lands here too
UNTIL_S = 20.0  # the longest an action's deferred work is waited for


class Heartbeat:
    """Longest gap between ticks of a 1 ms timer: the longest the event loop was busy.  Also
    the GUI thread's own CPU time within that gap: on a loaded machine the gap is longer than
    the work in it (the thread waits for a core, or for the GIL)."""

    def __init__(self):
        self.timer = QTimer()
        self.timer.setInterval(1)
        self.timer.setTimerType(Qt.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.last = None
        self.longest = 0.0
        self.cpu = 0.0  # GUI-thread CPU time within the longest gap

    def _tick(self):
        now, cpu = time.perf_counter(), time.thread_time()
        if self.last is not None and now - self.last > self.longest:
            self.longest, self.cpu = now - self.last, cpu - self.last_cpu
        self.last, self.last_cpu = now, cpu

    def measure(self, action, settle_ms=SETTLE_MS, until=None) -> float:
        """Run ``action`` from the event loop and return the longest gap (s) until settled:
        ``settle_ms`` after it, and ``until()`` true (work the action left to later turns,
        e.g. a mode made in stages, counts too; at most UNTIL_S)."""
        loop = QEventLoop()
        self.last, self.longest, self.cpu = None, 0.0, 0.0
        self.timer.start()
        t0 = time.perf_counter() + 0.02
        poll = QTimer()
        poll.setInterval(10)
        poll.timeout.connect(lambda: time.perf_counter() - t0 >= settle_ms / 1e3
                             and (until is None or until() or time.perf_counter() - t0 > UNTIL_S) and loop.quit())
        QTimer.singleShot(20, action)
        poll.start()
        loop.exec()
        poll.stop()
        self.timer.stop()
        return self.longest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", choices=("surface", "lab"), default=None)
    args = ap.parse_args()
    app = QApplication.instance() or QApplication([])
    from app.shell.window import ShellWindow
    from app.model import ScenarioModel

    win = ShellWindow(ScenarioModel(Scenario(surface="beale", racers=classic_six("beale"))),
                     restore=False, warm_up=False)
    win.resize(1920, 1080)
    win.show()
    win.layout_docks()
    app.processEvents()
    model, c, view = win.model, win.controller, win.mode.surface_view
    hb = Heartbeat()
    surfaces = ["rosenbrock", "himmelblau", "quadratic", "beale"]
    themes = ["light", "dark"]
    state = {"s": 0, "t": 0, "p": 0}

    def next_surface():
        state["s"] += 1
        i = win.mode.surface_panel.combo.findData(surfaces[state["s"] % len(surfaces)])
        win.mode.surface_panel.combo.setCurrentIndex(i)

    def next_theme():
        state["t"] += 1
        (win.act_light if themes[state["t"] % 2] == "light" else win.act_dark).trigger()

    def next_preset():
        state["p"] += 1
        (win.mode.racers_panel.all_button if state["p"] % 2 else win.mode.racers_panel.classic_button).click()

    def click_start():
        vb = view.vb
        r = vb.viewRect()
        model.set_start(r.left() + 0.3 * r.width(), r.top() + 0.6 * r.height())

    def zoom():
        view.vb.scaleBy((0.8, 0.8))

    def lr_edit():
        model.set_hyper(0, "lr", 0.001 * (1 + state["p"] % 3))
        state["p"] += 1

    actions = [
        ("idle playback (no action)", lambda: None),
        ("preset: all 18 / classic six", next_preset),
        ("switch surface", next_surface),
        ("switch theme", next_theme),
        ("projector mode on", lambda: model.set_view("projector", True)),
        ("projector mode off", lambda: model.set_view("projector", False)),
        ("move the start point", click_start),
        ("edit a learning rate", lr_edit),
        ("zoom the map", zoom),
        ("fit", lambda: win.mode.act_fit.trigger()),
    ]
    worst = 0.0
    if args.only != "lab":
        c.play()
        hb.measure(lambda: None, 1000)  # first frames, layer caches
        print(f"Longest event-loop block (ms) after each action while playing, window "
              f"{win.width()}x{win.height()}, {args.repeats} repeats; {os.cpu_count()} cores, "
              f"load {os.getloadavg()[0]:.2f}:")
        worst = max(worst, report(hb, actions, args.repeats))
        c.pause()
    worst = max(worst, lab_actions(win, hb, args.repeats))
    print(f"\nTarget (issues 3, 12): the GUI never blocks for more than 50 ms: "
          f"{'met' if worst < 50 else 'MISS'} (worst median {worst:.1f} ms)")
    win.close()


def report(hb: Heartbeat, actions, repeats: int, before=None) -> float:
    """Rounds of every action, (name, action) or (name, action, until) (so that a busy moment
    hits all alike; ``before`` runs unmeasured at the start of each round); prints median and
    max per action, returns the worst median."""
    gaps = {name: [] for name, *_ in actions}
    cpus = {name: [] for name, *_ in actions}
    for _ in range(repeats):
        if before is not None:
            before()
        for name, fn, *until in actions:
            gaps[name].append(hb.measure(fn, until=until[0] if until else None) * 1e3)
            cpus[name].append(hb.cpu * 1e3)
    worst = 0.0
    for name, *_ in actions:
        g = gaps[name]
        worst = max(worst, statistics.median(g)) if not name.startswith("idle") else worst
        print(f"  {name:<32} median {statistics.median(g):6.1f}   max {max(g):6.1f}   "
              f"(GUI-thread CPU in it: median {statistics.median(cpus[name]):5.1f})")
    return worst


def lab_actions(win, hb: Heartbeat, repeats: int) -> float:
    """The Network lab (its default two spirals, 16x16, three contenders): each round switches
    to it from the surface race (Ctrl+2), plays, edits the setup while playing (each edit
    rebuilds the race from step 0 and keeps playing), pauses and scrubs back.  An action is
    measured until what it started has reached the screen (and SETTLE_MS at least)."""
    state = {"a": 0, "w": 0}
    acts = ["relu", "tanh"]
    widths = ["24", "16"]

    def to_surface():
        win.mode_actions["surface"].trigger()
        hb.measure(lambda: None, 300)

    def to_lab():
        win.mode_actions["lab"].trigger()

    def activation():
        state["a"] += 1
        p = win.mode.setup_panel
        p.activation.setCurrentIndex(p.activation.findData(acts[state["a"] % 2]))

    def width():
        state["w"] += 1
        win.mode.setup_panel.table.item(0, 0).setText(widths[state["w"] % 2])

    def scrub():
        c = win.controller
        c.seek(c.session.computed // 2 if c.session is not None else 0)

    def shown():
        """The lab's views made and the session of its latest setup on screen (the mode makes
        its views in stages and its networks in a worker: measured until they are there)."""
        return win.mode.id == "lab" and win.mode.shown

    actions = [
        ("lab: switch to it (Ctrl+2)", to_lab, shown),
        ("lab: play", lambda: win.controller.play()),
        ("lab: idle playback (no action)", lambda: None),
        ("lab: activation, playing", activation, shown),
        ("lab: first width, playing", width, shown),
        ("lab: pause", lambda: win.controller.pause()),
        ("lab: scrub back (paused)", scrub),
        ("lab: activation, paused", activation, shown),
    ]
    print(f"\nNetwork lab, window {win.width()}x{win.height()}, {repeats} rounds "
          f"(each from the surface race, unmeasured); load {os.getloadavg()[0]:.2f}:")
    worst = report(hb, actions, repeats, before=to_surface)
    win.controller.pause()
    return worst


if __name__ == "__main__":
    main()
