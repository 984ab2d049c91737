"""Compile (or load from numba's cache) every network kernel before the user needs it: a
GUI calls :func:`warmup` from a worker thread at start-up and shows its progress."""
from __future__ import annotations

from typing import Callable

import numpy as np

from .layers import Activation, BatchNorm, Dense, Dropout, Highway, LayerNorm, Residual
from .network import build
from .train import NetRace


def warmup(progress: Callable[[float, str], None] | None = None) -> None:
    """Run a tiny network with every op kind through each entry point once.  The kernels
    dispatch on integer codes, so this one network compiles everything any network needs."""
    def report(f, what):
        if progress is not None:
            progress(f, what)

    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 2))
    y = np.arange(12) % 2
    layers = [Dense(4, dropconnect=0.1), Activation("prelu"), BatchNorm(), Dropout(0.1), Residual("gelu"),
              LayerNorm(), Highway("elu"), Dense(2)]
    report(0.0, "forward and backward")
    net = build(2, layers, seed=0)
    net.loss_and_grad(X, y, train=True)
    report(0.3, "prediction")
    net.predict(X)
    report(0.4, "training")
    data = (X, y, X, y)
    NetRace(net, data, ["adam"], batch_size=4, val_every=1, tel_every=1).advance(2)
    report(0.6, "network race")
    NetRace(net, data, ["adam", "sgd"], batch_size=4, val_every=1, tel_every=1).advance(2)
    report(1.0, "ready")
