"""The engine's numba kernels compiled (or loaded from the cache) in stages, each with what it
compiles and how long it took on a 2-core reference machine: in the window (a worker driving
the overlay on the map) and in the terminal (``optirace warm-up``, which ``make run`` calls)."""
from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from typing import Callable

from .worker import Worker


@dataclass(frozen=True)
class Stage:
    label: str
    seconds: float  # cold compile on the reference machine (2 shared cores): what the bar expects
    run: Callable[[dict], None]  # compiles its kernels; may leave objects in the dict for later stages


def _surfaces(ctx: dict) -> None:
    from engine.surfaces import catalog as S

    # Binding evaluates f at the minima: one kernel holds all 14 surfaces' formulas.
    ctx["surface"] = S.bind(S.get("beale"))


def _map(ctx: dict) -> None:
    import numpy as np

    ctx["surface"].grid(np.linspace(0, 1, 3), np.linspace(0, 1, 3))


def _optimizers(ctx: dict) -> None:
    import numpy as np

    from engine.optim import optimizers as O

    for oid in O.names():
        spec = O.spec(oid)
        O.update(oid, np.zeros(2), np.ones(2), spec.init(2), 1, None, np.eye(2) if spec.needs_hessian else None)


def _race(ctx: dict) -> None:
    from engine.optim import optimizers as O
    from engine.surfaces import catalog as S
    from engine.race.race import Race

    race = ctx["race"] = Race("beale", S.get("beale").start, O.names())
    race.advance(2)
    race.state_at(1)


def _inspector(ctx: dict) -> None:
    race = ctx["race"]
    for r in range(len(race.racers)):
        race.explain_step(r, 1)


def _every_surface(ctx: dict) -> None:
    import numpy as np

    from engine.optim import optimizers as O
    from engine.surfaces import catalog as S
    from engine.race.race import Race

    for sid in S.names():
        race = Race(sid, S.get(sid).start, O.names())
        race.advance(2)
        race.surface.grid(np.linspace(0, 1, 3), np.linspace(0, 1, 3))


# The surface kernels come first and alone: about 4 s of a cold start's 23 (the race driver,
# which inlines every optimizer, takes most of the rest), so the map shows the surface, the
# start and the racers long before a race can run.  numba compiles one kernel at a time, so a
# stage cannot report from inside; the overlay moves on its expected time instead.
STAGES = (
    Stage("Compiling the 14 surfaces", 3.0, _surfaces),
    Stage("Compiling the map's shading", 1.0, _map),
    Stage("Compiling the 18 optimizers' update rules", 6.0, _optimizers),
    Stage("Compiling the race driver", 12.0, _race),
    Stage("Compiling the step inspector", 0.5, _inspector),
    Stage("Checking every surface", 0.5, _every_surface),
)
MAP_READY = 2  # stages after which the map can be drawn (the surface kernels)


def expected_seconds() -> int:
    """A cold warm-up's length to announce, rounded up to ten seconds."""
    return int(math.ceil(sum(s.seconds for s in STAGES) / 10.0) * 10)


def warm_up(progress=lambda i, n: None, cancelled=lambda: False) -> None:
    """Run every stage; ``progress(i, n)`` as stage i starts, and ``(n, n)`` at the end."""
    ctx: dict = {}
    n = len(STAGES)
    for i, stage in enumerate(STAGES):
        if cancelled():
            return
        progress(i, n)
        stage.run(ctx)
    progress(n, n)


def warm_up_worker(parent=None) -> Worker:
    """The warm-up in a worker, not yet started (connect first: the first stage reports at
    once): ``progress(i, n)`` as stage i starts, then ``finished``."""
    return Worker(lambda job: warm_up(job.progress, lambda: job.cancelled), "warm-up", parent)


def add_parser(sub) -> None:
    p = sub.add_parser("warm-up", help="compile the engine's kernels for this computer, with progress",
                       description="Compile (or load from the cache) every kernel the window needs, "
                                   "printing each stage: the first start then opens a ready window.")
    p.set_defaults(run=run)


def run(args, out=sys.stdout) -> int:
    print(f"Preparing the engine for this computer: once, about {expected_seconds()} s", file=out, flush=True)
    t0 = last = time.perf_counter()

    def report(i: int, n: int) -> None:
        nonlocal last
        now = time.perf_counter()
        if i > 0:
            print(f" {now - last:.1f} s", file=out, flush=True)
        if i < n:
            print(f"  [{i + 1}/{n}] {STAGES[i].label}…", end="", file=out, flush=True)
        last = now

    warm_up(report)
    print(f"Ready in {time.perf_counter() - t0:.1f} s.", file=out, flush=True)
    return 0
