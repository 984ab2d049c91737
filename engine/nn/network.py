"""Networks: a list of layer specs compiled to an op table over one flat float64 parameter
vector, so every optimizer of the registry trains a network unchanged."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import activations, initializers, kernels, losses, ops
from .blas import single_thread
from .layers import DROPOUT_MODES, Activation, BatchNorm, Dense, Dropout, Highway, LayerNorm, Residual

MAX_WIDTH = 16384
MAX_LAYERS = 1000
# Parameters, gradient, new parameters, three optimizer slots and the best copy per parameter.
BYTES_PER_PARAM = 8 * 7
MAX_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Tap:
    """A layer output whose statistics the telemetry records."""

    name: str
    buffer: int
    can_die: bool  # ReLU output: the dead-unit fraction is meaningful


@dataclass(frozen=True)
class ParamGroup:
    """A named slice of the parameter vector (a weight matrix, a bias, PReLU slopes, ...)."""

    name: str
    offset: int
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass(frozen=True)
class DenseInfo:
    name: str
    op: int
    fan_in: int
    fan_out: int
    w: ParamGroup
    b: ParamGroup | None


class Workspace:
    """Activation and gradient buffers for batches of up to ``rows`` rows."""

    def __init__(self, net: "Network", rows: int):
        total = int(net.cum[-1])
        widest = int(np.max(np.diff(net.cum)))
        self.rows = rows
        self.Z = np.zeros(rows * total)
        self.D = np.zeros(rows * total)
        self.WM = np.zeros(max(net.wm_size, 1))
        self.bits = np.zeros(rows * widest, dtype=np.int64)
        self.scratch = np.zeros(rows * widest)

    def buffer(self, net: "Network", b: int, B: int) -> np.ndarray:
        return self.Z[B * net.cum[b]: B * net.cum[b + 1]].reshape(B, -1)

    def grad(self, net: "Network", b: int, B: int) -> np.ndarray:
        return self.D[B * net.cum[b]: B * net.cum[b + 1]].reshape(B, -1)


def _positive_int(v, what, hi):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= int(v) <= hi:
        raise ValueError(f"{what} must be an integer in [1, {hi}], got {v!r}")
    return int(v)


def _prob(p, what):
    if not isinstance(p, (int, float, np.floating)) or not 0.0 <= float(p) < 1.0:
        raise ValueError(f"{what} must be in [0, 1) (p = 1 would drop everything), got {p!r}")
    return float(p)


def _mode(m, what):
    if m not in DROPOUT_MODES:
        raise ValueError(f"{what} must be one of {DROPOUT_MODES}, got {m!r}")
    return ops.INVERTED if m == "inverted" else ops.ORIGINAL


class _Compiler:
    def __init__(self, input_dim, init, seed):
        self.widths = [input_dim]
        self.ops: list[tuple[list[int], list[float]]] = []
        self.values: list[np.ndarray] = []
        self.groups: list[ParamGroup] = []
        self.denses: list[DenseInfo] = []
        self.taps: list[Tap] = []
        self.n = 0
        self.n_running = 0
        self.running: list[np.ndarray] = []
        self.wm = 0
        self.init = init
        self.rng = np.random.default_rng(seed)

    def buffer(self, width):
        self.widths.append(width)
        return len(self.widths) - 1

    def param(self, name, value):
        value = np.ascontiguousarray(value, dtype=np.float64)
        g = ParamGroup(name, self.n, value.shape)
        self.groups.append(g)
        self.values.append(value.ravel())
        self.n += value.size
        return g

    def op(self, kind, ins, out, poff=0, npar=0, code=0, p=0.0, alpha=0.0, eps=0.0, moff=-1, roff=-1, mask=-1):
        row = [0] * ops.OPI_COLS
        row[ops.KIND] = kind
        ins = list(ins) + [-1] * (3 - len(ins))
        row[ops.IN0], row[ops.IN1], row[ops.IN2] = ins
        row[ops.OUT] = out
        row[ops.POFF] = poff
        row[ops.NPAR] = npar
        row[ops.CODE] = code
        row[ops.MOFF] = moff
        row[ops.ROFF] = roff
        row[ops.MASK] = mask
        f = [0.0] * ops.OPF_COLS
        f[ops.P], f[ops.ALPHA], f[ops.EPS] = p, alpha, eps
        self.ops.append((row, f))
        return len(self.ops) - 1

    def dense(self, name, x, fan_out, bias=True, init=None, dropconnect=0.0, mode=ops.INVERTED, bias_value=0.0):
        fan_in = self.widths[x]
        need = self.n + fan_in * fan_out + fan_out
        if need * BYTES_PER_PARAM > MAX_BYTES:  # refuse before drawing gigabytes of weights
            raise ValueError(f"network too large for memory: {name} brings it to {need:,} parameters, about "
                             f"{need * BYTES_PER_PARAM / 2**30:.1f} GiB with optimizer state; "
                             f"the limit is {MAX_BYTES / 2**30:.0f} GiB")
        init = init or self.init
        # A layer names an init id; the network default may carry a scale: (id, scale).
        init_id, scale = (init, None) if isinstance(init, str) else init
        try:
            W = initializers.draw(init_id, self.rng, fan_in, fan_out, scale)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None
        w = self.param(f"{name}.W", W)
        b = self.param(f"{name}.b", np.full(fan_out, bias_value)) if bias else None
        moff = -1
        if dropconnect > 0.0:
            moff = self.wm
            self.wm += 2 * fan_in * fan_out
        y = self.buffer(fan_out)
        o = self.op(ops.DENSE, [x], y, poff=w.offset, npar=int(bias), code=mode, p=dropconnect, moff=moff)
        self.denses.append(DenseInfo(name, o, fan_in, fan_out, w, b))
        return y

    def act(self, name, x, kind, per_unit=False):
        spec = activations.get(kind)
        if per_unit and not spec.learned:
            raise ValueError(f"per_unit applies only to learned slopes (prelu), not to {kind!r}")
        width = self.widths[x]
        poff, npar = 0, 0
        if spec.learned:
            g = self.param(f"{name}.slope", np.full(width if per_unit else 1, activations.PRELU_INIT))
            poff, npar = g.offset, g.size
        y = self.buffer(width)
        self.op(ops.ACT, [x], y, poff=poff, npar=npar, code=spec.code, alpha=spec.alpha)
        return y, spec.can_die


def build(input_dim: int, layers: Sequence, loss: str = "softmax_ce", init: str = "glorot_uniform",
          seed: int = 0, init_scale: float | None = None) -> "Network":
    """Compile ``layers`` (specs, or activation ids as shorthand) on inputs of ``input_dim``."""
    input_dim = _positive_int(input_dim, "input width", MAX_WIDTH)
    loss_spec = losses.get(loss)
    initializers.get(init)
    layers = [Activation(x) if isinstance(x, str) else x for x in layers]
    if not layers:
        raise ValueError("a network needs at least one layer")
    if len(layers) > MAX_LAYERS:
        raise ValueError(f"number of layers must be in [1, {MAX_LAYERS}], got {len(layers)}")
    c = _Compiler(input_dim, (init, init_scale) if init_scale is not None else init, seed)
    x = 0
    nd = 0
    for i, L in enumerate(layers):
        where = f"layer {i} ({type(L).__name__})"
        if isinstance(L, Dense):
            nd += 1
            units = _positive_int(L.units, f"{where}: units", MAX_WIDTH)
            x = c.dense(f"dense{nd}", x, units, L.bias, L.init, _prob(L.dropconnect, f"{where}: dropconnect"),
                        _mode(L.mode, f"{where}: mode"))
            c.taps.append(Tap(f"dense{nd}", x, False))
        elif isinstance(L, Activation):
            try:
                x, dies = c.act(f"act{i}", x, L.kind, L.per_unit)
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            c.taps.append(Tap(f"{L.kind}{i}", x, dies))
        elif isinstance(L, Dropout):
            p = _prob(L.p, f"{where}: drop probability p")
            w = c.widths[x]
            mask = c.buffer(w)
            y = c.buffer(w)
            c.op(ops.DROPOUT, [x], y, code=_mode(L.mode, f"{where}: mode"), p=p, mask=mask)
            x = y
            c.taps.append(Tap(f"dropout{i}", x, False))
        elif isinstance(L, (BatchNorm, LayerNorm)):
            if not 0.0 < L.eps <= 1.0:
                raise ValueError(f"{where}: eps must be in (0, 1], got {L.eps}")
            w = c.widths[x]
            poff = 0
            if L.affine:
                poff = c.param(f"norm{i}.gamma", np.ones(w)).offset
                c.param(f"norm{i}.beta", np.zeros(w))
            y = c.buffer(w)
            if isinstance(L, BatchNorm):
                if not 0.0 <= L.momentum <= 1.0:
                    raise ValueError(f"{where}: momentum must be in [0, 1], got {L.momentum}")
                roff = c.n_running
                c.running.append(np.concatenate([np.zeros(w), np.ones(w)]))
                c.n_running += 2 * w
                c.op(ops.BATCHNORM, [x], y, poff=poff, npar=int(L.affine), alpha=L.momentum, eps=L.eps, roff=roff)
            else:
                c.op(ops.LAYERNORM, [x], y, poff=poff, npar=int(L.affine), eps=L.eps)
            x = y
            c.taps.append(Tap(f"{'batch' if isinstance(L, BatchNorm) else 'layer'}norm{i}", x, False))
        elif isinstance(L, Residual):
            w = c.widths[x]
            hidden = w if L.hidden is None else _positive_int(L.hidden, f"{where}: hidden", MAX_WIDTH)
            try:
                h = c.dense(f"res{i}.dense1", x, hidden, L.bias, L.init)
                h, _ = c.act(f"res{i}.act", h, L.activation)
                f = c.dense(f"res{i}.dense2", h, w, L.bias, L.init)
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            y = c.buffer(w)
            c.op(ops.ADD, [x, f], y)
            x = y
            c.taps.append(Tap(f"residual{i}", x, False))
        elif isinstance(L, Highway):
            w = c.widths[x]
            if not -20.0 <= L.gate_bias <= 20.0:
                raise ValueError(f"{where}: gate_bias must be in [-20, 20], got {L.gate_bias}")
            try:
                zt = c.dense(f"highway{i}.gate", x, w, True, L.init, bias_value=L.gate_bias)
                t, _ = c.act(f"highway{i}.gate_act", zt, "sigmoid")
                zh = c.dense(f"highway{i}.transform", x, w, True, L.init)
                h, _ = c.act(f"highway{i}.act", zh, L.activation)
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            y = c.buffer(w)
            c.op(ops.HIGHWAY, [t, h, x], y)
            x = y
            c.taps.append(Tap(f"highway{i}", x, False))
        else:
            raise ValueError(f"{where}: not a layer spec: {L!r}")
    out_dim = c.widths[x]
    if c.ops[-1][0][ops.OUT] != len(c.widths) - 1 or x != len(c.widths) - 1:
        raise AssertionError("the compiler must end on the last buffer")
    if out_dim < loss_spec.min_outputs:
        raise ValueError(f"loss {loss!r} needs at least {loss_spec.min_outputs} outputs, the network has {out_dim}")
    return Network(input_dim, tuple(layers), loss_spec, c, init, seed)


def mlp(sizes: Sequence[int], activation: str = "tanh", init: str = "glorot_uniform", loss: str = "softmax_ce",
        seed: int = 0, dropout: float = 0.0, init_scale: float | None = None) -> "Network":
    """A multilayer perceptron, e.g. ``sizes=[2, 64, 64, 2]``: Dense layers with
    ``activation`` between them (optionally followed by dropout), none after the last."""
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes needs an input and an output width, got {sizes}")
    layers: list = []
    for i, s in enumerate(sizes[1:]):
        layers.append(Dense(s))
        if i < len(sizes) - 2:
            layers.append(Activation(activation))
            if dropout:
                layers.append(Dropout(dropout))
    return build(sizes[0], layers, loss=loss, init=init, seed=seed, init_scale=init_scale)


class Network:
    """A compiled network.  ``params`` is the flat parameter vector (float64, owned here);
    ``running`` holds batch-norm running statistics (not trained by the optimizer)."""

    def __init__(self, input_dim, layers, loss_spec, c: _Compiler, init, seed):
        self.input_dim = input_dim
        self.layers = layers
        self.loss = loss_spec
        self.init = init
        self.seed = seed
        self.groups = tuple(c.groups)
        self.dense = tuple(c.denses)
        self.taps = tuple(c.taps)
        self.cum = np.concatenate([[0], np.cumsum(c.widths)]).astype(np.int64)
        self.output_dim = c.widths[-1]
        self.wm_size = c.wm
        opi = np.array([r for r, _ in c.ops], dtype=np.int64)
        opf = np.array([f for _, f in c.ops], dtype=np.float64)
        # Backward visits ops in reverse: the first op to reach a buffer writes its gradient,
        # later ones add to it (a residual input receives two contributions).
        seen: set[int] = set()
        for o in range(opi.shape[0] - 1, -1, -1):
            for col, acc in ((ops.IN0, ops.ACC0), (ops.IN1, ops.ACC1), (ops.IN2, ops.ACC2)):
                b = opi[o, col]
                if b >= 0:
                    opi[o, acc] = int(b in seen)
                    seen.add(b)
        self.opi = opi
        self.opf = opf
        self.params = np.concatenate(c.values) if c.values else np.zeros(0)
        self.running = np.concatenate(c.running) if c.running else np.zeros(1)
        self.grad = np.zeros_like(self.params)
        self.tap_buffers = np.array([t.buffer for t in self.taps], dtype=np.int64)
        self.tap_dead = np.array([t.can_die for t in self.taps], dtype=np.int64)
        self.dense_ops = np.array([d.op for d in self.dense], dtype=np.int64)
        self.has_batchnorm = bool(np.any(opi[:, ops.KIND] == ops.BATCHNORM))
        self._ws: dict[int, Workspace] = {}

    # -- structure -----------------------------------------------------------------------
    @property
    def n_params(self) -> int:
        return int(self.params.shape[0])

    def sizes(self) -> list[int]:
        return [self.input_dim] + [d.fan_out for d in self.dense]

    def layer_params(self) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """Per dense layer the pair (W, b): views into ``params``, W shaped fan_in x fan_out."""
        out = []
        for d in self.dense:
            W = self.params[d.w.offset: d.w.offset + d.w.size].reshape(d.w.shape)
            b = None if d.b is None else self.params[d.b.offset: d.b.offset + d.b.size]
            out.append((W, b))
        return out

    def group(self, name: str) -> np.ndarray:
        """View of the named parameter group (e.g. ``dense1.W``)."""
        for g in self.groups:
            if g.name == name:
                return self.params[g.offset: g.offset + g.size].reshape(g.shape)
        raise KeyError(f"no parameter group {name!r}; known: {', '.join(g.name for g in self.groups)}")

    def copy(self) -> "Network":
        new = object.__new__(Network)
        new.__dict__.update(self.__dict__)
        new.params = self.params.copy()
        new.running = self.running.copy()
        new.grad = np.zeros_like(self.params)
        new._ws = {}
        return new

    def workspace(self, rows: int) -> Workspace:
        ws = self._ws.get(rows)
        if ws is None:
            ws = self._ws[rows] = Workspace(self, rows)
        return ws

    # -- evaluation ----------------------------------------------------------------------
    def check_inputs(self, X, y=None, what="X"):
        """Validated float64 inputs (B, input_dim) and labels as the kernels want them."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.input_dim or X.shape[0] < 1:
            raise ValueError(f"{what} must have shape (rows >= 1, {self.input_dim}), got {X.shape}")
        if y is None:
            return X, None, None
        y = np.asarray(y)
        B, k = X.shape[0], self.output_dim
        if self.loss.id == "softmax_ce":
            if y.shape != (B,) or not np.all(y == np.round(y)) or y.min() < 0 or y.max() >= k:
                raise ValueError(f"labels for softmax_ce must be {B} integers in [0, {k - 1}], got shape {y.shape}")
            return X, np.ascontiguousarray(y, dtype=np.int64), np.zeros((1, 1))
        yf = np.ascontiguousarray(y, dtype=np.float64)
        if yf.ndim == 1:
            yf = yf.reshape(B, 1) if yf.shape[0] == B else yf
        if yf.shape != (B, k):
            raise ValueError(f"targets for {self.loss.id} must have shape ({B}, {k}) or ({B},) for one output, got {y.shape}")
        if not np.all(np.isfinite(yf)):
            raise ValueError(f"targets for {self.loss.id} must be finite")
        return X, np.zeros(1, dtype=np.int64), yf

    def _run(self, X, y, train, step, seed, want_grad):
        X, yi, yf = self.check_inputs(X, y)
        B = X.shape[0]
        if train and self.has_batchnorm and B < 2:
            raise ValueError("batch norm in training mode needs a batch of at least 2 rows")
        ws = self.workspace(B)
        with single_thread():
            lv, acc = kernels.loss_and_grad(self.opi, self.opf, self.cum, self.loss.code, self.params, self.running,
                                            ws.Z, ws.D, ws.WM, ws.bits, ws.scratch, self.grad, X, yi, yf, bool(train),
                                            int(self.seed if seed is None else seed), int(step), want_grad)
        return lv, acc, ws

    def loss_and_grad(self, X, y, train: bool = False, step: int = 0, seed: int | None = None):
        """(loss, flat gradient) on the batch.  ``train`` draws dropout masks keyed by
        (seed, step) and uses (and updates) batch-norm batch statistics."""
        lv, _, _ = self._run(X, y, train, step, seed, True)
        return lv, self.grad.copy()

    def loss_value(self, X, y, train: bool = False, step: int = 0, seed: int | None = None) -> float:
        return self._run(X, y, train, step, seed, False)[0]

    def evaluate(self, X, y) -> tuple[float, float]:
        """(loss, accuracy) in test mode; accuracy is NaN for regression."""
        lv, acc, _ = self._run(X, y, False, 0, 0, False)
        return lv, acc

    def predict(self, X) -> np.ndarray:
        """Outputs (logits for classification) in test mode."""
        X, _, _ = self.check_inputs(X)
        ws = self.workspace(min(X.shape[0], 4096))
        out = np.empty((X.shape[0], self.output_dim))
        with single_thread():
            kernels.predict(self.opi, self.opf, self.cum, self.params, self.running, ws.Z, ws.WM, ws.bits, X, out)
        return out

    def inspect(self, X, y, train: bool = False, step: int = 0, seed: int | None = None):
        """Per tap the activations and the loss gradient with respect to them (copies), and
        the loss: what the vanishing-gradient views plot."""
        lv, _, ws = self._run(X, y, train, step, seed, True)
        B = X.shape[0]
        acts = [ws.buffer(self, t.buffer, B).copy() for t in self.taps]
        grads = [ws.grad(self, t.buffer, B).copy() for t in self.taps]
        return lv, acts, grads

    def masks(self, rows: int) -> dict[str, np.ndarray]:
        """The dropout and DropConnect masks of the latest training batch of ``rows`` rows run
        through this network's own workspace (see :meth:`masks_in`)."""
        ws = self.workspace(rows)
        return self.masks_in(ws.Z, ws.WM, rows)

    def masks_in(self, Z: np.ndarray, WM: np.ndarray, rows: int) -> dict[str, np.ndarray]:
        """Copies of the masks a training pass of ``rows`` rows left in the buffers Z and WM
        (a workspace's or a race's): per dropout op ``op{o}.dropout`` (rows x width), per
        DropConnect layer ``{name}.dropconnect`` (fan_in x fan_out); 1 kept, 0 dropped."""
        out = {}
        for o in range(self.opi.shape[0]):
            if self.opi[o, ops.KIND] == ops.DROPOUT:
                m = int(self.opi[o, ops.MASK])
                out[f"op{o}.dropout"] = Z[rows * self.cum[m]: rows * self.cum[m + 1]].reshape(rows, -1).copy()
        for d in self.dense:
            mo = self.opi[d.op, ops.MOFF]
            if mo >= 0:
                out[f"{d.name}.dropconnect"] = WM[mo: mo + d.fan_in * d.fan_out].reshape(d.fan_in, d.fan_out).copy()
        return out

    def masks_at(self, rows: int, seed: int, t: int) -> dict[str, np.ndarray]:
        """The dropout and DropConnect masks a training pass of ``rows`` rows draws at step
        ``t`` with mask seed ``seed`` (same keys and shapes as :meth:`masks_in`), recomputed
        from the counter-based generator: masks depend only on (seed, t, op), not on the data."""
        out = {}
        with single_thread():
            for o in range(self.opi.shape[0]):
                if self.opi[o, ops.KIND] == ops.DROPOUT:
                    m = int(self.opi[o, ops.MASK])
                    mask = np.ones(rows * int(self.cum[m + 1] - self.cum[m]))
                    if self.opf[o, ops.P] > 0.0:
                        kernels.draw_mask(np.uint64(seed), np.uint64(t), np.uint64(o), float(self.opf[o, ops.P]), mask)
                    out[f"op{o}.dropout"] = mask.reshape(rows, -1)
            for d in self.dense:
                if self.opi[d.op, ops.MOFF] >= 0:
                    mask = np.empty(d.fan_in * d.fan_out)
                    kernels.draw_mask(np.uint64(seed), np.uint64(t), np.uint64(d.op), float(self.opf[d.op, ops.P]),
                                      mask)
                    out[f"{d.name}.dropconnect"] = mask.reshape(d.fan_in, d.fan_out)
        return out

    def __repr__(self) -> str:
        return f"Network({self.input_dim} -> {self.output_dim}, {len(self.layers)} layers, {self.n_params} params, loss={self.loss.id})"
