"""The race: R optimizers from one start on one surface.  ``Race`` is the long-lived object
the GUI drives chunk by chunk; ``run_race`` is the one-call convenience over it."""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np

from ..optim import optimizers as O
from ..optim import kernels as OK
from . import kernels as K
from ..surfaces import catalog as S
from .status import Standing, Status
# Clip and Schedule are imported for callers too: a Racer is built from them.
from .gradients import Clip, check_noise  # noqa: F401
from .racer import Racer, as_racer, pack_racers  # noqa: F401  (Racer: for callers)
from .schedules import Schedule  # noqa: F401

# Stated tolerances: a racer has finished when it is within FINISH_TOL x (the larger side of
# the plotting domain) of a global minimum, and converged elsewhere when the true gradient
# norm falls to CONVERGE_TOL away from one.  It has escaped when it leaves the domain
# enlarged by ESCAPE_MARGIN domain widths on every side (only on surfaces unbounded below).
FINISH_TOL = 1e-3
CONVERGE_TOL = 1e-8
ESCAPE_MARGIN = 5.0
# Races of this many racers may be stepped on all cores, when a call has enough work
# (racers x steps) to pay for waking the threads; smaller calls run on one.  Both kernels give
# the same bits, so a race times both and keeps the faster: on a busy machine (a class
# laptop running the GUI, or a shared server) waiting for a second core can cost more than
# it gains.  The slower one is re-timed every PARALLEL_RETRY calls.
PARALLEL_RACERS = 256
PARALLEL_WORK = 100_000
PARALLEL_RETRY = 25
# Neighbouring racers with identical settings are stepped as one vector of at most this many
# racers: the optimizer's per-step scalars are then computed once per group, and groups are
# the unit of work spread over cores.
GROUP_MAX = 64
# Families whose state holds one scalar for the whole vector, in element 0 of this slot
# (NAdam's product of momentum coefficients): each racer's own view repeats it.
_SHARED_SLOT = {OK.NADAM: 2}



@dataclass
class Snapshot:
    """Everything that determines the race's future from step ``t`` on.

    ``state`` is (R, slots, 2): racer r's optimizer state as ``spec.init(2)`` lays it out.
    A racer that has stopped (finished, converged, escaped, diverged) keeps its point; its
    state is only meaningful up to the step it stopped at.
    """

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
    losses: np.ndarray | None  # (R, k); None when recorded as positions only (Race.values)
    grad_norms: np.ndarray | None  # (R, k)
    status: np.ndarray  # (R,) Status codes after the chunk
    status_step: np.ndarray  # (R,)


def _groups(family: np.ndarray, settings: np.ndarray) -> np.ndarray:
    """Bounds of the runs of neighbouring racers with identical family and settings rows."""
    bounds = [0]
    for r in range(1, len(family)):
        lo = bounds[-1]
        if family[r] != family[lo] or r - lo >= GROUP_MAX or not np.array_equal(settings[r], settings[lo]):
            bounds.append(r)
    bounds.append(len(family))
    return np.array(bounds, dtype=np.int64)


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
        noise = check_noise(noise)
        if checkpoint_every < 1 or max_checkpoints < 2:
            raise ValueError("checkpoint_every must be >= 1 and max_checkpoints >= 2")
        start = np.asarray(start, dtype=np.float64)
        if start.shape != (2,) or not np.all(np.isfinite(start)):
            raise ValueError(f"start must be a finite point (x, y), got {start!r}")
        self.start = start
        self.noise = noise
        self.seed = int(seed) & 0xFFFFFFFFFFFF
        R = len(self.racers)
        packed = pack_racers(self.racers, 2)
        self.family, self.hyper, self.sched, self.clip = packed.family, packed.hyper, packed.sched, packed.clip
        state = packed.state
        self._bounds = _groups(self.family, np.hstack([self.hyper, self.sched, self.clip]))
        lo = self._bounds[:-1]
        self._gfam, self._ghyper = self.family[lo], np.ascontiguousarray(self.hyper[lo])
        self._gsched, self._gclip = np.ascontiguousarray(self.sched[lo]), np.ascontiguousarray(self.clip[lo])
        (x0, x1), (y0, y1) = self.surface.spec.domain
        span = max(x1 - x0, y1 - y0)
        self.finish_tol = FINISH_TOL * span
        self.converge_tol = CONVERGE_TOL
        if self.surface.bounded_below:
            self.box = np.array([-np.inf, np.inf, -np.inf, np.inf])
        else:
            m = ESCAPE_MARGIN * span
            self.box = np.array([x0 - m, x1 + m, y0 - m, y1 + m])
        G = np.tile(self.surface.gradient(*start), (R, 1))
        F = np.full(R, self.surface.value(*start))
        status = np.zeros(R, dtype=np.int64)
        if not (np.isfinite(F[0]) and np.all(np.isfinite(G[0]))):
            status[:] = Status.DIVERGED  # a start on a singular point never moves
        # Live snapshots hold the state group-blocked (see _to_blocks); Snapshot is per racer.
        self._now = Snapshot(0, np.tile(start, (R, 1)), G, F, self._to_blocks(state), status,
                             np.zeros(R, dtype=np.int64))
        self.checkpoint_every = int(checkpoint_every)
        self.max_checkpoints = int(max_checkpoints)
        self._checkpoints: list[Snapshot] = [self._now.copy()]
        self._rate: dict[bool, float | None] = {False: None, True: None}  # racer-steps/s per kernel
        self._calls = 0

    # -- state layout ------------------------------------------------------------------------
    def _to_blocks(self, state: np.ndarray) -> np.ndarray:
        """(R, slots, 2) -> flat buffer where group [lo, hi) is a C-ordered (slots, 2(hi-lo))
        block: the state of one vector of 2(hi-lo) coordinates, as the optimizer kernels want."""
        S = state.shape[1]
        buf = np.empty(state.size)
        for f, lo, hi in zip(self._gfam, self._bounds[:-1], self._bounds[1:]):
            block = buf[S * 2 * lo:S * 2 * hi].reshape(S, 2 * (hi - lo))
            block[:] = state[lo:hi].transpose(1, 0, 2).reshape(S, -1)
            if f in _SHARED_SLOT:  # the vector's scalar is racer lo's; the other elements unused
                block[_SHARED_SLOT[f], 1:] = state[lo, _SHARED_SLOT[f], 1]
        return buf

    def _from_blocks(self, buf: np.ndarray) -> np.ndarray:
        S = O.MAX_SLOTS
        R = len(self.racers)
        state = np.empty((R, S, 2))
        for f, lo, hi in zip(self._gfam, self._bounds[:-1], self._bounds[1:]):
            block = buf[S * 2 * lo:S * 2 * hi].reshape(S, hi - lo, 2)
            state[lo:hi] = block.transpose(1, 0, 2)
            if f in _SHARED_SLOT:
                state[lo:hi, _SHARED_SLOT[f], 0] = block[_SHARED_SLOT[f], 0, 0]
        return state

    def _public(self, snap: Snapshot) -> Snapshot:
        return Snapshot(snap.t, snap.X.copy(), snap.G.copy(), snap.F.copy(), self._from_blocks(snap.state),
                        snap.status.copy(), snap.status_step.copy())

    # -- running ---------------------------------------------------------------------------
    @property
    def t(self) -> int:
        """Steps computed so far."""
        return self._now.t

    @property
    def groups(self) -> int:
        """How many vectors of racers the kernel steps (racers with identical settings share one)."""
        return len(self._bounds) - 1

    def _run(self, snap: Snapshot, k: int, out=None, col: int = 0, check: bool = True, values: bool = True):
        """k steps from ``snap`` (changed in place); when ``out`` = (pos, loss, gn) the steps are
        written to columns col .. col+k-1 (loss and gn only when ``values``)."""
        record = K.RECORD_NONE if out is None else K.RECORD_ALL if values else K.RECORD_POSITIONS
        if out is None:
            out = (np.empty((0, 0, 2)), np.empty((0, 0)), np.empty((0, 0)))
        R = len(self.racers)
        parallel = self._choose_parallel(R * k)
        # A formula surface (engine.formula) brings its own copy of the race kernels.
        Km = self.surface.kernels or K
        fn = Km.advance_parallel if parallel else Km.advance
        # Not timed: a call that loads or compiles the kernel, and a race's first call, which
        # also pays the first touch of fresh output arrays (timed, it made the parallel kernel
        # look slower than the serial one for the next PARALLEL_RETRY calls).  Under
        # NUMBA_DISABLE_JIT the kernel is a plain function, with nothing to load or compile.
        timed = parallel is not None and bool(getattr(fn, "signatures", True)) and self._calls > 1
        t0 = time.perf_counter()
        fn(self.surface.code, self.surface.params, self._gfam, self._bounds, self._ghyper, self._gsched,
           self._gclip, self.noise, self.seed, snap.X.reshape(-1), snap.G.reshape(-1), snap.F,
           snap.state, O.MAX_SLOTS, snap.t, k, snap.status, snap.status_step, self.surface.minima,
           self.finish_tol, self.converge_tol, self.box, check, record, col, *out)
        if timed:
            rate = R * k / max(time.perf_counter() - t0, 1e-9)
            old = self._rate[parallel]
            self._rate[parallel] = rate if old is None else 0.5 * (old + rate)
        snap.t += k

    def _choose_parallel(self, work: int) -> bool | None:
        """True/False: step on all cores or on one, timing the choice; None: one core, untimed."""
        if len(self.racers) < PARALLEL_RACERS or self.groups < 2 or work < PARALLEL_WORK:
            return None
        self._calls += 1
        serial, parallel = self._rate[False], self._rate[True]
        if parallel is None:
            return True
        if serial is None:
            return False
        faster = parallel >= serial
        return (not faster) if self._calls % PARALLEL_RETRY == 0 else faster

    def advance(self, k: int, out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None, *,
                values: bool = True) -> Chunk:
        """Compute k more steps; returns them as a :class:`Chunk`.

        ``out`` = (positions (R, k, 2), losses (R, k), grad_norms (R, k)), C-contiguous float64
        arrays to write into instead of new ones: reusing them saves the first touch of fresh
        memory, which costs more than the recording itself for many racers.  With
        ``values=False`` only positions are recorded (half the bytes; losses and grad_norms of
        the chunk are None) and :meth:`values` derives the same bits later where needed.
        """
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        R = len(self.racers)
        first = self.t
        if out is None:
            out = (np.empty((R, k, 2)), np.empty((R, k)), np.empty((R, k)))
        elif not all(isinstance(a, np.ndarray) and a.dtype == np.float64 and a.flags.c_contiguous
                     and a.shape == shape for a, shape in zip(out, ((R, k, 2), (R, k), (R, k)))):
            raise ValueError(f"out must be C-contiguous float64 arrays of shapes {(R, k, 2)}, {(R, k)}, {(R, k)}")
        self._advance_into(k, out, 0, values)
        pos, loss, gn = out if values else (out[0], None, None)
        return Chunk(first, pos, loss, gn, self._now.status.copy(), self._now.status_step.copy())

    def _advance_into(self, k: int, out, col: int, values: bool = True) -> None:
        """k more steps written to columns col .. col+k-1 of ``out`` (checked by the caller)."""
        done = 0
        while done < k:
            # Stop at every checkpoint boundary so that checkpoints land on exact multiples.
            n = min(k - done, self.checkpoint_every - self.t % self.checkpoint_every)
            self._run(self._now, n, out, col + done, values=values)
            done += n
            if self.t % self.checkpoint_every == 0:
                self._add_checkpoint()

    def values(self, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Losses and gradient norms (R, k) at recorded positions (R, k, 2): bit for bit what
        ``advance`` records, for chunks recorded with ``values=False``."""
        positions = np.ascontiguousarray(positions, dtype=np.float64)
        if positions.ndim != 3 or positions.shape[2] != 2:
            raise ValueError(f"positions must be (R, k, 2), got {positions.shape}")
        loss = np.empty(positions.shape[:2])
        gn = np.empty(positions.shape[:2])
        (self.surface.kernels or K).evaluate(self.surface.code, self.surface.params, positions, loss, gn)
        return loss, gn

    def run_bare(self, k: int, check: bool = True) -> None:
        """k more steps without recording them (``check=False`` also skips status bookkeeping).

        For benchmarks of the kernel itself; the race keeps no checkpoints of these steps, so
        use it only on a race that nothing else will read.
        """
        self._run(self._now, int(k), None, 0, check)

    def _add_checkpoint(self):
        self._checkpoints.append(self._now.copy())
        if len(self._checkpoints) > self.max_checkpoints:
            # Thin to every other one (keeping step 0): memory stays bounded, recomputation doubles.
            self._checkpoints = self._checkpoints[::2]
            self.checkpoint_every *= 2

    @property
    def checkpoints(self) -> list[int]:
        """Steps at which full snapshots are stored."""
        return [c.t for c in self._checkpoints]

    def checkpoint(self) -> Snapshot:
        """The exact snapshot now (a copy)."""
        return self._public(self._now)

    def state_at(self, k: int) -> Snapshot:
        """The exact snapshot after step k (0 <= k <= t), recomputed from a checkpoint."""
        if not 0 <= k <= self.t:
            raise ValueError(f"step {k} is outside the computed range 0..{self.t}")
        if k == self.t:
            return self._public(self._now)
        base = max((c for c in self._checkpoints if c.t <= k), key=lambda c: c.t)
        snap = base.copy()
        if k > snap.t:
            self._run(snap, k - snap.t)
        return self._public(snap)

    # -- reading ---------------------------------------------------------------------------
    def status(self, snap: Snapshot | None = None) -> list[Standing]:
        snap = snap or self._now
        return [Standing(Status(int(c)), int(s)) for c, s in zip(snap.status, snap.status_step)]

    def explain_step(self, r: int, k: int) -> O.Explanation:
        """What racer r does in step k+1, written out (:func:`engine.optim.optimizers.explain`), with
        the gradient it saw before clipping (noise included), its name and its status.

        Computed from the snapshot after step k, so it is the exact step the race takes
        (noise, clipping and schedule included).
        """
        snap = self.state_at(k)
        racer = self.racers[r]
        spec = racer.spec
        x = snap.X[r].copy()
        g = snap.G[r].copy()
        t = k + 1
        if self.noise > 0:
            g = g + self.noise * np.array([K.gauss(self.seed, t, 0), K.gauss(self.seed, t, 1)])
        g_clipped = np.array(K.clip_gradient(g[0], g[1], self.clip[r, 0], self.clip[r, 1]))
        h = self.hyper[r, : sum(p.size for p in spec.hyper)].copy()
        h[0] *= K.lr_factor(self.sched[r], t)
        hess = self.surface.hessian(*x) if spec.needs_hessian else None
        e = O.explain(racer.optimizer, x, g_clipped, snap.state[r, : max(len(spec.slots), 1)], h, t, hess)
        return replace(e, racer=racer.name, gradient_seen=g, status=self.status(snap)[r])


@dataclass
class RaceResult:
    race: Race
    positions: np.ndarray  # (R, steps+1, 2)
    losses: np.ndarray  # (R, steps+1)
    grad_norms: np.ndarray  # (R, steps+1)

    @property
    def status(self) -> list[Standing]:
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
    0 being the start, and per racer a :class:`~engine.race.status.Standing`.  Never raises on divergence.
    """
    race = Race(surface, start, racers, noise=noise, seed=seed, surface_params=surface_params)
    steps = int(steps)
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    # Written in place, column 0 the start: no concatenation of the steps after it.
    R = len(race.racers)
    out = (np.empty((R, steps + 1, 2)), np.empty((R, steps + 1)), np.empty((R, steps + 1)))
    now = race._now
    out[0][:, 0], out[1][:, 0], out[2][:, 0] = now.X, now.F, np.hypot(now.G[:, 0], now.G[:, 1])
    race._advance_into(steps, out, 1)
    return RaceResult(race, *out)
