"""Initialisation side by side: per layer, the standard deviation of the activations and of the
weight gradients at step 0, for one architecture under each initialiser."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .network import Network


@dataclass(frozen=True)
class LayerStats:
    init: str
    act_std: np.ndarray  # (hidden layers,) std of each hidden layer's output over batch and units
    grad_std: np.ndarray  # (dense layers,) std of each dense layer's weight gradient
    loss: float


def layer_stats(net: Network, X: np.ndarray, y: np.ndarray, init: str = "") -> LayerStats:
    """The network's statistics on the batch ``X, y`` in test mode (no dropout), as initialised.
    A hidden layer's output is the last tap before the next layer starts (a dense layer or a
    residual or highway block): after its activation, normalisation or dropout, where the next
    layer reads it."""
    lv, acts, _ = net.inspect(X, y)
    _, g = net.loss_and_grad(X, y)
    starts = [i for i, t in enumerate(net.taps) if t.name.startswith(("dense", "residual", "highway"))]
    outs = [acts[j - 1] for j in starts[1:]]
    grad_std = np.array([np.std(g[d.w.offset: d.w.offset + d.w.size]) for d in net.dense])
    return LayerStats(init, np.array([np.std(a) for a in outs]), grad_std, float(lv))


def compare(build: Callable[[str], Network], inits: Sequence[str], X: np.ndarray, y: np.ndarray) -> list[LayerStats]:
    """``layer_stats`` of ``build(init)`` for each initialiser id (the same seed and data for all)."""
    return [layer_stats(build(i), X, y, i) for i in inits]


def symmetric_units(net: Network, tol: float = 1e-12) -> list[bool]:
    """Per hidden dense layer: whether every unit has the same incoming weights and bias (within
    ``tol`` relative to the layer's largest weight): the symmetry zero initialisation never breaks."""
    out = []
    for d in net.dense[:-1]:
        W = net.params[d.w.offset: d.w.offset + d.w.size].reshape(d.w.shape)
        cols = W if d.b is None else np.vstack([W, net.params[d.b.offset: d.b.offset + d.b.size]])
        scale = max(float(np.max(np.abs(cols))), 1e-300)
        out.append(bool(np.max(np.abs(cols - cols[:, :1])) <= tol * scale))
    return out
