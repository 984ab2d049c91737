"""A lab frame as the plain data the shared leaderboard and curve plots take (the window and
the video export show the same numbers)."""
from __future__ import annotations

import numpy as np

from engine.race.status import Status

from ...views.curves import CurvePlot
from ...views.leaderboard import Leaderboard
from .session import CHECK_EVERY, LabFrame

MAX_POINTS = 400  # per curve: a plot needs no more to read


def show_board(board: Leaderboard, f: LabFrame) -> None:
    step = np.where(f.status_step > 0, f.status_step, f.step)
    board.set_rows(f.looks, np.column_stack([step, f.val_loss, f.val_acc]), f.status, f.status_step)  # COLUMNS' order


def show_curves(plots: list[tuple[CurvePlot, str]], f: LabFrame) -> None:
    """Each plot's series: ``"loss"`` (mini-batch, per step) or a check's series (val_loss, val_acc)."""
    for plot, series in plots:
        if series == "loss":
            x, y = f.history.sample(f.step, ("loss",), MAX_POINTS)
        else:
            x, y = f.checks.sample(f.step // CHECK_EVERY, (series,), MAX_POINTS)
            x = x * CHECK_EVERY
        plot.set_looks(f.looks)
        plot.set_cursor(f.step, max(f.step, f.computed))
        plot.set_series(x, y)
        plot.set_events([(int(f.status_step[r]), Status(int(f.status[r])).short, f.looks[r].color)
                         for r in range(f.n_racers) if f.status[r] != Status.TRAINING])
