"""The network lab's claim: with 4 contenders of 2-64-64-64-2 on two spirals, the views update
at >= 20 frames per second while training runs at >= 0.6 of the engine's speed without the GUI.
Both measured in one invocation, in rounds (``--runs N``, default 5): the engine alone (same
race, same chunking), then the window playing (offscreen) for a fixed wall time; the medians
over the rounds are the figures (a round alternates both, so a busy moment of the machine hits
both alike), quoted with the load average.  ``python benchmarks/bench_lab.py [--runs N]``."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's app and engine

from engine import lab as LAB  # noqa: E402
from engine.scenario import RacerConfig, Scenario  # noqa: E402

SECONDS = 6.0


def scenario() -> Scenario:
    sc = Scenario(mode="lab")
    sc.lab.hidden = [64, 64, 64]
    sc.lab.contenders = [RacerConfig("sgd", {"lr": 0.1}), RacerConfig("momentum", {"lr": 0.05}),
                         RacerConfig("rmsprop", {"lr": 0.001}), RacerConfig("adam", {"lr": 0.003})]
    return sc


def engine_rate() -> float:
    from app.modes.network_lab.session import CHECK_EVERY

    race = LAB.lab_race(scenario().lab, val_every=CHECK_EVERY, tel_every=CHECK_EVERY)
    race.advance(50)
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < SECONDS:
        race.advance(50)
        n += 50
    return n / (time.perf_counter() - t0)


def run_loop(seconds: float) -> None:
    """The window's own event loop for ``seconds`` (it sleeps between events, as in use)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(1000 * seconds), loop.quit)
    loop.exec()


def open_window():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from app.model import ScenarioModel
    from app.shell.window import ShellWindow

    win = ShellWindow(ScenarioModel(scenario()), restore=False, warm_up=False)
    win.resize(1600, 900)
    win.show()
    app.processEvents()
    win.controller.steps_per_frame = 1000  # as fast as training goes: the views show whatever is ready
    return win


def gui_rates(win) -> tuple[float, float]:
    """Frames per second the views got and steps per second trained while the window plays
    for SECONDS (from a fresh lab)."""
    c = win.controller
    win.mode.rebuild()  # at start-up the window is not shown: built here, in this thread
    while not win.mode.shown:
        run_loop(0.05)
    frames = [0]
    count = lambda _f: frames.__setitem__(0, frames[0] + 1)  # noqa: E731
    c.frame_ready.connect(count)
    c.play()
    run_loop(1.0)  # the worker gets going
    f0, s0, t1 = frames[0], win.mode.session.computed, time.perf_counter()
    run_loop(SECONDS)
    dt = time.perf_counter() - t1
    fps, rate = (frames[0] - f0) / dt, (win.mode.session.computed - s0) / dt
    c.pause()
    c.frame_ready.disconnect(count)
    return fps, rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    win = open_window()
    loads = [os.getloadavg()[0]]
    rows = []
    print(f"{os.cpu_count()} cores; 4 contenders of 2-64-64-64-2 on two spirals; {SECONDS:g} s each")
    print(f"{'round':>5} {'engine alone':>14} {'in the window':>14} {'ratio':>6} {'views fps':>10} {'load':>5}")
    for i in range(args.runs):
        alone = engine_rate()
        fps, rate = gui_rates(win)
        loads.append(os.getloadavg()[0])
        rows.append((alone, rate, rate / alone, fps))
        print(f"{i + 1:>5} {alone:>10.0f} s/s {rate:>10.0f} s/s {rate / alone:>6.2f} {fps:>10.1f} {loads[-1]:>5.2f}")
    alone, rate, ratio, fps = (statistics.median(r[k] for r in rows) for k in range(4))
    win.save_settings = lambda: None
    win.close()  # stops the lab and joins its worker
    print(f"median of {args.runs}: engine alone {alone:.0f} steps/s, in the window {rate:.0f} steps/s "
          f"({ratio:.2f} of the engine alone; claim >= 0.6), views {fps:.1f} frames/s (claim >= 20); "
          f"load average {min(loads):.2f}-{max(loads):.2f}")


if __name__ == "__main__":
    main()
