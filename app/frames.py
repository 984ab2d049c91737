"""What views draw: a Frame (the race at one step) and the bounded History of the steps
computed so far, thinned by powers of two so that a race of any length fits in memory."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.race import STATUS_NAMES
from engine.surfaces import BoundSurface

RACING = 0
STATUS_CODES = {name: code for code, name in STATUS_NAMES.items()}


class History:
    """Every ``stride``-th step of every racer (positions, losses, gradient norms).

    Holds at most ``capacity`` steps per racer: when full, every other entry is dropped and
    the stride doubles, so memory is bounded however long the race runs and older steps stay
    evenly spread.  Exact values at any step come from the engine's checkpoints instead.
    """

    def __init__(self, n_racers: int, x0: np.ndarray, f0: np.ndarray, g0: np.ndarray, capacity: int = 16384):
        if capacity < 4 or capacity % 2:
            raise ValueError(f"history capacity must be an even number >= 4, got {capacity}")
        self.capacity = capacity
        self.stride = 1
        self.n = 1
        self.steps = np.zeros(capacity + 1, dtype=np.int64)
        self.pos = np.empty((n_racers, capacity + 1, 2))
        self.loss = np.empty((n_racers, capacity + 1))
        self.grad = np.empty((n_racers, capacity + 1))
        self.pos[:, 0] = x0
        self.loss[:, 0] = f0
        self.grad[:, 0] = g0
        self.last = 0  # the last step appended (whether kept or not)

    @property
    def n_racers(self) -> int:
        return self.pos.shape[0]

    def append(self, first: int, positions: np.ndarray, losses: np.ndarray, grads: np.ndarray) -> None:
        """Add steps first+1 .. first+k (arrays (R, k, 2) and (R, k))."""
        k = positions.shape[1]
        if first != self.last:
            raise ValueError(f"history: chunk starts after step {first}, expected {self.last}")
        steps = np.arange(first + 1, first + k + 1)
        while True:
            keep = np.flatnonzero(steps % self.stride == 0)
            if self.n + keep.size <= self.capacity:
                break
            self._thin()
        m = keep.size
        sl = slice(self.n, self.n + m)
        self.steps[sl] = steps[keep]
        self.pos[:, sl] = positions[:, keep]
        self.loss[:, sl] = losses[:, keep]
        self.grad[:, sl] = grads[:, keep]
        self.n += m
        self.last = first + k

    def _thin(self) -> None:
        keep = np.flatnonzero(self.steps[: self.n] % (2 * self.stride) == 0)
        m = keep.size
        self.steps[:m] = self.steps[keep]
        self.pos[:, :m] = self.pos[:, keep]
        self.loss[:, :m] = self.loss[:, keep]
        self.grad[:, :m] = self.grad[:, keep]
        self.n = m
        self.stride *= 2

    def count_upto(self, step: int) -> int:
        """How many stored entries have a step <= ``step``."""
        return int(np.searchsorted(self.steps[: self.n], step, side="right"))

    def index_of(self, step: int) -> int | None:
        i = self.count_upto(step) - 1
        return i if i >= 0 and self.steps[i] == step else None

    def series(self, upto: int, max_points: int = 2048) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Steps, losses (R, m) and gradient norms (R, m) up to ``upto``, at most ~max_points."""
        n = self.count_upto(upto)
        every = max(1, -(-n // max_points))
        idx = np.arange(0, n, every)
        return self.steps[idx], self.loss[:, idx], self.grad[:, idx]

    def nbytes(self) -> int:
        return self.steps.nbytes + self.pos.nbytes + self.loss.nbytes + self.grad.nbytes


@dataclass(frozen=True)
class Look:
    """How one racer is drawn."""

    name: str
    color: str
    marker: str


@dataclass(frozen=True)
class Frame:
    """The race as it stands after ``step``, for every enabled racer."""

    step: int
    computed: int  # steps the engine has computed (the end of the timeline)
    heads: np.ndarray  # (R, 2) exact positions after ``step``
    loss: np.ndarray  # (R,)
    grad_norm: np.ndarray  # (R,)
    status: np.ndarray  # (R,) status codes as of ``step``
    status_step: np.ndarray  # (R,) step of that status (0 while racing)
    looks: tuple[Look, ...]
    surface: BoundSurface
    start: tuple[float, float]
    history: History
    # Exact positions for steps prev_step+1 .. step (R, m, 2) when the frame follows on from
    # the previous one; None after a jump (views then redraw from the history).
    prev_step: int
    tail: np.ndarray | None
    generation: int  # changes whenever the race is rebuilt

    @property
    def n_racers(self) -> int:
        return len(self.looks)

    def status_text(self, r: int) -> str:
        code = int(self.status[r])
        name = STATUS_NAMES[code]
        return name if code == RACING else f"{name} at {int(self.status_step[r])}"
