"""One status vocabulary for racers on a surface and networks in training: the integer codes
the kernels store, each with the words the app shows, and a racer's status at a step."""
from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple


class Status(IntEnum):
    """Where a racer or a network stands.

    The kernels store these values and numba freezes them into its cached machine code, which
    it does not recompile when this file changes: give a new member a new value, never
    renumber one.
    """

    RACING = 0, "racing", "racing", "still moving on the surface"
    FINISHED = 1, "finished", "finished", "reached a global minimum (within the stated tolerance)"
    CONVERGED = (2, "converged elsewhere", "converged",
                 "stopped at a point with zero gradient that is not a global minimum (a local minimum or a saddle)")
    ESCAPED = 3, "escaped", "escaped", "left the map far downhill (the surface has no minimum)"
    DIVERGED = 4, "diverged", "diverged", "its steps blew up to infinity or NaN (often a learning rate too large)"
    TRAINING = 5, "training", "training", "still training"
    STOPPED = (6, "stopped early", "stopped",
               "early stopping: the validation loss stopped improving (the network keeps its best weights)")

    label: str
    short: str
    tip: str

    def __new__(cls, value: int, label: str, short: str, tip: str):
        member = int.__new__(cls, value)
        member._value_ = value
        member.label = label  # what the app and the exports write
        member.short = short  # for narrow table cells
        member.tip = tip
        return member

    @property
    def moving(self) -> bool:
        """Still racing or training: the kernels step it."""
        return self in (Status.RACING, Status.TRAINING)


class Standing(NamedTuple):
    """A racer's or a network's status and the step it took effect at (0 while moving)."""

    kind: Status
    step: int

    def __str__(self) -> str:
        return self.kind.label if self.kind.moving else f"{self.kind.label} at {self.step}"
