"""The start-up warm-up of the engine's numba kernels (tens of seconds on a cold cache, well
under one on a warm one), in a worker with progress and Cancel."""
from __future__ import annotations

from engine.optim import optimizers as O
from engine.surfaces import catalog as S

from .worker import Worker


def warm_up(progress=lambda i, n: None, cancelled=lambda: False) -> None:
    """Compile (or load from the cache) every kernel a race and the surface view call."""
    import numpy as np

    from engine.race.race import Race

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


def start_warm_up(parent=None) -> Worker:
    """The warm-up in a worker: ``progress(i, n)`` per surface, then ``finished``."""
    return Worker(lambda job: warm_up(job.progress, lambda: job.cancelled), "warm-up", parent).start()
