"""One racer type for the surface race and the network race (an optimizer with its settings,
schedule, clipping and label), and the packing of racers into the arrays the kernels read."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from ..optim import optimizers as O
from . import step_kernels as SK
from .gradients import Clip
from .schedules import Schedule


@dataclass(frozen=True)
class Racer:
    optimizer: str
    hyper: Mapping[str, object] = field(default_factory=dict)
    schedule: Schedule = Schedule()
    clip: Clip = Clip()
    label: str = ""

    @property
    def spec(self) -> O.OptimizerSpec:
        return O.spec(self.optimizer)

    @property
    def name(self) -> str:
        return self.label or self.spec.name


def as_racer(r: "Racer | str | tuple") -> Racer:
    """A Racer from a Racer, an optimizer id, or a tuple (id, hyper) followed by any of a
    Schedule, a Clip and a label, in any order."""
    if isinstance(r, Racer):
        return r
    if isinstance(r, str):
        return Racer(r)
    if not isinstance(r, (tuple, list)) or not r or not isinstance(r[0], str):
        raise ValueError(f"a racer is an optimizer id, a tuple (id, hyper, ...) or a Racer, got {r!r}")
    extra = {}
    for item in r[2:]:
        key = {Schedule: "schedule", Clip: "clip", str: "label"}.get(type(item))
        if key is None or key in extra:
            raise ValueError(f"racer {r!r}: after (id, hyper) come at most one Schedule, one Clip and one label")
        extra[key] = item
    return Racer(r[0], dict(r[1]) if len(r) > 1 else {}, **extra)


@dataclass(frozen=True)
class Packed:
    """R racers as kernel arguments: one row per racer."""

    family: np.ndarray  # (R,) optimizer family codes
    hyper: np.ndarray  # (R, MAX_HYPER) hyperparameters as each spec packs them
    sched: np.ndarray  # (R, SCHED_COLS) learning-rate schedules
    clip: np.ndarray  # (R, CLIP_COLS) gradient clipping
    state: np.ndarray  # (R, MAX_SLOTS, n) fresh optimizer state for n parameters


def pack_racers(racers: Sequence[Racer], n: int) -> Packed:
    """Validate every racer's settings and pack them; an error names the racer."""
    R = len(racers)
    out = Packed(np.empty(R, dtype=np.int64), np.zeros((R, O.MAX_HYPER)), np.zeros((R, SK.SCHED_COLS)),
                 np.zeros((R, SK.CLIP_COLS)), np.zeros((R, O.MAX_SLOTS, n)))
    for i, r in enumerate(racers):
        spec = r.spec
        try:
            h = spec.pack(r.hyper)
            s = spec.init(n, r.hyper)
            out.sched[i] = r.schedule.array()
            out.clip[i] = r.clip.array()
        except ValueError as e:
            raise ValueError(f"racer {i} ({r.name}): {e}") from None
        out.family[i] = spec.family
        out.hyper[i, : h.size] = h
        out.state[i, : s.shape[0]] = s
    return out
