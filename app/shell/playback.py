"""Playback shared by every mode: the clock, play/pause/step/seek/reset, the speed, and the
compute budget per tick, over a small ``Session`` protocol.  The surface race and the network
lab differ in what a step computes, not in how the clock runs."""
from __future__ import annotations

import time
from typing import Protocol

from PySide6.QtCore import QObject, QTimer, Signal

from .worker import Worker

FRAME_MS = 16  # the clock: about 60 frames per second
COMPUTE_BUDGET_S = 0.010  # engine time allowed per tick, so a tick never blocks the GUI
AHEAD_FRAMES = 8  # compute this many frames ahead of playback when there is time
HOLD_FRAMES = 45  # when everyone has stopped, the last frame stays this long before a loop
PIECE_MAX = 50_000  # steps per compute call when there is no budget (a worker, a screenshot)


class Session(Protocol):
    """What a mode's run offers playback."""

    @property
    def computed(self) -> int:
        """Steps computed so far (the end of the timeline)."""

    def compute(self, n: int) -> None:
        """Compute n more steps now."""

    def done(self) -> bool:
        """Nothing more to compute: every racer has stopped."""

    def end_step(self) -> int:
        """Once done, the last step worth showing."""

    def frame(self, step: int, prev: int | None) -> object:
        """What the views draw at ``step`` (0 <= step <= computed); ``prev`` is the step shown
        before when playback moved on continuously from it, None after a jump."""

    # Optional: ``frame_ms``, the clock's period for this session (default FRAME_MS): a session
    # whose frames are dear to draw caps the frame rate to leave the cores to its computing.


class PlaybackController(QObject):
    frame_ready = Signal(object)
    playing_changed = Signal(bool)
    session_changed = Signal()
    stopped_at_pause = Signal(int)  # playback stopped at one of ``pause_steps``

    def __init__(self, parent=None):
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setInterval(FRAME_MS)
        self.timer.timeout.connect(self.tick)
        self.session: Session | None = None
        self.frame = None
        self.k = 0
        self.steps_per_frame = 5
        self.loop = False
        # Steps where playing stops (a lesson's pauses), sorted: exactly there, whatever the
        # steps per frame.
        self.pause_steps: tuple[int, ...] = ()
        self.busy = False  # a worker is computing: the session is not to be read or advanced
        self._rate = 2e5  # steps per second, measured as the session runs
        self._hold = 0

    def set_session(self, session: Session | None) -> None:
        """Show a new run from step 0 (keeps playing if it was)."""
        self.session = session
        self.timer.setInterval(getattr(session, "frame_ms", FRAME_MS))
        self.frame = None
        self.k = 0
        self._hold = 0
        self._rate = 2e5
        self.session_changed.emit()
        self._emit(0, continuous=False)

    # -- playback -------------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def play(self) -> None:
        if not self.playing and self.session is not None and not self.busy:
            if self.all_done() and self.k >= self.session.end_step():
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
        if self.session is None or self.busy:
            return
        target = max(0, self.k + n)
        if target > self.session.computed:
            self.compute(target - self.session.computed, budget_s=None)
        self._show(min(target, self.session.computed))

    def seek(self, step: int) -> None:
        """Jump to any computed step; the views redraw from the session's record."""
        if self.session is None or self.busy:
            return
        self._hold = 0
        self.k = int(min(max(step, 0), self.session.computed))
        self._emit(self.k, continuous=False)

    def run_to(self, step: int) -> None:
        """Compute up to ``step`` now (screenshots, tests and exports), then show it."""
        if self.session is None or self.busy:
            return
        if step > self.session.computed:
            self.compute(step - self.session.computed, budget_s=None)
        self._show(min(step, self.session.computed))

    def tick(self) -> None:
        s = self.session
        if s is None or self.busy:
            return
        spf = self.steps_per_frame
        if self.all_done() and self.k >= s.end_step():
            self._hold += 1
            if self._hold < HOLD_FRAMES:
                return
            self.seek(0) if self.loop else self.pause()
            return
        target = self.k + spf
        want = target + AHEAD_FRAMES * spf - s.computed
        if want > 0 and not self.all_done():
            self.compute(want, budget_s=COMPUTE_BUDGET_S)
        stop = next((p for p in self.pause_steps if self.k < p <= target), None)
        target = min(target if stop is None else stop, s.computed)
        if self.all_done():
            target = min(target, s.end_step())
        self._show(target)
        if target == stop:
            self.pause()
            self.stopped_at_pause.emit(stop)

    def all_done(self) -> bool:
        return self.session is not None and self.session.done()

    def _show(self, step: int) -> None:
        continuous = step >= self.k
        self.k = step
        self._emit(step, continuous)

    def _emit(self, step: int, continuous: bool) -> None:
        if self.session is None:
            self.frame = None
            return
        prev = self.frame.step if (continuous and self.frame is not None) else None
        self.frame = self.session.frame(step, prev)
        self.frame_ready.emit(self.frame)

    # -- computing ------------------------------------------------------------------------------
    def compute(self, n: int, budget_s: float | None, job=None) -> int:
        """Advance the session by up to n steps within the time budget (None: all of them, or
        until ``job`` is cancelled); returns the steps computed."""
        s = self.session
        done = 0
        t0 = time.perf_counter()
        while done < n and not s.done():
            if budget_s is None:
                piece = min(n - done, PIECE_MAX)
            else:
                left = budget_s - (time.perf_counter() - t0)
                if left <= 0:
                    break
                piece = int(min(n - done, max(1, self._rate * left)))
            t1 = time.perf_counter()
            s.compute(piece)
            dt = time.perf_counter() - t1
            if dt > 0:
                self._rate = 0.7 * self._rate + 0.3 * max(piece / dt, 100.0)
            done += piece
            if job is not None:
                job.progress(done, n)
                if job.cancelled:
                    break
        return done

    def compute_in_worker(self, step: int, parent=None) -> Worker | None:
        """Compute up to ``step`` off the GUI thread (the clock pauses and nothing reads the
        session meanwhile); shows the step reached when the worker ends, cancelled or not."""
        if self.session is None or self.busy:
            return None
        self.pause()
        todo = step - self.session.computed
        if todo <= 0:
            self.seek(step)
            return None
        self.busy = True
        worker = Worker(lambda job: self.compute(todo, None, job), "compute-ahead", parent)

        def ended(*_):
            self.busy = False
            self.seek(min(step, self.session.computed))

        for sig in (worker.finished, worker.failed, worker.cancelled):
            sig.connect(ended)
        return worker.start()

    def shutdown(self) -> None:
        self.timer.stop()
