"""The surface race as a playback session: the engine Race built from the scenario, the
recorded trail of every racer, the last steps kept exact, and one Frame per step shown."""
from __future__ import annotations

from collections import deque

import numpy as np

from engine.optim import optimizers as O
from engine.race.status import Status

from ...model import ScenarioModel
from ...shell.recorder import Recorder
from ...theme import MARKERS
from ...views.look import Look
from .frames import Frame

EXACT_WINDOW = 20000  # recent steps kept at full resolution (the record is thinned)
# Checkpoints of the optimizer states (a few kB each): with more of them, a jump back in a
# long race recomputes fewer steps (at 10^7 steps, ~2,500 instead of ~20,000).
MAX_CHECKPOINTS = 4096


class SurfaceSession:
    """One race of the scenario's enabled racers (row r is enabled racer r).  A ``waiting``
    session builds no race (its kernel may still be compiling): the racers wait at the start."""

    def __init__(self, model: ScenarioModel, generation: int = 0, history_capacity: int = 16384,
                 waiting: bool = False):
        self.model = model
        self.generation = generation
        self.waiting = waiting
        sc = model.scenario
        self._idx = model.enabled_indices()
        racing = bool(self._idx) and not waiting
        self.race = sc.build_race(model.surface_spec(), max_checkpoints=MAX_CHECKPOINTS) if racing else None
        if self.race is not None:
            s0 = self.race.state_at(0)
            x0, f0, g0 = s0.X, s0.F, np.hypot(s0.G[:, 0], s0.G[:, 1])
        else:
            x0, f0, g0 = self._at_start(len(self._idx))
        self._initial = (x0.copy(), f0.copy(), g0.copy())
        self.history = Recorder({"pos": x0, "loss": f0, "grad": g0}, history_capacity)
        self._chunks: deque = deque()
        self._exact = 0
        self._status = np.zeros(len(self._idx), dtype=np.int64)
        self._status_step = np.zeros(len(self._idx), dtype=np.int64)
        self.surface = self.race.surface if self.race else model.bound_surface()
        self.looks = self.make_looks()

    def _at_start(self, n: int):
        """Every racer at the start: positions, loss and gradient norm there (surface kernels only)."""
        start = self.model.scenario.start_point()
        if n == 0:
            return np.zeros((0, 2)), np.zeros(0), np.zeros(0)
        surface = self.model.bound_surface()
        f, g = surface.value(*start), surface.gradient(*start)
        return np.tile(start, (n, 1)), np.full(n, f), np.full(n, float(np.hypot(*g)))

    def make_looks(self) -> tuple[Look, ...]:
        names = self.model.racer_names()
        return tuple(Look(names[i], self.model.color_of(i), MARKERS[i % len(MARKERS)]) for i in self._idx)

    def restyle(self) -> None:
        """Names and colours changed, the racers did not."""
        if len(self._idx) == len(self.model.enabled_indices()):
            self.looks = self.make_looks()

    # -- the Session protocol -------------------------------------------------------------------
    @property
    def computed(self) -> int:
        return self.race.t if self.race is not None else 0

    def compute(self, n: int) -> None:
        if self.race is None:
            return
        chunk = self.race.advance(n)
        self.history.append(chunk.first, {"pos": chunk.positions, "loss": chunk.losses, "grad": chunk.grad_norms})
        self._chunks.append(chunk)
        self._exact += chunk.positions.shape[1]
        while len(self._chunks) > 1 and self._exact - self._chunks[0].positions.shape[1] >= EXACT_WINDOW:
            self._exact -= self._chunks.popleft().positions.shape[1]
        self._status = chunk.status.copy()
        self._status_step = chunk.status_step.copy()

    def done(self) -> bool:
        return self.race is None or (len(self._status) > 0 and bool(np.all(self._status != Status.RACING)))

    def end_step(self) -> int:
        return int(self._status_step.max()) if len(self._status_step) else 0

    def frame(self, step: int, prev: int | None) -> Frame:
        if self.race is not None:
            heads, loss, grad = self._exact_at(step)
            tail = self._tail(prev, step) if prev is not None else None
            ended = (self._status != Status.RACING) & (self._status_step <= step)
            status = np.where(ended, self._status, Status.RACING)
            status_step = np.where(ended, self._status_step, 0)
        else:
            heads, loss, grad = self._initial
            tail = None
            status = status_step = np.zeros(len(self._idx), dtype=np.int64)
        return Frame(
            step=step, computed=self.computed, heads=np.asarray(heads), loss=np.asarray(loss),
            grad_norm=np.asarray(grad), status=status, status_step=status_step, looks=self.looks,
            surface=self.surface, start=self.model.scenario.start_point(), history=self.history,
            prev_step=step if prev is None else prev, tail=tail, generation=self.generation,
            waiting=self.waiting,
        )

    # -- exact values -----------------------------------------------------------------------------
    def _exact_at(self, step: int):
        """Positions, losses and gradient norms of every racer after ``step``."""
        if step == 0:
            return self._initial
        for c in self._chunks:
            j = step - c.first - 1
            if 0 <= j < c.positions.shape[1]:
                return c.positions[:, j], c.losses[:, j], c.grad_norms[:, j]
        s = self.race.state_at(step)
        return s.X, s.F, np.hypot(s.G[:, 0], s.G[:, 1])

    def _tail(self, a: int, b: int) -> np.ndarray:
        """Positions for steps a+1 .. b, exact where buffered, else from the record."""
        if b <= a:
            return np.empty((len(self._idx), 0, 2))
        parts = []
        covered = a
        for c in self._chunks:
            lo, hi = c.first, c.first + c.positions.shape[1]
            if hi <= covered or lo >= b:
                continue
            if lo > covered:
                break
            parts.append(c.positions[:, covered - lo: min(hi, b) - lo])
            covered = min(hi, b)
        if covered == b:
            return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        i0, i1 = self.history.count_upto(a), self.history.count_upto(b - 1)
        heads = self._exact_at(b)[0][:, None, :]
        return np.concatenate([self.history["pos"][:, i0:i1], heads], axis=1)

    # -- inspection -------------------------------------------------------------------------------
    def explain(self, racer: int, step: int) -> O.Explanation | None:
        """The engine's account of enabled racer ``racer``'s next step from ``step``."""
        if self.race is None or not 0 <= racer < len(self._idx):
            return None
        return self.race.explain_step(racer, step)

    def racer_spec(self, racer: int) -> O.OptimizerSpec:
        return O.spec(self.model.scenario.racers[self._idx[racer]].optimizer)

    def model_index(self, racer: int) -> int:
        return self._idx[racer]
