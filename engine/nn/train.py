"""Training networks with the optimizer registry: ``NetRace`` runs K copies of one network
from one initialisation (or each from its own: an ensemble) with K racers (optimizer settings, schedule, clipping) on the same
mini-batch sequence (K = 1 is plain training); ``train`` is the one-call convenience.
Telemetry comes back as arrays."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from ..race.status import Standing, Status
from ..race.gradients import Clip, check_noise
from ..race.racer import Racer, as_racer, pack_racers
from ..race.schedules import Schedule
from . import kernels, ops
from .blas import single_thread
from . import train_kernels as TK
from .network import Network

MAX_GRID = 512
MAX_RACERS = 1024
# The gradient noise's stream: the race's seed with a bit no seed has (seeds keep 48 bits),
# so the noise never repeats the draws of the dropout masks, which are keyed by the seed.
NOISE_STREAM = 1 << 48


@dataclass(frozen=True)
class Chunk:
    """Steps first+1 .. first+k.  Per racer r: ``loss[r, s]`` the mini-batch loss of step
    first+s+1 (NaN after it stopped), ``val_loss``/``val_acc`` NaN except at validation steps;
    telemetry rows at ``tel_steps``: ``taps[r, i, tap, col]`` (columns ops.T_*) and
    ``dense[r, i, layer, col]`` (ops.W_*)."""

    first: int
    loss: np.ndarray
    val_loss: np.ndarray
    val_acc: np.ndarray
    tel_steps: np.ndarray
    taps: np.ndarray
    dense: np.ndarray
    status: np.ndarray
    status_step: np.ndarray

    @property
    def steps(self) -> np.ndarray:
        return np.arange(self.first + 1, self.first + 1 + self.loss.shape[1])


@dataclass(frozen=True)
class Snapshot:
    """The expensive telemetry, every ``snapshot_every`` steps: per racer the parameters,
    a histogram of every dense layer's weights, and for 2-D inputs the network's output on a
    grid (softmax probabilities, sigmoid or raw output) over ``extent`` (x0, x1, y0, y1)."""

    step: int
    params: np.ndarray  # (K, n)
    hist_counts: np.ndarray  # (K, layers, bins)
    hist_edges: np.ndarray  # (K, layers, bins + 1)
    grid: np.ndarray | None  # (K, res, res, outputs), rows are y
    extent: tuple[float, float, float, float] | None


def _check_int(v, what, lo, hi):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not lo <= int(v) <= hi:
        raise ValueError(f"{what} must be an integer in [{lo}, {hi}], got {v!r}")
    return int(v)


def _data(data):
    if hasattr(data, "X_train"):
        return data.X_train, data.y_train, data.X_val, data.y_val
    if isinstance(data, (tuple, list)) and len(data) == 4:
        return tuple(data)
    raise ValueError("data must be a data.Split or a tuple (X_train, y_train, X_val, y_val)")


class NetRace:
    """K racers (as for the surface race: ids, (id, hyper, ...) tuples or
    :class:`~engine.race.racer.Racer`) trained side by side.  ``advance(k)`` runs k more steps and
    returns a :class:`Chunk`; snapshots land in ``snapshots``.  ``noise`` adds seeded Gaussian
    noise to every gradient component, the same draws for every racer.  A racer that produces
    NaN or overflow is marked diverged at that step and frozen; the others go on.
    ``initial`` (K, n_params) starts each racer from its own weights instead of the network's:
    an ensemble differing by seed, initialiser or pre-training."""

    def __init__(self, net: Network, data, racers: Sequence, *, batch_size: int = 128, seed: int = 0,
                 noise: float = 0.0, val_every: int = 10, tel_every: int = 10, snapshot_every: int = 0,
                 patience: int = 0, grid_res: int = 64, hist_bins: int = 30, initial: np.ndarray | None = None):
        self.net = net
        self.racers = [as_racer(r) for r in racers]
        K = len(self.racers)
        if not 1 <= K <= MAX_RACERS:
            raise ValueError(f"number of racers must be in [1, {MAX_RACERS}], got {K}")
        X, y, Xv, yv = _data(data)
        self.X, self.yi, self.yf = net.check_inputs(X, y, "training inputs")
        self.Xv, self.yvi, self.yvf = net.check_inputs(Xv, yv, "validation inputs")
        n = self.X.shape[0]
        self.batch_size = _check_int(batch_size, "batch_size", 2 if net.has_batchnorm else 1, n)
        self.val_every = _check_int(val_every, "val_every", 0, 10**9)
        self.tel_every = _check_int(tel_every, "tel_every", 0, 10**9)
        self.snapshot_every = _check_int(snapshot_every, "snapshot_every", 0, 10**9)
        self.patience = _check_int(patience, "patience", 0, 10**9)
        if self.patience and not self.val_every:
            raise ValueError("early stopping (patience > 0) needs validation: set val_every >= 1")
        self.grid_res = _check_int(grid_res, "grid_res", 2, MAX_GRID)
        self.hist_bins = _check_int(hist_bins, "hist_bins", 1, 10_000)
        self.seed = int(seed) & 0xFFFFFFFFFFFF
        self.noise = check_noise(noise)
        P = net.n_params
        packed = pack_racers(self.racers, P)
        self.family, self.hyper, self.state = packed.family, packed.hyper, packed.state
        self.sched, self.clip = packed.sched, packed.clip
        B = self.batch_size
        total = int(net.cum[-1])
        widest = int(np.max(np.diff(net.cum)))
        nv = self.Xv.shape[0]
        if initial is None:
            self.params = np.tile(net.params, (K, 1))
        else:
            self.params = np.array(initial, dtype=np.float64, order="C")
            if self.params.shape != (K, P) or not np.all(np.isfinite(self.params)):
                raise ValueError(f"initial weights must be finite, of shape ({K}, {P}): one row per racer, "
                                 f"got {np.shape(initial)}")
        self.running = np.tile(net.running, (K, 1))
        self.best = self.params.copy()
        self.G = np.zeros((K, P))
        self.pnew = np.zeros((K, P))
        self.Z = np.zeros((K, B * total))
        self.D = np.zeros((K, B * total))
        self.WM = np.zeros((K, max(net.wm_size, 1)))
        self.bits = np.zeros((K, max(B, nv) * widest), dtype=np.int64)
        self.scratch = np.zeros((K, B * widest))
        self.Zv = np.zeros((K, nv * total))
        self.es = np.zeros((K, 4))
        self.es[:, TK.ES_BEST] = np.inf
        self.es[:, TK.ES_PATIENCE] = self.patience
        self.status = np.zeros((K, 2), dtype=np.int64)  # per contender: Status code, step it took effect
        self.status[:, 0] = Status.TRAINING
        self.dense_w = np.array([[d.w.offset, d.w.offset + d.w.size] for d in net.dense], dtype=np.int64).reshape(-1, 2)
        self.t = 0
        self._rng = np.random.default_rng(self.seed)
        self._perm = np.zeros(0, dtype=np.int64)
        self._pos = 0
        self.snapshots: list[Snapshot] = []
        if self.snapshot_every:
            self._snapshot()

    # -- batches -------------------------------------------------------------------------------
    def _batches(self, k: int) -> np.ndarray:
        """The next k mini-batches: rows drawn without replacement, a new permutation each epoch."""
        B = self.batch_size
        n = self.X.shape[0]
        out = np.empty(k * B, dtype=np.int64)
        filled = 0
        while filled < out.size:
            if self._pos >= self._perm.size:
                self._perm = self._rng.permutation(n)
                self._pos = 0
            m = min(out.size - filled, self._perm.size - self._pos)
            out[filled: filled + m] = self._perm[self._pos: self._pos + m]
            filled += m
            self._pos += m
        return out.reshape(k, B)

    # -- running -------------------------------------------------------------------------------
    @property
    def K(self) -> int:
        return len(self.racers)

    def status_of(self, r: int) -> Standing:
        return Standing(Status(int(self.status[r, 0])), int(self.status[r, 1]))

    @property
    def active(self) -> np.ndarray:
        return self.status[:, 0] == Status.TRAINING

    def _run(self, k: int):
        net = self.net
        K = self.K
        t0 = self.t
        idx = self._batches(k)
        te = self.tel_every
        nrec = (t0 + k) // te - t0 // te if te else 0
        loss = np.full((K, k), np.nan)
        val = np.full((K, k, 2), np.nan)
        taps = np.full((K, nrec, len(net.taps), ops.TAP_COLS), np.nan)
        dense = np.full((K, nrec, len(net.dense), ops.DENSE_COLS), np.nan)
        done = np.zeros(K, dtype=np.int64)
        args = (net.opi, net.opf, net.cum, net.loss.code, net.tap_buffers, net.tap_dead, self.dense_w)
        rest = (self.X, self.yi, self.yf, idx, self.Xv, self.yvi, self.yvf, t0, k, self.seed, self.noise,
                self.seed | NOISE_STREAM, self.val_every, te)
        with single_thread():
            self._kernel(args, rest, loss, val, taps, dense, done)
        self.t += k
        steps = np.arange(t0 // te + 1, (t0 + k) // te + 1) * te if te else np.zeros(0, dtype=np.int64)
        for r in range(K):
            # Rows after a racer stopped were never written; the NaN fill marks them.
            loss[r, done[r]:] = np.nan
        return loss, val, steps, taps, dense

    def _kernel(self, args, rest, loss, val, taps, dense, done):
        if self.K == 1:
            if self.status[0, 0] == Status.TRAINING:
                done[0] = TK.train_chunk(*args, self.params[0], self.running[0], self.G[0], self.pnew[0], self.Z[0],
                                         self.D[0], self.WM[0], self.bits[0], self.scratch[0], self.Zv[0],
                                         self.family[0], self.hyper[0], self.state[0], self.sched[0], self.clip[0],
                                         *rest, self.es[0], self.best[0], self.status[0], loss[0], val[0], taps[0],
                                         dense[0])
        else:
            TK.race_chunk(*args, self.params, self.running, self.G, self.pnew, self.Z, self.D, self.WM, self.bits,
                          self.scratch, self.Zv, self.family, self.hyper, self.state, self.sched, self.clip, *rest,
                          self.es, self.best, self.status, loss, val, taps, dense, done)

    def advance(self, k: int) -> Chunk:
        """Run k more steps (snapshots taken at every multiple of ``snapshot_every``)."""
        k = _check_int(k, "k", 0, 10**9)
        first = self.t
        parts = []
        done = 0
        while done < k:
            m = k - done
            if self.snapshot_every:
                m = min(m, self.snapshot_every - self.t % self.snapshot_every)
            parts.append(self._run(m))
            done += m
            if self.snapshot_every and self.t % self.snapshot_every == 0:
                self._snapshot()
        K, nt, nd = self.K, len(self.net.taps), len(self.net.dense)
        if parts:
            loss, val, steps, taps, dense = (np.concatenate([p[i] for p in parts], axis=1 if i != 2 else 0)
                                             for i in range(5))
        else:
            loss, val = np.empty((K, 0)), np.empty((K, 0, 2))
            steps = np.zeros(0, dtype=np.int64)
            taps, dense = np.empty((K, 0, nt, ops.TAP_COLS)), np.empty((K, 0, nd, ops.DENSE_COLS))
        return Chunk(first, loss, val[..., 0], val[..., 1], steps, taps, dense,
                     self.status[:, 0].copy(), self.status[:, 1].copy())

    def run(self, steps: int) -> Chunk:
        """Advance until ``steps`` have run or every racer stopped; one Chunk for all of it."""
        parts = []
        left = _check_int(steps, "steps", 0, 10**9)
        block = 500
        while left > 0 and self.active.any():
            parts.append(self.advance(min(block, left)))
            left -= min(block, left)
        return concat(parts) if parts else self.advance(0)

    # -- views -------------------------------------------------------------------------------
    def network(self, r: int, best: bool = False) -> Network:
        """A copy of the network carrying racer r's current (or best-validation) weights."""
        net = self.net.copy()
        net.params[:] = self.best[r] if best else self.params[r]
        net.running[:] = self.running[r]
        return net

    def masks(self, r: int) -> dict[str, np.ndarray]:
        """Dropout and DropConnect masks of racer r's latest step (1 kept, 0 dropped)."""
        return self.net.masks_in(self.Z[r], self.WM[r], self.batch_size)

    def masks_at(self, r: int, t: int) -> dict[str, np.ndarray]:
        """The exact dropout and DropConnect masks of step ``t`` (1 = the first step), as
        :meth:`masks` returns them for the latest step: per dropout op ``op{o}.dropout``
        (batch rows x units), per DropConnect layer ``{name}.dropconnect`` (fan_in x fan_out);
        1 kept, 0 dropped.  Recomputed from (seed, t, op): the same for every racer r (they
        share the masks as they share the batches), for past steps and steps to come."""
        _check_int(r, "r", 0, self.K - 1)
        t = _check_int(t, "t", 1, 2**62)
        return self.net.masks_at(self.batch_size, self.seed, t)

    def batch_rows(self, t: int) -> np.ndarray:
        """The training rows (indices into the training set) of step ``t``'s mini-batch, in
        the order the masks' rows follow; replayed from the race's seed."""
        t = _check_int(t, "t", 1, 2**62)
        n, B = self.X.shape[0], self.batch_size
        rng = np.random.default_rng(self.seed)
        # Rows drawn before step t: whole epochs (one permutation each), then part of the next.
        before = (t - 1) * B
        for _ in range(before // n):
            rng.permutation(n)
        perm, pos = rng.permutation(n), before % n
        out = []
        while len(out) < B:
            if pos >= n:
                perm, pos = rng.permutation(n), 0
            m = min(B - len(out), n - pos)
            out.extend(perm[pos: pos + m])
            pos += m
        return np.array(out, dtype=np.int64)

    def extent(self) -> tuple[float, float, float, float]:
        X = np.concatenate([self.X, self.Xv])
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = 0.1 * (hi - lo) + 1e-9
        return float(lo[0] - pad[0]), float(hi[0] + pad[0]), float(lo[1] - pad[1]), float(hi[1] + pad[1])

    def decision_grid(self, r: int, res: int | None = None, extent=None) -> np.ndarray:
        """Racer r's output over a res x res grid (rows y, columns x): class
        probabilities for classification, the raw output for regression.  2-D inputs only."""
        net = self.net
        if net.input_dim != 2:
            raise ValueError(f"a decision grid needs 2-D inputs, the network takes {net.input_dim}")
        res = self.grid_res if res is None else _check_int(res, "res", 2, MAX_GRID)
        x0, x1, y0, y1 = extent or self.extent()
        gx, gy = np.meshgrid(np.linspace(x0, x1, res), np.linspace(y0, y1, res))
        pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
        return self.outputs(r, pts).reshape(res, res, net.output_dim)

    def outputs(self, r: int, X: np.ndarray) -> np.ndarray:
        """Racer r's function on the rows of X (test mode): class probabilities for
        classification, the raw output for regression."""
        net = self.net
        X = np.ascontiguousarray(X, dtype=np.float64)
        ws = net.workspace(min(X.shape[0], 4096))
        out = np.empty((X.shape[0], net.output_dim))
        with single_thread():
            kernels.predict(net.opi, net.opf, net.cum, self.params[r], self.running[r], ws.Z, ws.WM, ws.bits, X, out)
        if net.loss.id == "softmax_ce":
            out = np.exp(out - out.max(axis=1, keepdims=True))
            out /= out.sum(axis=1, keepdims=True)
        elif net.loss.id == "bce":
            out = 1.0 / (1.0 + np.exp(-out))
        return out

    def _snapshot(self):
        K, net = self.K, self.net
        nd = len(net.dense)
        counts = np.zeros((K, nd, self.hist_bins), dtype=np.int64)
        edges = np.zeros((K, nd, self.hist_bins + 1))
        for r in range(K):
            for i, d in enumerate(net.dense):
                w = self.params[r, d.w.offset: d.w.offset + d.w.size]
                w = w[np.isfinite(w)]
                if w.size:
                    lo, hi = float(w.min()), float(w.max())
                    c, e = np.histogram(w, bins=self.hist_bins, range=(lo, hi) if hi > lo else (lo - 0.5, hi + 0.5))
                    counts[r, i], edges[r, i] = c, e
        grid, ext = None, None
        if net.input_dim == 2:
            ext = self.extent()
            grid = np.stack([self.decision_grid(r, extent=ext) for r in range(K)])
        self.snapshots.append(Snapshot(self.t, self.params.copy(), counts, edges, grid, ext))


def concat(chunks: Sequence[Chunk]) -> Chunk:
    """One Chunk from consecutive chunks."""
    c0 = chunks[0]
    return Chunk(c0.first, np.concatenate([c.loss for c in chunks], 1), np.concatenate([c.val_loss for c in chunks], 1),
                 np.concatenate([c.val_acc for c in chunks], 1), np.concatenate([c.tel_steps for c in chunks]),
                 np.concatenate([c.taps for c in chunks], 1), np.concatenate([c.dense for c in chunks], 1),
                 chunks[-1].status, chunks[-1].status_step)


def train(net: Network, data, optimizer: str = "adam", hyper: Mapping[str, object] | None = None, steps: int = 1000,
          batch_size: int = 128, seed: int = 0, restore_best: bool = True, schedule: Schedule = Schedule(),
          clip: Clip = Clip(), **kw) -> tuple[Chunk, NetRace]:
    """Train ``net`` in place; returns the telemetry and the race object (one racer).
    With early stopping (``patience`` > 0) and ``restore_best`` the network ends with the
    weights of its best validation loss."""
    racer = Racer(optimizer, dict(hyper or {}), schedule, clip)
    race = NetRace(net, data, [racer], batch_size=batch_size, seed=seed, **kw)
    chunk = race.run(steps)
    use_best = restore_best and race.patience > 0 and np.isfinite(race.es[0, TK.ES_BEST])
    net.params[:] = race.best[0] if use_best else race.params[0]
    net.running[:] = race.running[0]
    return chunk, race
