"""The Network lab headless: a scenario's ``[lab]`` options (:class:`engine.scenario.LabOptions`)
built into a data split, a network and its contenders, and the race that trains every enabled
contender from one initialisation on one mini-batch order."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from . import data as DATA
from .nn import gradcheck as GC, mistakes as MISTAKES
from .nn.mistakes import Expected
from .nn.layers import Activation, BatchNorm, Dense, Dropout, Highway, LayerNorm, Residual
from .nn.network import Network, build as build_network
from .nn.train import NetRace
from .race.racer import Racer
from .scenario import LabOptions, ScenarioError, Scenario


class LabError(ScenarioError):
    """Lab options that cannot be built; the message names the field (``lab.init: ...``)."""


def natural_loss(dataset: str) -> str:
    """The loss a data set trains with when ``lab.loss`` is empty."""
    return "softmax_ce" if DATA.spec(dataset).kind == "classification" else "mse"


def output_width(dataset: str, loss: str) -> int:
    s = DATA.spec(dataset)
    if loss == "softmax_ce":
        return s.n_classes
    return 1


def _check_loss(lab: LabOptions, loss: str) -> None:
    s = DATA.spec(lab.dataset)
    if s.kind == "regression" and loss != "mse":
        raise LabError(f"lab.loss: {lab.dataset} is a regression data set: it trains with 'mse', not {loss!r}")
    if s.kind == "classification":
        if loss == "mse":
            raise LabError(f"lab.loss: {lab.dataset} has class labels: use 'softmax_ce' (or 'bce' for 2 classes), "
                           "not 'mse'")
        if loss == "bce" and s.n_classes != 2:
            raise LabError(f"lab.loss: 'bce' needs 2 classes, {lab.dataset} has {s.n_classes}")


def layer_shapes(lab: LabOptions) -> list[tuple[str, int, int]]:
    """(description, fan_in, fan_out) of every weight matrix of the lab's network, in order
    (plain networks: the network's own names dense1, dense2, ...)."""
    loss = lab.loss or natural_loss(lab.dataset)
    dims = DATA.spec(lab.dataset).input_dim
    out = []
    h = list(lab.hidden)
    if lab.skip == "none":
        widths = [dims, *h, output_width(lab.dataset, loss)]
        return [(f"dense{i + 1}", widths[i], widths[i + 1]) for i in range(len(widths) - 1)]
    out.append(("dense1", dims, h[0]))
    stream = h[0]
    for i, w in enumerate(h[1:], start=1):
        if lab.skip == "residual":
            out += [(f"hidden layer {i + 1} (residual, inner)", stream, w),
                    (f"hidden layer {i + 1} (residual, outer)", w, stream)]
        else:
            out += [(f"hidden layer {i + 1} (highway gate)", stream, stream),
                    (f"hidden layer {i + 1} (highway transform)", stream, stream)]
    out.append(("the output layer", stream, output_width(lab.dataset, loss)))
    return out


def init_problem(lab: LabOptions, init: str | None = None) -> str:
    """Why ``init`` (default: ``lab.init``) cannot initialise the lab's network, or "" if it can:
    identity needs every weight matrix square."""
    init = lab.init if init is None else init
    if init == "identity":
        bad = [(n, i, o) for n, i, o in layer_shapes(lab) if i != o]
        if bad:
            n, i, o = bad[0]
            return (f"identity needs square layers: {n} is {i} x {o}"
                    + (f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""))
    return ""


def layers(lab: LabOptions) -> list:
    """The layer specs of the lab's network.  Plain: per hidden layer Dense (with DropConnect),
    norm, activation, dropout.  With skips the first hidden layer projects the input to the
    stream's width ``hidden[0]``; each later hidden layer is a block on that stream (residual:
    inner width ``hidden[i]``; highway: the stream's width), followed by norm and dropout."""
    h = list(lab.hidden)
    drop = list(lab.dropout) or [0.0] * len(h)
    norm = {"none": None, "batch": BatchNorm, "layer": LayerNorm}[lab.norm]
    out: list = []

    def after(i, act=True):
        if norm is not None:
            out.append(norm())
        if act:
            out.append(Activation(lab.activation))
        if drop[i] > 0.0:
            out.append(Dropout(drop[i], lab.dropout_form))

    if lab.skip == "highway" and any(w != h[0] for w in h):
        raise LabError(f"lab.hidden: highway blocks keep their width: every hidden width must equal the first "
                       f"({h[0]}), got {h}")
    if lab.dropconnect > 0.0 and lab.skip != "none":
        raise LabError("lab.dropconnect: DropConnect applies to plain layers only; set lab.skip to 'none' "
                       f"(it is {lab.skip!r}) or dropconnect to 0")
    out.append(Dense(h[0], dropconnect=lab.dropconnect, mode=lab.dropout_form))
    after(0)
    for i, w in enumerate(h[1:], start=1):
        if lab.skip == "none":
            out.append(Dense(w, dropconnect=lab.dropconnect, mode=lab.dropout_form))
            after(i)
        elif lab.skip == "residual":
            out.append(Residual(lab.activation, hidden=w))
            after(i, act=False)
        else:
            out.append(Highway(lab.activation))
            after(i, act=False)
    loss = lab.loss or natural_loss(lab.dataset)
    out.append(Dense(output_width(lab.dataset, loss)))
    return out


def racers(lab: LabOptions) -> list[Racer]:
    """The enabled contenders as racers; ``lab.l2`` becomes each one's weight_decay (the
    gradient of l2/2 |w|^2 added to its gradient) unless the contender sets its own."""
    out = []
    for i, c in enumerate(lab.contenders):
        if not c.enabled:
            continue
        r = c.to_racer()
        if lab.l2 > 0.0 and "weight_decay" not in c.hyper:
            if "weight_decay" not in [h.name for h in r.spec.hyper]:
                raise LabError(f"lab.l2: contenders[{i}] ({c.optimizer}) has no weight_decay to carry the L2 "
                               "penalty; set lab.l2 to 0 or choose another optimizer")
            r = replace(r, hyper={**r.hyper, "weight_decay": lab.l2})
        out.append(r)
    if not out:
        raise LabError("lab.contenders: no contender is enabled")
    return out


def build(lab: LabOptions) -> tuple[Network, DATA.Split, list[Racer]]:
    """The lab's network (initialised from ``lab.seed``), its data split and its enabled
    contenders; raises LabError naming the field when an option cannot be honoured."""
    Scenario(mode="lab", lab=lab).validate("lab options")
    loss = lab.loss or natural_loss(lab.dataset)
    _check_loss(lab, loss)
    problem = init_problem(lab)
    if problem:
        raise LabError(f"lab.init: {problem}")
    for i, c in enumerate(lab.contenders):
        problem = init_problem(lab, c.init) if c.init is not None else ""
        if problem:
            raise LabError(f"lab.contenders[{i}].init: {problem}")
    s = DATA.spec(lab.dataset)
    split = DATA.load(lab.dataset, None if s.fixed_size else lab.n, None if s.fixed_size else lab.noise,
                      seed=lab.data_seed, val_fraction=lab.val_fraction)
    if lab.batch_size > split.X_train.shape[0]:
        raise LabError(f"lab.batch_size: {lab.batch_size} is more than the {split.X_train.shape[0]} training "
                       "examples")
    if lab.norm == "batch" and lab.batch_size < 2:
        raise LabError("lab.batch_size: batch norm needs batches of at least 2")
    try:
        net = build_network(s.input_dim, layers(lab), loss=loss, init=lab.init, seed=lab.seed,
                            init_scale=lab.init_scale)
    except ValueError as e:
        raise LabError(f"lab: {e}") from None
    return net, split, racers(lab)


def initial_params(lab: LabOptions, net: Network) -> np.ndarray | None:
    """Each enabled contender's initial weights, one row each, when a contender sets its own
    ``init`` or ``init_scale``: the lab's network built with that initialisation from
    ``lab.seed``; None when every contender starts from ``net``'s weights."""
    inits = [(i, lab.init_of(c)) for i, c in enumerate(lab.contenders) if c.enabled]
    if all(init == (lab.init, lab.init_scale) for _, init in inits):
        return None
    dims = DATA.spec(lab.dataset).input_dim
    loss = lab.loss or natural_loss(lab.dataset)
    built = {(lab.init, lab.init_scale): net.params}
    for j, (init, scale) in inits:
        if (init, scale) not in built:
            try:
                built[init, scale] = build_network(dims, layers(lab), loss=loss, init=init, seed=lab.seed,
                                                   init_scale=scale).params
            except ValueError as e:
                raise LabError(f"lab.contenders[{j}] (init {init!r}): {e}") from None
    return np.stack([built[init] for _, init in inits])


def patience_checks(patience: int, val_every: int) -> int:
    """``lab.patience`` (steps without a better validation loss) as NetRace counts it: in
    validations, one every ``val_every`` steps, rounded up (0 stays off)."""
    if patience <= 0:
        return 0
    return -(-int(patience) // max(int(val_every), 1))


def lab_race(lab: LabOptions, val_every: int = 10, **kwargs) -> NetRace:
    """Every enabled contender trained from the same initialisation (or its own ``init``, see
    :func:`initial_params`) on the same mini-batch order (and the same dropout masks: they are
    keyed by ``lab.seed``, the step and the layer),
    validated every ``val_every`` steps; with ``lab.patience`` a contender stops early once
    ``lab.patience`` steps (rounded up to whole validations) brought no better validation loss.
    ``kwargs`` go to :class:`~engine.nn.train.NetRace` (tel_every, snapshot_every...)."""
    net, split, rs = build(lab)
    if lab.patience and not val_every:
        raise LabError("lab.patience: early stopping needs validation (val_every >= 1)")
    return NetRace(net, split, rs, batch_size=lab.batch_size, seed=lab.seed, val_every=val_every,
                   patience=patience_checks(lab.patience, val_every), initial=initial_params(lab, net),
                   **kwargs)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> np.ndarray:
    """The confusion matrix (classes x classes, int64): entry [i, j] counts the examples of
    true class i predicted as class j."""
    C = max(int(classes), 1)
    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"confusion: {t.size} true classes but {p.size} predictions")
    if t.size and (min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= C):
        raise ValueError(f"confusion: classes must lie in [0, {C})")
    return np.bincount(t * C + p, minlength=C * C).reshape(C, C)


def accuracy(cm: np.ndarray) -> float:
    """The fraction on the diagonal of a confusion matrix (0 when it is empty)."""
    n = cm.sum()
    return float(np.trace(cm) / n) if n else 0.0


def log_heat(values: np.ndarray, lo_pct: float = 2.0,
             hi_pct: float = 98.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """A heat map's cells for non-negative ``values`` (e.g. gradient norms, layer x step): their
    log10, which cells are NaN or infinite (diverged), which are exactly zero (a real value: a
    dead ReLU layer, a zero initialisation; drawn at the bottom of the scale) and the colour
    limits, the ``lo_pct`` and ``hi_pct`` percentiles of the finite positive logs (0 and 1 when
    there is none; hi > lo always).  Returns (logs with the bad and zero cells at lo, bad, zero,
    lo, hi)."""
    v = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(v)
    zero = v == 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log10(v)
    fin = logs[~bad & ~zero]
    lo, hi = (float(np.percentile(fin, lo_pct)), float(np.percentile(fin, hi_pct))) if fin.size else (0.0, 1.0)
    hi = max(hi, lo + 1e-6)
    return np.where(bad | zero, lo, logs), bad, zero, lo, hi


def raw_validation(lab: LabOptions) -> np.ndarray:
    """The validation inputs before standardisation, in the race's order (a digit as drawn)."""
    s = DATA.spec(lab.dataset)
    split = DATA.load(lab.dataset, None if s.fixed_size else lab.n, None if s.fixed_size else lab.noise,
                      seed=lab.data_seed, val_fraction=lab.val_fraction, standardise=False)
    return split.X_val


GRADCHECK_ROWS = 32  # validation examples the gradient check differentiates (test mode: no masks)
GRADCHECK_PER_GROUP = 64  # parameters checked per weight matrix or bias at most (a wide layer: a sample)
SWEEP_PER_GROUP = 8  # the epsilon sweep's parameters per group (12 steps: 12 checks)


@dataclass(frozen=True)
class GradientCheck:
    """The gradient check of one network: per parameter group and per dense layer the
    relative error of (possibly broken) backprop against centered differences, the epsilon
    sweep with its reference lines, and, with a mistake, the layers it should fail and why."""

    groups: tuple[str, ...]
    group_errors: np.ndarray  # per group
    checked: int  # parameters checked (every group's, or a sample of each)
    total: int
    group_layer: np.ndarray  # per group: its dense layer (1-based), 0 for none (norms, slopes)
    layer_errors: np.ndarray  # per dense layer
    eps: np.ndarray
    sweep: np.ndarray  # the true backward pass against differences of step eps
    broken_sweep: np.ndarray | None  # the broken one's, with a mistake: a floor no step removes
    truncation: np.ndarray  # slope-2 line through the true sweep's best point
    roundoff: np.ndarray  # slope -1 line
    mistake: str
    layer: int
    expected: Expected | None


def gradcheck_batch(race: NetRace) -> tuple[np.ndarray, np.ndarray]:
    """The examples the gradient check uses: the first GRADCHECK_ROWS validation examples."""
    n = min(GRADCHECK_ROWS, race.Xv.shape[0])
    y = race.yvi if race.net.loss.id == "softmax_ce" else race.yvf
    return race.Xv[:n], y[:n]


def check_gradients(net: Network, X, y, mistake: str = "", layer: int = 1, sweep: bool = True,
                    job=None, per_group: int = GRADCHECK_PER_GROUP) -> GradientCheck:
    """The gradient check of ``net`` on (X, y) in test mode over up to ``per_group`` seeded
    parameters of every group, backprop broken by ``mistake`` at dense ``layer`` when given;
    raises ValueError naming why a mistake cannot be made there.  ``job`` (progress, check)
    follows the check and then the sweep."""
    if not np.all(np.isfinite(net.params)):
        raise ValueError("this network diverged (its weights hold NaN or infinity): there is no gradient to check")
    mistake = mistake or None
    want = MISTAKES.expected(net, mistake, layer) if mistake else None
    L = len(net.groups)
    idx = GC.group_sample(net, per_group)
    gc = GC.gradcheck(net, X, y, mistake=mistake, layer=layer, job=_Part(job, 0, L + len(GC.EPS_SWEEP)), index=idx)
    owner = {g.name: i + 1 for i, d in enumerate(net.dense) for g in (d.w, d.b) if g is not None}
    names = tuple(g.name for g in net.groups)
    eps = np.array(GC.EPS_SWEEP)
    errs = np.full(eps.size, np.nan)
    broken = None
    if sweep:
        n = eps.size * (2 if mistake else 1)
        sample = GC.group_sample(net, SWEEP_PER_GROUP, seed=1)
        eps, errs = GC.eps_sweep(net, X, y, job=_Part(job, L, L + n), index=sample)
        if mistake:
            _, broken = GC.eps_sweep(net, X, y, mistake=mistake, layer=layer, index=sample,
                                     job=_Part(job, L + eps.size, L + n))
    trunc, rnd = GC.reference_lines(eps, errs)
    return GradientCheck(names, np.array([gc.layers[n] for n in names]), idx.size, net.n_params,
                         np.array([owner.get(n, 0) for n in names]),
                         GC.layer_errors(net, gc), eps, errs, broken, trunc, rnd, mistake or "", int(layer), want)


class _Part:
    """A job's progress for one part of a longer task (done counts from ``start``)."""

    def __init__(self, job, start: int, total: int):
        self.job, self.start, self.total = job, start, total

    def check(self) -> None:
        if self.job is not None:
            self.job.check()

    def progress(self, done: int, _total: int) -> None:
        if self.job is not None:
            self.job.progress(self.start + done, self.total)
