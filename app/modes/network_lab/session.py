"""The network lab as a playback session.  The engine's NetRace (built by ``engine.lab``)
trains in a worker thread, chunk by chunk (its kernels release the GIL), keeping a little
ahead of playback; ``compute`` hands over the chunks that are ready, so the playback's budgeted
tick never waits for training.  Paused, the worker stops within one chunk and ``compute`` trains
in the caller's thread (a step, a run-to in the shell's worker, a screenshot).

What a frame shows comes from two recorders: every step's mini-batch loss, and every
``CHECK_EVERY`` steps the validation loss and accuracy and the per-layer gradient telemetry
(the first steps' telemetry at every step: a lesson's pause at step 1 shows its gradients);
the expensive part (the network's output over the input plane) is taken
at about the views' rate, each labelled with the step it belongs to."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from engine import lab as LAB
from engine.nn import ops
from engine.nn.train import Chunk, concat
from engine.race.status import Status
from engine.scenario import Scenario

from ...shell.recorder import Recorder
from ...shell.worker import Worker
from ...theme import MARKERS, PALETTE
from ...views.look import Look

CHECK_EVERY = 10  # validation and gradient telemetry every this many steps
GRID_RES = 48  # the output image over the input plane, res x res
CURVE_RES = 200  # points of a 1-D regression's fitted curve
OUTPUT_EVERY_S = 0.25  # the worker computes the network's output at most this often (4 a second)
CHUNK_S = 0.04  # wall time of one training chunk in the worker
AHEAD_S = 0.25  # the worker keeps about this much training ready ahead of playback
MAX_OUTPUTS = 256  # outputs kept for scrubbing back (older ones are thinned)
# The clock's period while the lab plays: at most 30 frames a second.  Every frame redraws plots
# (mostly their axes), and what the GUI thread takes the training worker loses on 2 cores.
FRAME_MS = 33

# The per-layer telemetry recorded at each check: series name -> the engine's column.
TELEMETRY = {"gnorm": ops.W_GRAD_NORM, "gmean": ops.W_GRAD_MEANABS, "gmax": ops.W_GRAD_MAX,
             "update": ops.W_UPDATE_RATIO}


@dataclass(frozen=True)
class Output:
    """The contenders' output after ``step``: over the input plane (2-D data, (K, res, res,
    outputs), rows y) or along the input line (1-D, (K, CURVE_RES, outputs)), or its
    predicted classes of the validation examples (more inputs, (K, n_val)).  Only the row of
    ``contender`` is computed (the one the views show; -1: every row): a grid per contender
    cost as much training time as the views' whole redraw."""

    step: int
    values: np.ndarray
    contender: int = -1
    # More inputs: each contender's validation confusion matrix (K, C, C; [true, predicted]) and
    # its accuracy (K,), counted by the engine from ``values`` (rows not computed are zero).
    confusion: np.ndarray | None = None
    accuracy: np.ndarray | None = None

    def has(self, r: int) -> bool:
        return self.contender in (-1, r)


@dataclass(frozen=True)
class Points:
    """The race's standardised examples: class indices, or the regression's targets."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    classes: int  # 0 for regression


@dataclass(frozen=True)
class LabFrame:
    """The lab as it stands after ``step`` for every enabled contender (row r)."""

    step: int
    computed: int
    looks: tuple[Look, ...]
    loss: np.ndarray  # (K,) latest recorded mini-batch loss at or before ``step``
    val_loss: np.ndarray  # (K,) at the latest check at or before ``step`` (a stopped one: before its stop)
    val_acc: np.ndarray  # (K,) NaN for regression
    check_step: int  # the step of that check
    status: np.ndarray  # (K,) Status codes as of ``step``
    status_step: np.ndarray
    history: Recorder  # per step: "loss" (K,)
    checks: Recorder  # per check (entry i is step i * CHECK_EVERY): val_loss, val_acc, TELEMETRY (K, L)
    early: dict[str, np.ndarray]  # TELEMETRY of steps 1 .. CHECK_EVERY - 1, (K, CHECK_EVERY, L), row s: step s
    layers: tuple[str, ...]  # the dense layers, input to output
    output: Output  # the latest output at or before ``step``
    extent: tuple[float, float, float, float] | None  # of a 2-D output image
    line: np.ndarray | None  # the inputs of a 1-D output curve
    masks: dict[str, np.ndarray] | None  # the selected contender's masks of step ``mask_step`` (None at 0)
    mask_step: int
    dropouts: tuple[tuple[str, float], ...]  # (mask name, drop probability) per dropout or DropConnect layer
    dropout_form: str
    selected: int
    data: Points
    generation: int

    @property
    def n_racers(self) -> int:
        return len(self.looks)

    def telemetry(self, r: int, names: tuple[str, ...] = tuple(TELEMETRY)):
        """Contender r's recorded telemetry up to the step shown: the steps (the first ones
        each, then every check's) and per name the values, (steps, L)."""
        n = self.checks.count_upto(self.step // CHECK_EVERY)  # entry 0 is step 0: no gradient yet
        e = min(self.step, CHECK_EVERY - 1)
        steps = np.concatenate([np.arange(1, e + 1), self.checks.steps[1:n] * CHECK_EVERY])
        return steps, *(np.concatenate([self.early[k][r, 1:e + 1], self.checks[k][r, 1:n]]) for k in names)


def contender_looks(scenario: Scenario) -> tuple[Look, ...]:
    lab = scenario.lab
    names = lab.names()
    out = []
    for i, c in enumerate(lab.enabled_contenders()):
        out.append(Look(names[i], c.color or PALETTE[lab.contenders.index(c) % len(PALETTE)], MARKERS[i % len(MARKERS)]))
    return tuple(out)


class LabSession:
    """One race of the lab's enabled contenders; raises engine.lab.LabError when the lab's
    options cannot be built.  Made from a scenario nothing else edits meanwhile (the mode makes
    it from a copy in a worker: data, initialisation and first outputs took the GUI ~30 ms)."""

    frame_ms = FRAME_MS

    def __init__(self, scenario: Scenario, generation: int = 0, selected: int = 0, capacity: int = 16384):
        self.generation = generation
        lab = scenario.lab
        self.race = LAB.lab_race(lab, val_every=CHECK_EVERY, tel_every=CHECK_EVERY)
        r = self.race
        loss = r.net.loss.id
        if loss == "softmax_ce":
            self.data = Points(r.X, r.yi, r.Xv, r.yvi, r.net.output_dim)
        else:  # bce's targets are the classes 0 and 1, mse's the regression's values
            ys = (r.yf[:, 0], r.yvf[:, 0]) if loss == "mse" else (r.yf[:, 0].astype(np.int64), r.yvf[:, 0].astype(np.int64))
            self.data = Points(r.X, ys[0], r.Xv, ys[1], 0 if loss == "mse" else 2)
        self.looks = contender_looks(scenario)
        self.selected = min(max(selected, 0), self.race.K - 1)
        K, net = self.race.K, self.race.net
        self.layers = tuple(d.name for d in net.dense)
        L = len(self.layers)
        nan = np.full(K, np.nan)
        self.history = Recorder({"loss": nan}, capacity)
        self.checks = Recorder({"val_loss": nan, "val_acc": nan, **{k: np.full((K, L), np.nan) for k in TELEMETRY}}, capacity)
        self.early = {k: np.full((K, CHECK_EVERY, L), np.nan) for k in TELEMETRY}
        # The masks the views show: each dropout op's (batch rows x units), then each DropConnect
        # layer's (its weight matrix, fan_in x fan_out), named as NetRace.masks_at names them.
        self.dropouts = tuple(
            (f"op{o}.dropout", float(net.opf[o, ops.P])) for o in range(net.opi.shape[0])
            if net.opi[o, ops.KIND] == ops.DROPOUT) + tuple(
            (f"{d.name}.dropconnect", float(net.opf[d.op, ops.P])) for d in net.dense if net.opi[d.op, ops.MOFF] >= 0)
        self.dropout_form = lab.dropout_form
        self.extent = self.race.extent() if net.input_dim == 2 else None
        if net.input_dim == 1:
            x = np.concatenate([self.race.X[:, 0], self.race.Xv[:, 0]])
            pad = 0.1 * (x.max() - x.min())
            self.line = np.linspace(x.min() - pad, x.max() + pad, CURVE_RES)
        else:
            self.line = None
        self._status = np.full(K, int(Status.TRAINING))
        self._status_step = np.zeros(K, dtype=np.int64)
        self._outputs: list[Output] = [self._output(range(self.race.K))]
        self._output_at = time.perf_counter()
        self._computed = 0
        self._queue: list[tuple[Chunk, Output | None]] = []
        self._queued = 0
        self._advance = threading.Lock()  # one thread advances the race (and reads its buffers)
        self._cond = threading.Condition()  # guards the queue
        self._worker: Worker | None = None
        # Workers asked to stop that may still be finishing their chunk: joined by ``shutdown``
        # so that none emits from its thread once the window's QObjects are gone.
        self._stopping: list[Worker] = []
        self._rate = 1000.0  # steps per second, measured in the worker
        self.ahead = 200  # steps the worker keeps ready; the mode sets it from the playback speed

    # -- the worker ahead of playback ---------------------------------------------------------
    @property
    def live(self) -> bool:
        return self._worker is not None and self._worker.running

    @property
    def running(self) -> bool:
        """A worker of this session is training or ending its chunk."""
        return self.live or any(x.running for x in self._stopping)

    def start_worker(self, parent=None) -> None:
        """Train ahead of playback in a worker until ``stop_worker``."""
        if self.live or self.done():
            return
        self._worker = Worker(self._produce, "lab-training", parent).start()

    def stop_worker(self, wait: bool = False) -> None:
        """The worker ends after its current chunk (``wait``: before this returns)."""
        w, self._worker = self._worker, None
        if w is not None:
            w.cancel()
            with self._cond:
                self._cond.notify_all()
            self._stopping.append(w)
        self._stopping = [x for x in self._stopping if x.running]
        if wait:
            for x in self._stopping:
                x.wait()
            self._stopping = []

    def _produce(self, job) -> None:
        while not job.cancelled:
            with self._cond:
                while not job.cancelled and self._queued >= max(self.ahead, self._rate * AHEAD_S):
                    self._cond.wait(0.05)
            if job.cancelled:
                return
            with self._advance:
                if not self.race.active.any():
                    return
                k = max(1, int(self._rate * CHUNK_S))
                t0 = time.perf_counter()
                chunk = self._train(k)
                dt = time.perf_counter() - t0
                out = None
                if time.perf_counter() - self._output_at >= OUTPUT_EVERY_S:
                    out = self._output()
                    self._output_at = time.perf_counter()
                with self._cond:
                    self._queue.append((chunk, out))
                    self._queued += k
                    self._cond.notify_all()
            if dt > 0:
                self._rate = 0.7 * self._rate + 0.3 * max(k / dt, 10.0)

    def _train(self, k: int) -> Chunk:
        """k steps of the race; its first CHECK_EVERY - 1 steps record telemetry at every step."""
        r = self.race
        if r.t >= CHECK_EVERY - 1:
            return r.advance(k)
        m = min(k, CHECK_EVERY - 1 - r.t)
        r.tel_every = 1
        try:
            first = r.advance(m)
        finally:
            r.tel_every = CHECK_EVERY
        return concat([first, r.advance(k - m)]) if k > m else first

    def _output(self, rows: range | None = None) -> Output:
        """The output of the selected contender (``rows``: of these, every one at step 0)."""
        r, net = self.race, self.race.net
        sel = self.selected
        rows = range(sel, sel + 1) if rows is None else rows
        if net.input_dim == 2:
            one = lambda i: r.decision_grid(i, GRID_RES, self.extent)  # noqa: E731
        elif net.input_dim == 1:
            one = lambda i: r.network(i).predict(self.line[:, None])  # noqa: E731
        else:
            one = lambda i: np.argmax(r.network(i).predict(r.Xv), axis=1)  # noqa: E731
        got = {i: one(i) for i in rows}
        first = next(iter(got.values()))
        values = np.zeros((r.K, *first.shape), dtype=first.dtype)
        for i, v in got.items():
            values[i] = v
        cm = acc = None
        if net.input_dim > 2:
            C = max(self.data.classes, 1)
            cm = np.zeros((r.K, C, C), dtype=np.int64)
            acc = np.zeros(r.K)
            for i, v in got.items():
                cm[i] = LAB.confusion(self.data.y_val, v, C)
                acc[i] = LAB.accuracy(cm[i])
        return Output(r.t, values, sel if len(rows) == 1 and r.K > 1 else -1, cm, acc)

    # -- the Session protocol -------------------------------------------------------------------
    @property
    def computed(self) -> int:
        return self._computed

    def compute(self, n: int) -> None:
        """Take up to about n ready steps from the worker (none may be ready: playback then
        shows what there is, never waiting); with no worker running, train n steps here."""
        if self._take(n) or self.live:
            return
        with self._advance:
            self._take(None)
            if not self.race.active.any():
                return
            chunk = self._train(n)
            out = self._output()
            self._output_at = time.perf_counter()
        self._ingest(chunk, out)

    def _take(self, n: int | None) -> int:
        with self._cond:
            got, taken = [], 0
            while self._queue and (n is None or taken < n):
                c = self._queue.pop(0)
                got.append(c)
                taken += c[0].loss.shape[1]
            self._queued -= taken
            self._cond.notify_all()
        for chunk, out in got:
            self._ingest(chunk, out)
        return taken

    def _ingest(self, c: Chunk, out: Output | None) -> None:
        k = c.loss.shape[1]
        if k == 0:
            return
        self.history.append(c.first, {"loss": c.loss})
        early = c.tel_steps % CHECK_EVERY != 0  # the first steps' (see _train)
        if early.any():
            for name, col in TELEMETRY.items():
                self.early[name][:, c.tel_steps[early]] = c.dense[:, early][..., col]
        ts, dense = c.tel_steps[~early], c.dense[:, ~early]
        if ts.size:
            j = ts - c.first - 1
            self.checks.append(int(ts[0]) // CHECK_EVERY - 1, {
                "val_loss": c.val_loss[:, j], "val_acc": c.val_acc[:, j],
                **{name: dense[..., col] for name, col in TELEMETRY.items()}})
        self._status, self._status_step = c.status.copy(), c.status_step.copy()
        self._computed = c.first + k
        if out is not None:
            self._outputs.append(out)
            if len(self._outputs) > MAX_OUTPUTS:
                self._outputs = self._outputs[:1] + self._outputs[2::2]

    def done(self) -> bool:
        return bool(np.all(self._status != Status.TRAINING))

    def end_step(self) -> int:
        return int(self._status_step.max())

    def frame(self, step: int, prev: int | None) -> LabFrame:
        ended = (self._status != Status.TRAINING) & (self._status_step <= step)
        status = np.where(ended, self._status, int(Status.TRAINING))
        status_step = np.where(ended, self._status_step, 0)
        i = self.history.count_upto(step) - 1
        j = self.checks.count_upto(step // CHECK_EVERY) - 1
        # A contender that stopped has no checks after its stop: it shows its last one.
        js = [min(self.checks.count_upto(int(status_step[k]) // CHECK_EVERY) - 1, j) if ended[k] else j
              for k in range(len(ended))]
        rows = np.arange(len(ended))
        r = self.selected
        out = next(o for o in reversed(self._outputs) if o.step <= step and o.has(r))
        return LabFrame(
            step=step, computed=self._computed, looks=self.looks, loss=self.history["loss"][:, i].copy(),
            val_loss=self.checks["val_loss"][rows, js], val_acc=self.checks["val_acc"][rows, js],
            check_step=int(self.checks.steps[j]) * CHECK_EVERY, status=status, status_step=status_step,
            history=self.history, checks=self.checks, early=self.early, layers=self.layers, output=out, extent=self.extent,
            # The exact masks of the step shown, recomputed from (seed, step, op): any step,
            # scrubbing back included.
            line=self.line, masks=self.race.masks_at(self.selected, step) if self.dropouts and step else None,
            mask_step=step, dropouts=self.dropouts,
            dropout_form=self.dropout_form, selected=self.selected, data=self.data, generation=self.generation)

    def select(self, r: int) -> None:
        """Show contender r; paused, its output at the latest step is computed now (the
        worker computes only the shown contender's)."""
        self.selected = min(max(r, 0), self.race.K - 1)
        if self.live or any(o.step == self._computed and o.has(self.selected) for o in self._outputs[-2:]):
            return
        with self._advance:
            self._take(None)
            if self.race.t == self._computed:
                self._outputs.append(self._output())

    def network_now(self):
        """(step, a copy of the selected contender's network, the gradient check's examples),
        taken between training chunks: for a task in another thread."""
        with self._advance:
            return self.race.t, self.race.network(self.selected), *LAB.gradcheck_batch(self.race)

    def shutdown(self) -> None:
        self.stop_worker(wait=True)
