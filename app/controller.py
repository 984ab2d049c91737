"""The controller: owns the clock (a QTimer), play/pause/step/seek/reset, the engine Race and
the playback buffers, and emits one Frame per tick.  Simulation and drawing rates are
separate: a tick plays ``steps_per_frame`` steps, computing ahead in chunks sized by time."""
from __future__ import annotations

import time
from collections import deque

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from engine import optimizers as O
from engine.race import Race

from .frames import RACING, Frame, History, Look
from .model import ScenarioModel

FRAME_MS = 16  # the clock: about 60 frames per second
COMPUTE_BUDGET_S = 0.010  # engine time allowed per tick, so a tick never blocks the GUI
AHEAD_FRAMES = 8  # compute this many frames ahead of playback when there is time
EXACT_WINDOW = 20000  # recent steps kept at full resolution (the history is thinned)
# Checkpoints of the optimizer states (a few kB each): with more of them, a jump back in a
# long race recomputes fewer steps (at 10^7 steps, ~2,500 instead of ~20,000).
MAX_CHECKPOINTS = 4096
HOLD_FRAMES = 45  # when everyone has stopped, the last frame stays this long before a loop


class RaceController(QObject):
    frame_ready = Signal(object)
    playing_changed = Signal(bool)
    race_rebuilt = Signal()
    message = Signal(str)

    def __init__(self, model: ScenarioModel, parent=None, history_capacity: int = 16384):
        super().__init__(parent)
        self.model = model
        self.history_capacity = history_capacity
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.tick)
        self.race: Race | None = None
        self.frame: Frame | None = None
        self.k = 0
        self.generation = 0
        self.ready = False
        self._rate = 2e5  # steps per second, measured as the race runs
        self._hold = 0
        model.race_changed.connect(self.rebuild)
        model.racers_changed.connect(self._restyle)

    # -- lifecycle ------------------------------------------------------------------------------
    def set_ready(self) -> None:
        """Called once the engine kernels are compiled (warm-up done): build the first race."""
        self.ready = True
        self.rebuild()

    def rebuild(self) -> None:
        """Build a fresh race from the scenario and go back to step 0 (keeps playing if it was)."""
        if not self.ready:
            return
        sc = self.model.scenario
        self.generation += 1
        self._idx = self.model.enabled_indices()
        self.race = sc.build_race(self.model.surface_spec(), max_checkpoints=MAX_CHECKPOINTS) if self._idx else None
        if self.race is not None:
            s0 = self.race.state_at(0)
            x0, f0, g0 = s0.X, s0.F, np.hypot(s0.G[:, 0], s0.G[:, 1])
        else:
            x0, f0, g0 = np.zeros((0, 2)), np.zeros(0), np.zeros(0)
        self._initial = (x0.copy(), f0.copy(), g0.copy())
        self.history = History(len(self._idx), x0, f0, g0, self.history_capacity)
        self._chunks: deque = deque()
        self._exact = 0
        self._status = np.zeros(len(self._idx), dtype=np.int64)
        self._status_step = np.zeros(len(self._idx), dtype=np.int64)
        self._surface = self.race.surface if self.race else self.model.bound_surface()
        self._looks = self._make_looks()
        self.k = 0
        self._hold = 0
        self.race_rebuilt.emit()
        self._emit(0, continuous=False)

    def _make_looks(self) -> tuple[Look, ...]:
        names = self.model.racer_names()
        markers = ("o", "s", "t", "d", "p", "h", "star", "t1", "+", "x")
        return tuple(Look(names[i], self.model.color_of(i), markers[i % len(markers)]) for i in self._idx)

    def _restyle(self) -> None:
        if self.ready and self.race is not None and len(self._idx) == len(self.model.enabled_indices()):
            self._looks = self._make_looks()

    # -- playback -------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def play(self) -> None:
        if not self.playing and self.race is not None:
            if self.all_done() and self.k >= self._end_step():
                self.seek(0)
            self.timer.start()
            self.playing_changed.emit(True)

    def pause(self) -> None:
        if self.playing:
            self.timer.stop()
            self.playing_changed.emit(False)

    def toggle(self) -> None:
        self.pause() if self.playing else self.play()

    def reset(self) -> None:
        self.pause()
        self.seek(0)

    def step_by(self, n: int) -> None:
        """Move n steps forward (computing them if needed) or back."""
        if self.race is None:
            return
        target = max(0, self.k + n)
        if target > self.race.t:
            self.compute(target - self.race.t, budget_s=None)
        self._show(min(target, self.race.t))

    def seek(self, step: int) -> None:
        """Jump to any computed step; the views redraw from the history."""
        if self.race is None:
            return
        step = int(min(max(step, 0), self.race.t))
        self._hold = 0
        self.k = step
        self._emit(step, continuous=False)

    def run_to(self, step: int) -> None:
        """Compute up to ``step`` now (the screenshot and tests), then show it."""
        if self.race is None:
            return
        if step > self.race.t:
            self.compute(step - self.race.t, budget_s=None)
        self._show(min(step, self.race.t))

    def tick(self) -> None:
        if self.race is None:
            return
        spf = self.model.scenario.view.steps_per_frame
        if self.all_done() and self.k >= self._end_step():
            self._hold += 1
            if self._hold < HOLD_FRAMES:
                return
            if self.model.scenario.view.loop:
                self.seek(0)
            else:
                self.pause()
            return
        target = self.k + spf
        want = target + AHEAD_FRAMES * spf - self.race.t
        if want > 0 and not self.all_done():
            self.compute(want, budget_s=COMPUTE_BUDGET_S)
        target = min(target, self.race.t)
        if self.all_done():
            target = min(target, self._end_step())
        self._show(target)

    def _show(self, step: int) -> None:
        continuous = step >= self.k
        self.k = step
        self._emit(step, continuous)

    # -- the engine -----------------------------------------------------------------------------
    def compute(self, n: int, budget_s: float | None) -> int:
        """Advance the race by up to n steps within the time budget (None: all of them)."""
        done = 0
        t0 = time.perf_counter()
        while done < n:
            if budget_s is None:
                piece = min(n - done, 50000)
            else:
                left = budget_s - (time.perf_counter() - t0)
                if left <= 0:
                    break
                piece = int(min(n - done, max(1, self._rate * left)))
            t1 = time.perf_counter()
            chunk = self.race.advance(piece)
            dt = time.perf_counter() - t1
            if dt > 0:
                self._rate = 0.7 * self._rate + 0.3 * max(piece / dt, 100.0)
            self._take(chunk)
            done += piece
            if self.all_done():
                break
        return done

    def _take(self, chunk) -> None:
        self.history.append(chunk.first, chunk.positions, chunk.losses, chunk.grad_norms)
        self._chunks.append(chunk)
        self._exact += chunk.positions.shape[1]
        while len(self._chunks) > 1 and self._exact - self._chunks[0].positions.shape[1] >= EXACT_WINDOW:
            old = self._chunks.popleft()
            self._exact -= old.positions.shape[1]
        self._status = chunk.status.copy()
        self._status_step = chunk.status_step.copy()

    def all_done(self) -> bool:
        return len(self._status) > 0 and bool(np.all(self._status != RACING))

    def _end_step(self) -> int:
        return int(self._status_step.max()) if len(self._status_step) else 0

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
        """Positions for steps a+1 .. b, exact where buffered, else from the history."""
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
        return np.concatenate([self.history.pos[:, i0:i1], heads], axis=1)

    def _emit(self, step: int, continuous: bool) -> None:
        if self.race is not None:
            heads, loss, grad = self._exact_at(step)
            prev = self.frame.step if (continuous and self.frame is not None
                                       and self.frame.generation == self.generation) else step
            tail = self._tail(prev, step) if continuous and self.frame is not None else None
            ended = (self._status != RACING) & (self._status_step <= step)
            status = np.where(ended, self._status, RACING)
            status_step = np.where(ended, self._status_step, 0)
        else:
            heads, loss, grad = self._initial
            prev, tail = step, None
            status = status_step = np.zeros(0, dtype=np.int64)
        self.frame = Frame(
            step=step, computed=self.race.t if self.race else 0, heads=np.asarray(heads), loss=np.asarray(loss),
            grad_norm=np.asarray(grad), status=status, status_step=status_step, looks=self._looks,
            surface=self._surface, start=self.model.scenario.start_point(), history=self.history,
            prev_step=prev, tail=tail, generation=self.generation,
        )
        self.frame_ready.emit(self.frame)

    # -- inspection -----------------------------------------------------------------------------
    def explain(self, racer: int) -> O.Explanation | None:
        """The engine's account of the next step of enabled racer ``racer`` from the current step."""
        if self.race is None or not 0 <= racer < len(self._idx):
            return None
        return self.race.explain_step(racer, self.k)

    def racer_spec(self, racer: int) -> O.OptimizerSpec:
        return O.spec(self.model.scenario.racers[self._idx[racer]].optimizer)

    def model_index(self, racer: int) -> int:
        return self._idx[racer]

    def shutdown(self) -> None:
        self.timer.stop()
