"""Declarative layer specs.  A network is an input width and a list of these; the compiler in
:mod:`engine.nn.network` turns the list into the op table the kernels run."""
from __future__ import annotations

from dataclasses import dataclass

DROPOUT_MODES = ("inverted", "original")


@dataclass(frozen=True)
class Dense:
    """y = x W + b with W of shape fan_in x fan_out.  ``dropconnect`` > 0 drops each weight
    with that probability during training (Wan et al. 2013); ``init`` overrides the network's."""

    units: int
    bias: bool = True
    init: str | None = None
    dropconnect: float = 0.0
    mode: str = "inverted"


@dataclass(frozen=True)
class Activation:
    """An elementwise nonlinearity by id (see :mod:`engine.nn.activations`); ``per_unit``
    gives PReLU one learned slope per unit instead of one shared slope."""

    kind: str
    per_unit: bool = False


@dataclass(frozen=True)
class Dropout:
    """Drop each activation with probability ``p`` during training.  ``inverted`` scales the
    kept ones by 1/(1-p) while training (what frameworks do); ``original`` scales by 1-p at
    test time (Srivastava et al. 2014, as the lecture states it)."""

    p: float
    mode: str = "inverted"


@dataclass(frozen=True)
class BatchNorm:
    """Normalise each unit over the batch, then scale and shift (Ioffe & Szegedy 2015).
    Test mode uses the running mean and (unbiased) variance; torch's momentum and eps."""

    momentum: float = 0.1
    eps: float = 1e-5
    affine: bool = True


@dataclass(frozen=True)
class LayerNorm:
    """Normalise each example over its units, then scale and shift (Ba et al. 2016)."""

    eps: float = 1e-5
    affine: bool = True


@dataclass(frozen=True)
class Residual:
    """x + W2 f(W1 x) (He et al. 2016); keeps the width, ``hidden`` is the inner width."""

    activation: str = "relu"
    hidden: int | None = None
    bias: bool = True
    init: str | None = None


@dataclass(frozen=True)
class Highway:
    """T H(x) + (1 - T) x with gate T = sigmoid(x W_T + b_T) and H(x) = f(x W_H + b_H)
    (Srivastava, Greff & Schmidhuber 2015).  The gate bias starts negative so that a new
    block mostly carries its input through."""

    activation: str = "relu"
    gate_bias: float = -1.0
    init: str | None = None
