"""What the surface race's views draw: a Frame, the race at one step, with the record of the
steps computed so far (positions, losses and gradient norms)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.surfaces.catalog import BoundSurface

from ...shell.recorder import Recorder
from ...views.look import Look


@dataclass(frozen=True)
class Frame:
    """The race as it stands after ``step``, for every enabled racer."""

    step: int
    computed: int  # steps the engine has computed (the end of the timeline)
    heads: np.ndarray  # (R, 2) exact positions after ``step``
    loss: np.ndarray  # (R,)
    grad_norm: np.ndarray  # (R,)
    status: np.ndarray  # (R,) Status codes as of ``step``
    status_step: np.ndarray  # (R,) step of that status (0 while racing)
    looks: tuple[Look, ...]
    surface: BoundSurface
    start: tuple[float, float]
    history: Recorder  # series pos (R, 2), loss, grad
    # Exact positions for steps prev_step+1 .. step (R, m, 2) when the frame follows on from
    # the previous one; None after a jump (views then redraw from the history).
    prev_step: int
    tail: np.ndarray | None
    generation: int  # changes whenever the race is rebuilt
    waiting: bool = False  # the racers at the start while the engine is prepared (no race yet)

    @property
    def n_racers(self) -> int:
        return len(self.looks)
