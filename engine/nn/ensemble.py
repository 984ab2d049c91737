"""Ensembles: N networks of one architecture trained side by side from their own initial weights
(by seed, by initialiser, or pre-trained), each one's outputs on a fixed probe set recorded every
k steps: the data of Erhan et al.'s (2010) function-space figure."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..race.racer import Racer
from . import ops
from .layers import Activation, Dense
from .network import Network, build
from .train import NetRace, train


@dataclass(frozen=True)
class Member:
    """One network of an ensemble: its family (what the figure groups by) and its seed."""

    family: str
    seed: int


@dataclass(frozen=True)
class EnsembleRun:
    members: tuple[Member, ...]
    steps: np.ndarray  # (T,) the step of each record, 0 first
    outputs: np.ndarray  # (N, T, probe rows * outputs): each network's function on the probe set
    race: NetRace

    def families(self) -> np.ndarray:
        """Each member's family as an integer label, in order of first appearance."""
        names = list(dict.fromkeys(m.family for m in self.members))
        return np.array([names.index(m.family) for m in self.members])


def probe_outputs(race: NetRace, r: int, probe: np.ndarray) -> np.ndarray:
    """Network r's function on ``probe`` as one vector: class probabilities for classification
    (a function of the input, unlike logits, which a constant shift leaves equivalent), else the
    raw output."""
    return race.outputs(r, probe).ravel()


def run_ensemble(net: Network, data, initial: np.ndarray, members: Sequence[Member], racer: Racer | str,
                 steps: int, record_every: int, probe: np.ndarray, *, batch_size: int = 128, seed: int = 0,
                 progress: Callable[[float], bool] | None = None) -> EnsembleRun:
    """Train the N = len(members) networks (initial weights: rows of ``initial``) with one
    optimizer on one mini-batch order, recording every network's outputs on ``probe`` at step 0
    and every ``record_every`` steps.  ``progress(fraction)`` returning False cancels (the
    records so far are returned)."""
    if len(members) != np.shape(initial)[0]:
        raise ValueError(f"{len(members)} members but {np.shape(initial)[0]} rows of initial weights")
    if steps < 0 or record_every < 1:
        raise ValueError(f"steps must be >= 0 and record_every >= 1, got {steps} and {record_every}")
    race = NetRace(net, data, [racer] * len(members), batch_size=batch_size, seed=seed, val_every=0,
                   tel_every=0, initial=initial)
    records, at = [], []

    def record():
        records.append([probe_outputs(race, r, probe) for r in range(race.K)])
        at.append(race.t)

    record()
    while race.t < steps:
        race.advance(min(record_every, steps - race.t))
        record()
        if progress is not None and progress(race.t / steps) is False:
            break
    return EnsembleRun(tuple(members), np.array(at), np.array(records).transpose(1, 0, 2), race)


def pretrain(net: Network, X: np.ndarray, activation: str, *, steps: int = 500, optimizer: str = "adam",
             hyper: dict | None = None, batch_size: int = 64, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """Greedy layer-wise pre-training (Bengio et al. 2007): each hidden dense layer in turn, from
    the input up, trained as the encoder of an autoencoder (untied decoder weights, mean squared
    reconstruction) on the previous layer's codes; with ``noise`` > 0 a denoising autoencoder
    (Vincent et al. 2008) reconstructs the clean codes from Gaussian-corrupted ones.  Returns the
    network's weights with every hidden layer replaced by its trained encoder (the output layer
    as initialised), ready for supervised fine-tuning.  A plain stack of dense layers only."""
    params = net.params.copy()
    hidden = net.dense[:-1]
    if not hidden:
        raise ValueError("pre-training needs at least one hidden layer")
    kinds = set(net.opi[:, ops.KIND].tolist())
    if not kinds <= {ops.DENSE, ops.ACT, ops.DROPOUT} or any(d.b is None for d in hidden):
        raise ValueError("pre-training needs a plain stack of dense layers with biases and activations "
                         "(dropout allowed; no normalisation or skip connections)")
    if activation == "prelu":
        raise ValueError("pre-training does not carry PReLU's learned slopes over: choose another activation")
    rng = np.random.default_rng(seed)
    codes = np.ascontiguousarray(X, dtype=np.float64)
    for i, d in enumerate(hidden):
        fan_in, fan_out = d.w.shape
        if fan_in != codes.shape[1]:
            raise ValueError(f"pre-training needs a plain stack: layer {i + 1} takes {fan_in} inputs, "
                             f"the codes below it have {codes.shape[1]}")
        ae = build(fan_in, [Dense(fan_out), Activation(activation), Dense(fan_in)], loss="mse", seed=seed + 1 + i)
        enc_w, enc_b = ae.dense[0].w, ae.dense[0].b
        ae.params[enc_w.offset: enc_w.offset + enc_w.size] = params[d.w.offset: d.w.offset + d.w.size]
        ae.params[enc_b.offset: enc_b.offset + enc_b.size] = params[d.b.offset: d.b.offset + d.b.size]
        inputs = codes + noise * rng.standard_normal(codes.shape) if noise > 0 else codes
        train(ae, (inputs, codes, inputs[:1], codes[:1]), optimizer, hyper, steps=steps,
              batch_size=min(batch_size, codes.shape[0]), seed=seed + i, val_every=0, tel_every=0)
        params[d.w.offset: d.w.offset + d.w.size] = ae.params[enc_w.offset: enc_w.offset + enc_w.size]
        params[d.b.offset: d.b.offset + d.b.size] = ae.params[enc_b.offset: enc_b.offset + enc_b.size]
        encoder = build(fan_in, [Dense(fan_out), Activation(activation)], loss="mse")
        encoder.params[:] = ae.params[: encoder.n_params]  # the encoder's W and b lead the autoencoder's
        codes = encoder.predict(codes)
    return params
