"""The shell's shared pieces with a stand-in session: the playback clock, and the worker."""
from __future__ import annotations

import threading

import pytest

from app.shell.playback import HOLD_FRAMES, PlaybackController
from app.shell.worker import Worker


class CountingSession:
    """A run whose step k is just k, ending at ``end`` (as racers that all stop there)."""

    def __init__(self, end: int = 10**9):
        self.computed = 0
        self.end = end
        self.frames = []

    def compute(self, n: int) -> None:
        self.computed = min(self.computed + n, self.end)

    def done(self) -> bool:
        return self.computed >= self.end

    def end_step(self) -> int:
        return self.end

    def frame(self, step, prev):
        self.frames.append((step, prev))
        return type("F", (), {"step": step})()


def test_the_clock_plays_steps_per_frame_and_computes_ahead(qtbot):
    c = PlaybackController()
    s = CountingSession()
    c.set_session(s)
    assert s.frames == [(0, None)]
    c.steps_per_frame = 7
    for _ in range(3):
        c.tick()
    assert c.k == 21 and s.computed >= 21 and s.frames[-1] == (21, 14)
    c.step_by(-5)
    assert c.k == 16 and s.frames[-1] == (16, None)  # backwards is a jump: no continuous tail
    c.seek(10**12)
    assert c.k == s.computed
    c.play()
    qtbot.waitUntil(lambda: c.k > s.computed // 2 + 100, timeout=10_000)
    c.reset()
    assert not c.playing and c.k == 0


def test_a_finished_run_holds_its_last_frame_then_loops_or_stops(qtbot):
    c = PlaybackController()
    c.set_session(CountingSession(end=30))
    c.steps_per_frame = 10
    for _ in range(3):
        c.tick()
    assert c.k == 30 and c.all_done()
    c.loop = True
    held = 0
    while c.k == 30 and held <= HOLD_FRAMES:
        c.tick()
        held += 1
    assert c.k == 0 and held == HOLD_FRAMES  # looped, after the hold
    c.loop = False
    c.run_to(30)
    c.play()  # at the end, play starts again from 0
    assert c.k == 0
    ticks = 0
    while c.playing and ticks < 100:
        c.tick()
        ticks += 1
    assert not c.playing and c.k == 30 and ticks == 3 + HOLD_FRAMES


def test_computing_in_a_worker_keeps_the_clock_off_the_session(qtbot):
    c = PlaybackController()
    s = CountingSession()
    c.set_session(s)
    gate = threading.Event()
    real = s.compute
    s.compute = lambda n: (gate.wait(10), real(n))
    w = c.compute_in_worker(120_000)
    assert c.busy
    c.tick(), c.step_by(5), c.seek(3)
    assert c.k == 0 and s.frames[-1] == (0, None)  # nothing moved while busy
    gate.set()
    with qtbot.waitSignal(w.finished, timeout=10_000):
        pass
    assert not c.busy and c.k == 120_000 == s.computed


def test_worker_reports_progress_result_errors_and_cancel(qtbot):
    def task(job):
        for i in range(5):
            job.progress(i + 1, 5)
        return "done"

    w = Worker(task)
    seen = []
    w.progress.connect(lambda i, n: seen.append((i, n)))
    with qtbot.waitSignal(w.finished, timeout=5000) as blocker:
        w.start()
    assert blocker.args == ["done"] and seen[-1] == (5, 5) and not w.running

    def fails(job):
        raise ValueError("bad formula at 3")

    w = Worker(fails, errors=(ValueError,))
    with qtbot.waitSignal(w.failed, timeout=5000) as blocker:
        w.start()
    assert blocker.args == ["bad formula at 3"]

    started = threading.Event()

    def endless(job):
        started.set()
        while True:
            job.check()

    w = Worker(endless)
    w.start()
    assert started.wait(5)
    with qtbot.waitSignal(w.cancelled, timeout=5000):
        w.cancel()
    assert not w.running


@pytest.mark.parametrize("capacity", [3, 5])
def test_recorder_capacity_must_be_even(capacity):
    import numpy as np

    from app.shell.recorder import Recorder

    with pytest.raises(ValueError, match="even number"):
        Recorder({"loss": np.zeros(2)}, capacity)
