"""The first start, as a newcomer sees it: seconds from launching the window to its first paint,
to the shaded map with the racers waiting, and to a playable race, with an empty numba cache
(cold) and with the cache that run left (warm); and the terminal warm-up ``make run`` does
first.  Each in a subprocess of its own; ``python benchmarks/bench_startup.py`` (offscreen)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 600


def child() -> None:
    """Open the window with its warm-up and print when each milestone was reached."""
    launched = float(os.environ["BENCH_LAUNCHED"])
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    from app.model import ScenarioModel
    from app.shell.window import ShellWindow
    from engine.scenario import Scenario, classic_six

    seen: dict[str, float] = {}

    def mark(name: str) -> None:
        seen.setdefault(name, time.time() - launched)

    class FirstPaint(QObject):
        def eventFilter(self, obj, ev):
            if ev.type() == QEvent.Paint and "first paint" not in seen:
                QTimer.singleShot(0, lambda: mark("first paint"))  # once this paint is done
            return False

    painted = FirstPaint()
    app.installEventFilter(painted)
    win = ShellWindow(ScenarioModel(Scenario(surface="beale", racers=classic_six("beale"))), restore=False)
    win.resize(1920, 1050)
    win.show()

    def poll():
        frame = win.mode.surface_view.frame
        if frame is not None:
            mark("map with racers")
        if win.ready and win.controller.frame is not None:
            mark("playable")
            win.controller.run_to(300)
            app.processEvents()
            mark("300 steps shown")
            timer.stop()
            win.close()
            app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(20)
    app.exec()
    print(json.dumps(seen))


def window(cache: str, settings: str) -> dict[str, float]:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache, OPTIRACE_SETTINGS=settings, BENCH_LAUNCHED=repr(time.time()))
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    out = subprocess.run([sys.executable, __file__, "--child"], env=env, capture_output=True, text=True,
                         timeout=TIMEOUT_S, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"the window's run failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def terminal_warm_up(cache: str) -> float:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "app", "warm-up"], env=env, check=True, capture_output=True,
                   timeout=TIMEOUT_S, cwd=ROOT)
    return time.perf_counter() - t0


def main() -> None:
    milestones = ("first paint", "map with racers", "playable", "300 steps shown")
    with tempfile.TemporaryDirectory() as tmp:
        settings = str(Path(tmp) / "settings.ini")
        cache = str(Path(tmp) / "numba-window")
        cold = window(cache, settings)
        warm = window(cache, settings)
        term_cache = str(Path(tmp) / "numba-terminal")
        term = terminal_warm_up(term_cache)
        after = window(term_cache, settings)
    print(f"Start-up of the window (Beale, classic six, 1920x1050, "
          f"{os.environ.get('QT_QPA_PLATFORM', 'offscreen')}), seconds from launch:")
    print(f"  {'':18s}{'cold cache':>12s}{'warm cache':>12s}{'cold/warm':>11s}")
    for m in milestones:
        c, w = cold.get(m, float("nan")), warm.get(m, float("nan"))
        print(f"  {m:18s}{c:12.1f}{w:12.1f}{c / w:10.1f}x")
    print(f"  cold: the map with the racers after {cold['map with racers'] / cold['playable']:.0%} "
          "of the wait for a playable race")
    print(f"make run on a fresh clone: `optirace warm-up` in the terminal {term:.1f} s, "
          f"then the window playable after {after['playable']:.1f} s")


if __name__ == "__main__":
    child() if "--child" in sys.argv else main()
