"""The race: R optimizers from one start on one surface.  ``Race`` is the long-lived object
the GUI drives chunk by chunk; ``run_race`` is the one-call convenience over it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from . import optimizers as O
from . import race_kernels as K
from . import surfaces as S

STATUS_NAMES = {K.RACING: "racing", K.FINISHED: "finished", K.CONVERGED: "converged elsewhere",
                K.ESCAPED: "escaped", K.DIVERGED: "diverged"}
SCHEDULES = {"constant": K.CONSTANT, "step": K.STEP, "exponential": K.EXPONENTIAL, "cosine": K.COSINE}
CLIPS = {"none": K.NO_CLIP, "norm": K.CLIP_NORM, "value": K.CLIP_VALUE}

# Stated tolerances: a racer has finished when it is within FINISH_TOL x (the larger side of
# the plotting domain) of a global minimum, and converged elsewhere when the true gradient
# norm falls to CONVERGE_TOL away from one.  It has escaped when it leaves the domain
# enlarged by ESCAPE_MARGIN domain widths on every side (only on surfaces unbounded below).
FINISH_TOL = 1e-3
CONVERGE_TOL = 1e-8
ESCAPE_MARGIN = 5.0
# Racers beyond this count are stepped on all cores.
PARALLEL_RACERS = 256


@dataclass(frozen=True)
class Schedule:
    """Learning-rate schedule: lr_t = lr * factor(t) (t is 1-based).

    step: factor = gamma ** floor((t-1) / every); exponential: gamma ** (t-1);
    cosine: from 1 down to ``floor`` over ``every`` steps; warmup multiplies by t / warmup
    for the first ``warmup`` steps, on top of any kind.
    """

    kind: str = "constant"
    gamma: float = 0.5
    every: float = 100.0
    floor: float = 0.0
    warmup: int = 0

    def array(self) -> np.ndarray:
        if self.kind not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.kind!r}; known: {', '.join(SCHEDULES)}")
        if self.warmup < 0 or self.every <= 0:
            raise ValueError("schedule: warmup must be >= 0 and every > 0")
        a = self.floor if self.kind == "cosine" else self.gamma
        return np.array([SCHEDULES[self.kind], a, self.every, self.warmup], dtype=np.float64)


@dataclass(frozen=True)
class Clip:
    """Gradient clipping applied to the (noisy) gradient before the optimizer sees it."""

    mode: str = "none"
    threshold: float = 1.0

    def array(self) -> np.ndarray:
        if self.mode not in CLIPS:
            raise ValueError(f"unknown clipping {self.mode!r}; known: {', '.join(CLIPS)}")
        if self.mode != "none" and not self.threshold > 0:
            raise ValueError(f"clipping threshold must be > 0, got {self.threshold}")
        return np.array([CLIPS[self.mode], self.threshold], dtype=np.float64)


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
    if isinstance(r, Racer):
        return r
    if isinstance(r, str):
        return Racer(r)
    return Racer(*r)


@dataclass(frozen=True)
class Status:
    kind: str  # one of STATUS_NAMES' values
    step: int  # the step it happened at (0 while racing)

    def __str__(self) -> str:
        return self.kind if self.kind == "racing" else f"{self.kind} at {self.step}"


@dataclass
class Snapshot:
    """Everything that determines the race's future from step ``t`` on."""

    t: int
    X: np.ndarray
    G: np.ndarray
    F: np.ndarray
    state: np.ndarray
    status: np.ndarray
    status_step: np.ndarray

    def copy(self) -> "Snapshot":
        return Snapshot(self.t, self.X.copy(), self.G.copy(), self.F.copy(), self.state.copy(),
                        self.status.copy(), self.status_step.copy())


@dataclass(frozen=True)
class Chunk:
    """Steps first+1 .. first+k as computed by :meth:`Race.advance`."""

    first: int
    positions: np.ndarray  # (R, k, 2)
    losses: np.ndarray  # (R, k)
    grad_norms: np.ndarray  # (R, k)
    status: np.ndarray  # (R,) codes after the chunk
    status_step: np.ndarray  # (R,)


class Race:
    """A race that can run for as long as a class watches.

    ``advance(k)`` computes k more steps and returns them; nothing else is kept but the
    current snapshot and checkpoints every ``checkpoint_every`` steps, thinned to at most
    ``max_checkpoints`` (memory stays bounded however long it runs).  ``state_at(k)``
    recomputes any earlier step exactly from the nearest checkpoint: the engine is
    deterministic and its gradient noise is keyed by (seed, step).
    """

    def __init__(self, surface, start: Sequence[float], racers: Sequence, *, noise: float = 0.0,
                 seed: int = 0, surface_params: Mapping[str, object] | None = None,
                 checkpoint_every: int = 1000, max_checkpoints: int = 512):
        self.surface = S.bind(surface, surface_params)
        self.racers = [as_racer(r) for r in racers]
        if not self.racers:
            raise ValueError("a race needs at least one racer")
        if not (noise >= 0 and np.isfinite(noise)):
            raise ValueError(f"noise must be a finite number >= 0, got {noise}")
        if checkpoint_every < 1 or max_checkpoints < 2:
            raise ValueError("checkpoint_every must be >= 1 and max_checkpoints >= 2")
        start = np.asarray(start, dtype=np.float64)
        if start.shape != (2,) or not np.all(np.isfinite(start)):
            raise ValueError(f"start must be a finite point (x, y), got {start!r}")
        self.start = start
        self.noise = float(noise)
        self.seed = int(seed) & 0xFFFFFFFFFFFF
        R = len(self.racers)
        self.family = np.array([r.spec.family for r in self.racers], dtype=np.int64)
        self.hyper = np.zeros((R, O.MAX_HYPER))
        for i, r in enumerate(self.racers):
            h = r.spec.pack(r.hyper)
            self.hyper[i, : h.size] = h
        self.sched = np.array([r.schedule.array() for r in self.racers])
        self.clip = np.array([r.clip.array() for r in self.racers])
        state = np.zeros((R, O.MAX_SLOTS, 2))
        for i, r in enumerate(self.racers):
            s = r.spec.init(2, r.hyper)
            state[i, : s.shape[0]] = s
        (x0, x1), (y0, y1) = self.surface.spec.domain
        span = max(x1 - x0, y1 - y0)
        self.finish_tol = FINISH_TOL * span
        self.converge_tol = CONVERGE_TOL
        if self.surface.bounded_below:
            self.box = np.array([-np.inf, np.inf, -np.inf, np.inf])
        else:
            m = ESCAPE_MARGIN * span
            self.box = np.array([x0 - m, x1 + m, y0 - m, y1 + m])
        G = np.zeros((R, 2))
        F = np.zeros(R)
        for i in range(R):
            G[i] = self.surface.gradient(*start)
            F[i] = self.surface.value(*start)
        status = np.zeros(R, dtype=np.int64)
        if not (np.isfinite(F[0]) and np.all(np.isfinite(G[0]))):
            status[:] = K.DIVERGED  # a start on a singular point never moves
        self._now = Snapshot(0, np.tile(start, (R, 1)), G, F, state, status, np.zeros(R, dtype=np.int64))
        self.checkpoint_every = int(checkpoint_every)
        self.max_checkpoints = int(max_checkpoints)
        self._checkpoints: list[Snapshot] = [self._now.copy()]

    # -- running ---------------------------------------------------------------------------
    @property
    def t(self) -> int:
        """Steps computed so far."""
        return self._now.t

    def _run(self, snap: Snapshot, k: int, record: bool):
        R = len(self.racers)
        shape = (R, k) if record else (R, 0)
        pos = np.empty(shape + (2,))
        loss = np.empty(shape)
        gn = np.empty(shape)
        # A formula surface (engine.formula) brings its own copy of the race kernels.
        Km = self.surface.kernels or K
        fn = Km.advance_parallel if R >= PARALLEL_RACERS else Km.advance
        fn(self.surface.code, self.surface.params, self.family, self.hyper, self.sched, self.clip,
           self.noise, self.seed, snap.X, snap.G, snap.F, snap.state, snap.t, k, snap.status,
           snap.status_step, self.surface.minima, self.finish_tol, self.converge_tol, self.box,
           record, pos, loss, gn)
        snap.t += k
        return pos, loss, gn

    def advance(self, k: int) -> Chunk:
        """Compute k more steps; returns them as a :class:`Chunk`."""
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        first = self.t
        parts = []
        done = 0
        while done < k:
            # Stop at every checkpoint boundary so that checkpoints land on exact multiples.
            n = min(k - done, self.checkpoint_every - self.t % self.checkpoint_every)
            parts.append(self._run(self._now, n, True))
            done += n
            if self.t % self.checkpoint_every == 0:
                self._add_checkpoint()
        if parts:
            pos, loss, gn = (np.concatenate([p[i] for p in parts], axis=1) for i in range(3))
        else:
            R = len(self.racers)
            pos, loss, gn = np.empty((R, 0, 2)), np.empty((R, 0)), np.empty((R, 0))
        return Chunk(first, pos, loss, gn, self._now.status.copy(), self._now.status_step.copy())

    def _add_checkpoint(self):
        self._checkpoints.append(self._now.copy())
        if len(self._checkpoints) > self.max_checkpoints:
            # Thin to every other one (keeping step 0): memory stays bounded, recomputation doubles.
            self._checkpoints = self._checkpoints[::2]
            self.checkpoint_every *= 2

    def state_at(self, k: int) -> Snapshot:
        """The exact snapshot after step k (0 <= k <= t), recomputed from a checkpoint."""
        if not 0 <= k <= self.t:
            raise ValueError(f"step {k} is outside the computed range 0..{self.t}")
        if k == self.t:
            return self._now.copy()
        base = max((c for c in self._checkpoints if c.t <= k), key=lambda c: c.t)
        snap = base.copy()
        if k > snap.t:
            self._run(snap, k - snap.t, False)
        return snap

    # -- reading ---------------------------------------------------------------------------
    def status(self, snap: Snapshot | None = None) -> list[Status]:
        snap = snap or self._now
        return [Status(STATUS_NAMES[int(c)], int(s)) for c, s in zip(snap.status, snap.status_step)]

    def explain_step(self, r: int, k: int) -> dict:
        """What racer r did in step k+1: gradient seen, state before and after, the step.

        For the step inspector; computed in Python from the snapshot after step k, so it is
        the exact step the race takes (noise, clipping and schedule included).
        """
        snap = self.state_at(k)
        racer = self.racers[r]
        spec = racer.spec
        x = snap.X[r].copy()
        g = snap.G[r].copy()
        t = k + 1
        if self.noise > 0:
            g = g + self.noise * np.array([K.gauss(self.seed, t, 0), K.gauss(self.seed, t, 1)])
        g_clipped = g.copy()
        mode, thr = self.clip[r]
        if mode == K.CLIP_NORM and np.hypot(*g) > thr:
            g_clipped = g * (thr / np.hypot(*g))
        elif mode == K.CLIP_VALUE:
            g_clipped = np.clip(g, -thr, thr)
        nslots = max(len(spec.slots), 1)
        before = snap.state[r, :nslots].copy()
        after = before.copy()
        h = self.hyper[r].copy()
        h[0] *= K.lr_factor(self.sched[r], t)
        hess = self.surface.hessian(*x) if spec.needs_hessian else None
        new = O.update(racer.optimizer, x, g_clipped, after, t, h[: sum(p.size for p in spec.hyper)], hess)
        return {
            "racer": racer.name, "optimizer": spec.id, "t": t, "x": x, "gradient": g,
            "gradient_used": g_clipped, "lr": float(h[0]),
            "hyper": spec.unpack(h[: sum(p.size for p in spec.hyper)]),
            "state_before": dict(zip(spec.slots, before)), "state_after": dict(zip(spec.slots, after)),
            "step": new - x, "x_new": new, "status": self.status(snap)[r],
        }


@dataclass
class RaceResult:
    race: Race
    positions: np.ndarray  # (R, steps+1, 2)
    losses: np.ndarray  # (R, steps+1)
    grad_norms: np.ndarray  # (R, steps+1)

    @property
    def status(self) -> list[Status]:
        return self.race.status()

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.race.racers]

    def extend(self, steps: int) -> "RaceResult":
        """Append ``steps`` more steps, continuing from where the race stands."""
        c = self.race.advance(steps)
        self.positions = np.concatenate([self.positions, c.positions], axis=1)
        self.losses = np.concatenate([self.losses, c.losses], axis=1)
        self.grad_norms = np.concatenate([self.grad_norms, c.grad_norms], axis=1)
        return self


def run_race(surface, start, racers, steps, *, noise=0.0, seed=0, surface_params=None) -> RaceResult:
    """Race ``racers`` (ids, ``(id, hyper_dict)`` pairs or :class:`Racer`) for ``steps`` steps.

    Returns positions (R, steps+1, 2), losses and gradient norms (R, steps+1), each column
    0 being the start, and per racer a :class:`Status`.  Never raises on divergence.
    """
    race = Race(surface, start, racers, noise=noise, seed=seed, surface_params=surface_params)
    s0 = race.state_at(0)
    result = RaceResult(race, s0.X[:, None, :].copy(), s0.F[:, None].copy(),
                        np.hypot(s0.G[:, 0], s0.G[:, 1])[:, None])
    return result.extend(int(steps))
