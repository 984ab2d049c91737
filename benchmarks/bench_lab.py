"""The network lab's claim: with 4 contenders of 2-64-64-64-2 on two spirals, the views update
at >= 20 frames per second while training runs at >= 0.6 of the engine's speed without the GUI.
Both measured in the same run: the engine alone (same race, same chunking), then the window
playing (offscreen) for a fixed wall time."""
from __future__ import annotations

import os
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


def gui_rates() -> tuple[float, float]:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from app.model import ScenarioModel
    from app.shell.window import ShellWindow

    win = ShellWindow(ScenarioModel(scenario()), restore=False, warm_up=False)
    win.resize(1600, 900)
    win.show()
    app.processEvents()
    c = win.controller
    c.steps_per_frame = 1000  # as fast as training goes: the views show whatever is ready
    frames = [0]
    c.frame_ready.connect(lambda _f: frames.__setitem__(0, frames[0] + 1))
    c.play()
    run_loop(1.0)  # the worker gets going
    f0, s0, t1 = frames[0], win.mode.session.computed, time.perf_counter()
    run_loop(SECONDS)
    dt = time.perf_counter() - t1
    fps, rate = (frames[0] - f0) / dt, (win.mode.session.computed - s0) / dt
    c.pause()
    win.mode.shutdown()
    win.save_settings = lambda: None
    win.close()
    return fps, rate


def main() -> None:
    alone = engine_rate()
    fps, rate = gui_rates()
    print(f"engine alone:        {alone:8.0f} steps/s")
    print(f"in the window:       {rate:8.0f} steps/s  ({rate / alone:.2f} of the engine alone; claim >= 0.6)")
    print(f"views updated at:    {fps:8.1f} frames/s (claim >= 20)")


if __name__ == "__main__":
    main()
