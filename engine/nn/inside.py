"""Inside a network, as the lab's diagram and distribution views show it: its layers of units
(the inputs of each dense layer, then the outputs), each unit's output over the input plane,
per-unit statistics and gradients on a batch, and percentile bands of recorded values."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import activations, kernels, ops
from .blas import single_thread
from .network import Network

# TensorBoard's distribution bands: the percentiles drawn as nested bands around the median.
BAND_PERCENTILES = (0.0, 7.0, 16.0, 31.0, 50.0, 69.0, 84.0, 93.0, 100.0)
SATURATED = 0.95  # a sigmoid output above 0.95 or below 0.05, a tanh output beyond +-0.95, is saturated


@dataclass(frozen=True)
class Column:
    """A layer of units of the diagram: the input of dense layer ``index`` (0 is the data),
    or, for the last, the network's output.  ``dropout`` names the mask of the dropout op
    that wrote it (``op{o}.dropout``, as Network.masks_at keys them) with its drop rate."""

    name: str
    buffer: int
    width: int
    activation: str  # the activation that produced it ("" for the data, a dense output, a norm)
    dropout: str = ""
    p: float = 0.0


def _producer(net: Network, buffer: int) -> int:
    for o in range(net.opi.shape[0]):
        if net.opi[o, ops.OUT] == buffer:
            return o
    return -1


def _activation_code(net: Network, buffer: int) -> int:
    """The activation code of the op that produced ``buffer`` (through dropout), or -1."""
    o = _producer(net, buffer)
    while o >= 0 and net.opi[o, ops.KIND] == ops.DROPOUT:
        o = _producer(net, int(net.opi[o, ops.IN0]))
    return int(net.opi[o, ops.CODE]) if o >= 0 and net.opi[o, ops.KIND] == ops.ACT else -1


def columns(net: Network) -> list[Column]:
    """The diagram's layers of units: each dense layer's input, then the network's output;
    the weights of dense layer i connect column i - 1 to column i."""
    codes = {s.code: s.id for s in activations.ACTIVATIONS}
    out = []
    bufs = [int(net.opi[d.op, ops.IN0]) for d in net.dense] + [int(net.opi[net.dense[-1].op, ops.OUT])]
    for i, b in enumerate(bufs):
        name = "input" if i == 0 else "output" if i == len(bufs) - 1 else f"hidden {i}"
        o = _producer(net, b)
        drop, p = "", 0.0
        if o >= 0 and net.opi[o, ops.KIND] == ops.DROPOUT:
            drop, p = f"op{o}.dropout", float(net.opf[o, ops.P])
        code = _activation_code(net, b)
        out.append(Column(name, b, int(net.cum[b + 1] - net.cum[b]), codes.get(code, ""), drop, p))
    return out


def _forward(net: Network, X: np.ndarray, want: list[int]) -> list[np.ndarray]:
    """The buffers ``want`` of a test-mode forward pass over the rows of X (in blocks)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    n = X.shape[0]
    block = min(n, 4096)
    ws = net.workspace(block)
    out = [np.empty((n, int(net.cum[b + 1] - net.cum[b]))) for b in want]
    running = net.running.copy()
    with single_thread():
        for lo in range(0, n, block):
            hi = min(n, lo + block)
            B = hi - lo
            ws.Z[: B * net.cum[1]] = X[lo:hi].ravel()
            kernels.forward(net.opi, net.opf, net.cum, net.params, running, ws.Z, ws.WM, ws.bits, B, False, 0, 0)
            for k, b in enumerate(want):
                out[k][lo:hi] = ws.buffer(net, b, B)
    return out


def unit_grids(net: Network, extent: tuple[float, float, float, float], res: int) -> list[np.ndarray]:
    """Per column, every unit's output (test mode) over a res x res grid of the input plane
    ``extent`` = (x0, x1, y0, y1): arrays (res, res, width), rows y.  2-D inputs only."""
    if net.input_dim != 2:
        raise ValueError(f"unit images need 2-D inputs, the network takes {net.input_dim}")
    if not 2 <= int(res) <= 512:
        raise ValueError(f"res must be in [2, 512], got {res}")
    x0, x1, y0, y1 = extent
    gx, gy = np.meshgrid(np.linspace(x0, x1, res), np.linspace(y0, y1, res))
    pts = np.stack([gx.ravel(), gy.ravel()], axis=1)
    cols = columns(net)
    got = _forward(net, pts, [c.buffer for c in cols])
    return [g.reshape(res, res, -1) for g in got]


@dataclass(frozen=True)
class UnitStats:
    """One batch through the network (test mode): per column the units' outputs (B, width)
    and the loss gradient with respect to them; per dense layer W, b and their gradients."""

    columns: tuple[Column, ...]
    values: tuple[np.ndarray, ...]
    grads: tuple[np.ndarray, ...]
    W: tuple[np.ndarray, ...]
    b: tuple[np.ndarray | None, ...]
    dW: tuple[np.ndarray, ...]
    db: tuple[np.ndarray | None, ...]
    loss: float


def unit_stats(net: Network, X, y) -> UnitStats:
    """The batch (X, y) forward and backward in test mode, as the diagram's hover reads it."""
    X, yi, yf = net.check_inputs(X, y)
    B = X.shape[0]
    ws = net.workspace(B)
    G = np.zeros_like(net.params)
    running = net.running.copy()
    cum, last = net.cum, len(net.cum) - 2
    with single_thread():
        ws.Z[: B * cum[1]] = X.ravel()
        kernels.forward(net.opi, net.opf, cum, net.params, running, ws.Z, ws.WM, ws.bits, B, False, 0, 0)
        out = ws.buffer(net, last, B)
        lv, _ = kernels.loss(net.loss.code, out, yi, yf, ws.grad(net, last, B), True)
        kernels.backward(net.opi, net.opf, cum, net.params, running, ws.Z, ws.D, ws.WM, G, ws.scratch, B, False)
    cols = columns(net)
    # Buffer 0 (the data) gets no gradient from backward: it is left as zeros.
    grads = tuple(ws.grad(net, c.buffer, B).copy() if c.buffer else np.zeros((B, c.width)) for c in cols)
    Ws = tuple(net.params[d.w.offset: d.w.offset + d.w.size].reshape(d.w.shape).copy() for d in net.dense)
    dWs = tuple(G[d.w.offset: d.w.offset + d.w.size].reshape(d.w.shape) for d in net.dense)
    bs = tuple(None if d.b is None else net.params[d.b.offset: d.b.offset + d.b.size].copy() for d in net.dense)
    dbs = tuple(None if d.b is None else G[d.b.offset: d.b.offset + d.b.size] for d in net.dense)
    return UnitStats(tuple(cols), tuple(ws.buffer(net, c.buffer, B).copy() for c in cols), grads, Ws, bs, dWs, dbs,
                     float(lv))


def inactive_fraction(values: np.ndarray, activation: str) -> tuple[str, np.ndarray]:
    """Per unit (columns of ``values``, one row per example) the fraction of examples on which
    it is switched off: ("dead", output exactly 0) for ReLU, ("saturated", |tanh| > 0.95 or
    sigmoid beyond 0.05..0.95) for the squashing ones; ("", NaN) for others."""
    v = np.asarray(values, dtype=np.float64)
    if activation == "relu":
        return "dead", np.mean(v <= 0.0, axis=0)
    if activation == "tanh":
        return "saturated", np.mean(np.abs(v) > SATURATED, axis=0)
    if activation == "sigmoid":
        return "saturated", np.mean((v > SATURATED) | (v < 1.0 - SATURATED), axis=0)
    return "", np.full(v.shape[1] if v.ndim == 2 else 1, np.nan)


def dead_units(values: np.ndarray) -> float:
    """The fraction of ReLU units that output 0 on every example of the batch (dead)."""
    return float(np.mean(np.all(np.asarray(values) <= 0.0, axis=0)))


def bands(values: np.ndarray) -> np.ndarray:
    """The BAND_PERCENTILES of the finite ``values`` (NaN when none is finite)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if not v.size:
        return np.full(len(BAND_PERCENTILES), np.nan)
    return np.percentile(v, BAND_PERCENTILES)


def robust_range(values: np.ndarray, lo_pct: float = 1.0, hi_pct: float = 99.0) -> tuple[float, float]:
    """An axis range that outliers do not stretch: the lo_pct..hi_pct percentiles of the finite
    values widened by 10% (hi > lo always; (-1, 1) when none is finite)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if not v.size:
        return -1.0, 1.0
    lo, hi = np.percentile(v, [lo_pct, hi_pct])
    pad = 0.1 * (hi - lo) if hi > lo else max(abs(lo), 1.0) * 0.1
    return float(lo - pad), float(hi + pad)


def histogram(values: np.ndarray, lo: float, hi: float, bins: int = 40) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(counts, edges) of the finite values over [lo, hi], and how many fell below and above."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    counts, edges = np.histogram(np.clip(v, lo, hi), bins=bins, range=(lo, hi))
    below, above = int(np.sum(v < lo)), int(np.sum(v > hi))
    # Clipped outliers sit in the end bins: take them back out, they are counted apart.
    counts[0] -= below
    counts[-1] -= above
    return counts, edges, below, above


def misclassified(net: Network, X, labels, limit: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """(indices, predicted classes) of the first ``limit`` rows of X the network (test mode)
    classifies wrong against the class ``labels``."""
    pred = np.argmax(net.predict(X), axis=1) if net.output_dim > 1 else (net.predict(X)[:, 0] > 0).astype(np.int64)
    wrong = np.flatnonzero(pred != np.asarray(labels))[: max(int(limit), 0)]
    return wrong, pred[wrong]


@dataclass(frozen=True)
class LayerDistribution:
    """One layer of units on a batch: its outputs and the weights feeding it (flattened),
    their BAND_PERCENTILES, and the share switched off: ``word`` "dead" (the fraction of ReLU
    units that output 0 on every example) or "saturated" (of tanh / sigmoid outputs)."""

    name: str
    activation: str
    values: np.ndarray
    weights: np.ndarray
    value_bands: np.ndarray
    weight_bands: np.ndarray
    word: str
    fraction: float


def distributions(net: Network, X) -> list[LayerDistribution]:
    """Per layer after the input (hidden layers, then the output) its distributions on X."""
    cols = columns(net)
    got = _forward(net, np.asarray(X, dtype=np.float64), [c.buffer for c in cols[1:]])
    out = []
    for i, (c, v) in enumerate(zip(cols[1:], got)):
        d = net.dense[i]
        w = net.params[d.w.offset: d.w.offset + d.w.size].copy()
        word, frac = inactive_fraction(v, c.activation)
        fraction = dead_units(v) if word == "dead" else float(np.mean(frac)) if word else float("nan")
        out.append(LayerDistribution(c.name, c.activation, v.ravel(), w, bands(v), bands(w), word, fraction))
    return out
