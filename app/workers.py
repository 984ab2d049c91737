"""Long work off the GUI thread: the start-up warm-up of the engine's numba kernels (a few
seconds on a cold cache), reporting progress and cancellable."""
from __future__ import annotations

from PySide6.QtCore import QThread, Signal

from engine import optimizers as O
from engine import surfaces as S


def warm_up(progress=lambda i, n: None, cancelled=lambda: False) -> None:
    """Compile (or load from the cache) every kernel a race and the surface view call."""
    import numpy as np

    from engine.race import Race

    ids = S.names()
    n = len(ids)
    racers = O.names()
    for i, sid in enumerate(ids):
        if cancelled():
            return
        spec = S.get(sid)
        race = Race(sid, spec.start, racers)
        race.advance(2)
        race.state_at(1)
        race.surface.grid(np.linspace(0, 1, 3), np.linspace(0, 1, 3))
        progress(i + 1, n)


class WarmUp(QThread):
    progress = Signal(int, int)
    done = Signal()

    def run(self) -> None:
        warm_up(self.progress.emit, self.isInterruptionRequested)
        self.done.emit()
