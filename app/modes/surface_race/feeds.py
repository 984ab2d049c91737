"""The surface race's frames as the shared views' plain inputs: the leaderboard's columns and
rows, and the loss and gradient-norm series of the curve plots."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from engine.race.status import Status

from ...views.curves import CurvePlot
from ...views.leaderboard import Column, Leaderboard, count, number
from ...views.surface_image import display_loss
from .frames import Frame

MAX_POINTS = 400  # points per curve: about one per two pixels of a side panel

LOSS = Column("f − f*", number, "1.23e-04", sort=lambda v: v, tip="Loss above the global minimum")
COLUMNS = (
    LOSS,
    Column("to min", number, "0.00123", essential=False, tip="Distance to the nearest global minimum"),
    Column("step", count, "1,000,000", essential=False,
           tip="The step reached while racing, else the step at which the racer stopped"),
)
# On a surface unbounded below the loss itself (there is no f*).
COLUMNS_UNBOUNDED = (replace(LOSS, header="f", tip="The loss"), *COLUMNS[1:])


def show_board(board: Leaderboard, frame: Frame) -> None:
    s = frame.surface
    board.set_columns(COLUMNS if s.bounded_below else COLUMNS_UNBOUNDED)
    loss = frame.loss - s.f_min if s.bounded_below else frame.loss
    if len(s.minima) and frame.n_racers:
        dist = np.min(np.hypot(frame.heads[:, None, 0] - s.minima[None, :, 0],
                               frame.heads[:, None, 1] - s.minima[None, :, 1]), axis=1)
    else:
        dist = np.full(frame.n_racers, np.nan)
    step = np.where(frame.status == Status.RACING, frame.step, frame.status_step)
    board.set_rows(frame.looks, np.column_stack([loss, dist, step]), frame.status, frame.status_step, frame.waiting)


class CurveFeed:
    """Feeds one curve plot: ``"loss"`` (f − f* on a log axis, f on a symmetric log one where
    the surface is unbounded) or ``"grad"`` (|g|).  Curves come from the decimated record,
    so their cost is bounded, and are sampled again only when the race or the step changed."""

    def __init__(self, plot: CurvePlot, kind: str):
        if kind not in ("loss", "grad"):
            raise ValueError(f"curve kind must be 'loss' or 'grad', got {kind!r}")
        self.plot = plot
        self.kind = kind
        self._shown = None  # (generation, step) of the series shown

    def show(self, frame: Frame) -> None:
        p, s = self.plot, frame.surface
        if self.kind == "grad":
            p.set_axis("|gradient|  (log)", "Norm of the true gradient (before noise and clipping), log scale", "log")
        elif s.bounded_below:
            p.set_axis("f − f*  (log)", "Loss above the global minimum, f − f*, on a log scale", "log")
        else:
            p.set_axis("f  (sym. log)", "f on a symmetric log scale, sign(f)·log10(1 + |f|): "
                       "the surface is unbounded below", "symlog")
        restyled = frame.looks != p.looks
        p.set_looks(frame.looks)
        # The step axis spans the race computed so far (all of it when scrubbing back in a
        # race that is over).
        p.set_cursor(frame.step, max(frame.step, frame.computed))
        key = (frame.generation, frame.step)
        if key == self._shown and not restyled:
            return
        self._shown = key
        steps, loss, grad = frame.history.sample(frame.step, ("loss", "grad"), MAX_POINTS)
        x = np.append(steps, frame.step)
        if self.kind == "loss":
            y = display_loss(s, np.column_stack([loss, frame.loss]))
        else:
            y = np.column_stack([grad, frame.grad_norm])
        p.set_series(x, y)
