"""Learning-rate schedules as declarative specs (parameters, formula, torch counterpart, notes);
a :class:`Schedule` is one racer's choice, packed into the row the kernels read."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import step_kernels as SK
from ..optim.specs import ChoiceSpec, Hyper, pack
from ..optim.registry import Registry

_T_NOTE = ("t counts steps from 1; torch's scheduler counts the optimizer.step() calls before it, "
           "so step t runs with torch's lr after t - 1 scheduler.step() calls.")

_KINDS = (
    ChoiceSpec(
        "constant", "Constant", SK.CONSTANT, (),
        caption="The learning rate stays where its slider puts it.",
        formula="lr_t = lr",
        torch="no scheduler",
    ),
    ChoiceSpec(
        "step", "Step decay", SK.STEP,
        (Hyper("gamma", 0.5, 1e-4, 1.0, help="multiplier at every drop (StepLR's gamma)"),
         Hyper("every", 100.0, 1.0, 1e6, log=True, help="steps between drops (StepLR's step_size)")),
        caption="Drop the learning rate by a factor at fixed intervals: fast progress first, then "
                "smaller steps to settle into the minimum.",
        formula="lr_t = lr * gamma ^ floor((t - 1) / every)",
        torch="torch.optim.lr_scheduler.StepLR(step_size=every, gamma=gamma)",
        citation="He et al. 2016, Deep residual learning (lr / 10 at fixed epochs)",
        notes=_T_NOTE + " torch's step_size is an integer; here every may be fractional.",
    ),
    ChoiceSpec(
        "exponential", "Exponential decay", SK.EXPONENTIAL,
        (Hyper("gamma", 0.99, 1e-4, 1.0, help="multiplier at every step (ExponentialLR's gamma)"),),
        caption="Multiply the learning rate by gamma at every step: a smooth decay.",
        formula="lr_t = lr * gamma ^ (t - 1)",
        torch="torch.optim.lr_scheduler.ExponentialLR(gamma=gamma)",
        notes=_T_NOTE,
    ),
    ChoiceSpec(
        "cosine", "Cosine annealing", SK.COSINE,
        (Hyper("every", 100.0, 1.0, 1e6, log=True, help="steps from lr down to floor x lr (CosineAnnealingLR's T_max)"),
         Hyper("floor", 0.0, 0.0, 1.0, help="final factor: the schedule ends at floor x lr (eta_min / lr)")),
        caption="Half a cosine from lr down to floor x lr: slow at both ends, fastest in the middle.",
        formula="lr_t = lr * (floor + (1 - floor) * (1 + cos(pi * min(t - 1, every) / every)) / 2)",
        torch="torch.optim.lr_scheduler.CosineAnnealingLR(T_max=every, eta_min=floor * lr)",
        citation="Loshchilov & Hutter 2017, SGDR: stochastic gradient descent with warm restarts",
        notes=_T_NOTE + " After every steps this schedule holds the floor; torch's CosineAnnealingLR "
                        "goes on along the cosine and rises back to lr over the next every steps "
                        "(SGDR's restarts are torch's CosineAnnealingWarmRestarts).",
    ),
)
SCHEDULES = Registry("schedule", _KINDS)

# Warm-up multiplies whatever kind is chosen, so it is a parameter of every schedule.
WARMUP = ChoiceSpec(
    "warmup", "Linear warm-up", SK.SCHED_WARMUP,
    (Hyper("warmup", 0.0, 0.0, 10000.0, help="steps of linear warm-up from lr / warmup to lr (0: none)"),),
    caption="Start small and grow linearly: early steps, taken with poor adaptive statistics or "
            "far from any minimum, cannot throw the parameters away.",
    formula="lr_t *= t / warmup for t <= warmup",
    torch="torch.optim.lr_scheduler.LinearLR(start_factor=1 / warmup, end_factor=1, total_iters=warmup - 1), "
          "chained with the kind's scheduler (torch.optim.lr_scheduler.ChainedScheduler)",
    citation="Goyal et al. 2017, Accurate, large minibatch SGD: training ImageNet in 1 hour",
    notes=_T_NOTE + " The first step runs at lr / warmup, step warmup at lr. Chained with StepLR or "
                    "ExponentialLR, torch gives the same product; torch's chainable CosineAnnealingLR "
                    "adds eta_min rather than multiplying, so cosine with warm-up has no chained torch "
                    "form (LambdaLR with this formula is its counterpart).",
)


@dataclass(frozen=True)
class Schedule:
    """One racer's learning-rate schedule: a kind of :data:`SCHEDULES`, values of its
    parameters (None: the kind's default; a field the kind has no parameter for is ignored)
    and the warm-up steps."""

    kind: str = "constant"
    gamma: float | None = None
    every: float | None = None
    floor: float | None = None
    warmup: int = 0

    @property
    def spec(self) -> ChoiceSpec:
        return SCHEDULES.get(self.kind)

    def _given(self, params: tuple[Hyper, ...]) -> dict[str, float]:
        return {h.name: getattr(self, h.name) for h in params if getattr(self, h.name) is not None}

    def array(self) -> np.ndarray:
        """The kernel's row (kind, warm-up, parameters...), validated against the spec."""
        spec = self.spec
        p = pack(spec.params, self._given(spec.params), f"schedule {spec.id}")
        w = pack(WARMUP.params, self._given(WARMUP.params), "schedule")
        row = np.zeros(SK.SCHED_COLS)
        row[SK.SCHED_KIND] = spec.code
        row[SK.SCHED_WARMUP] = w[0]
        row[SK.SCHED_P0:SK.SCHED_P0 + p.size] = p
        return row
