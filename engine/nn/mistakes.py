"""Backprop with a classic mistake, for the gradient check's "break backprop" demonstration:
the true forward pass, then the true backward kernel run on a tampered op table or weight
vector.  Only :func:`analytic_grad` reaches it, by an explicit argument; training never does."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import activations, kernels, ops
from .blas import single_thread
from .network import Network

NO_DERIVATIVE = "activation_derivative"
TRANSPOSED = "transposed_weight"
BIAS_ONE_EXAMPLE = "bias_one_example"


@dataclass(frozen=True)
class Mistake:
    id: str
    name: str
    doc: str


MISTAKES = {m.id: m for m in (
    Mistake(NO_DERIVATIVE, "activation derivative left out",
            "the backward pass of the activation after layer l passes dL/dy on unchanged instead of f'(z) dL/dy"),
    Mistake(TRANSPOSED, "transposed weight",
            "layer l's backward pass sends dL/dy W back to its input instead of dL/dy W^T (square layers)"),
    Mistake(BIAS_ONE_EXAMPLE, "bias gradient of one example",
            "layer l's bias gradient is dL/dy of the batch's first example instead of the sum over the batch"),
)}


@dataclass(frozen=True)
class Expected:
    """Which parameter groups a mistake makes wrong, and why, in words the table prints."""

    groups: tuple[str, ...]  # the wrong groups, e.g. ("dense1.W", "dense1.b", "dense2.W", ...)
    layers: tuple[int, ...]  # the dense layers (1-based) with a wrong group
    why: str


def _activation_after(net: Network, layer: int) -> int:
    """The op index of the activation that reads dense ``layer``'s output."""
    out = net.opi[net.dense[layer - 1].op, ops.OUT]
    for o in range(net.opi.shape[0]):
        if net.opi[o, ops.KIND] == ops.ACT and net.opi[o, ops.IN0] == out:
            return o
    raise ValueError(f"layer {layer} ({net.dense[layer - 1].name}) is not followed by an activation "
                     "(the output layer has none)")


def check_mistake(net: Network, mistake: str, layer: int) -> None:
    """Raise ValueError, naming what is wrong, if ``mistake`` cannot be made at dense ``layer``."""
    if mistake not in MISTAKES:
        raise ValueError(f"mistake must be one of {', '.join(MISTAKES)}, got {mistake!r}")
    L = len(net.dense)
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 1 <= layer <= L:
        raise ValueError(f"layer must be a dense layer 1..{L}, got {layer!r}")
    d = net.dense[layer - 1]
    if mistake == NO_DERIVATIVE:
        o = _activation_after(net, layer)
        code = int(net.opi[o, ops.CODE])
        spec = next(s for s in activations.ACTIVATIONS if s.code == code)
        if code == ops.IDENTITY or spec.learned:
            raise ValueError(f"layer {layer}'s activation is {spec.id}: leaving out its derivative needs one whose "
                             "derivative is not 1 and has no learned slope")
    elif mistake == TRANSPOSED:
        if d.fan_in != d.fan_out:
            raise ValueError(f"a transposed weight needs a square layer: layer {layer} is {d.fan_in} x {d.fan_out}")
        if net.opi[d.op, ops.IN0] == 0:
            raise ValueError(f"layer {layer} reads the input: its backward pass sends nothing further back, "
                             "so a transposed weight there changes no gradient")
        if net.opf[d.op, ops.P] > 0.0:
            raise ValueError(f"layer {layer} uses DropConnect: its backward pass reads the masked weights")
    elif d.b is None:
        raise ValueError(f"layer {layer} has no bias")


def _upstream(net: Network, buffer: int) -> set[int]:
    """The ops whose output reaches ``buffer`` (their gradients pass through its gradient)."""
    producer = {int(net.opi[o, ops.OUT]): o for o in range(net.opi.shape[0])}
    seen, todo = set(), [buffer]
    while todo:
        o = producer.get(todo.pop())
        if o is None or o in seen:
            continue
        seen.add(o)
        todo += [int(b) for b in net.opi[o, [ops.IN0, ops.IN1, ops.IN2]] if b >= 0]
    return seen


def _op_of(net: Network, offset: int) -> int:
    """The op that owns the parameter at ``offset``."""
    for o in range(net.opi.shape[0]):
        kind, po = net.opi[o, ops.KIND], net.opi[o, ops.POFF]
        a, b = net.opi[o, ops.IN0], net.opi[o, ops.OUT]
        wi, wo = net.cum[a + 1] - net.cum[a], net.cum[b + 1] - net.cum[b]
        size = {ops.DENSE: wi * wo + net.opi[o, ops.NPAR] * wo, ops.ACT: net.opi[o, ops.NPAR],
                ops.BATCHNORM: 2 * wi * net.opi[o, ops.NPAR], ops.LAYERNORM: 2 * wi * net.opi[o, ops.NPAR]}.get(kind, 0)
        if po <= offset < po + size:
            return o
    raise AssertionError(f"no op owns parameter {offset}")


def expected(net: Network, mistake: str, layer: int) -> Expected:
    """The parameter groups whose gradient ``mistake`` at dense ``layer`` makes wrong: those
    whose gradient passes through the wrong signal, and nothing else."""
    check_mistake(net, mistake, layer)
    d = net.dense[layer - 1]
    name = f"layer {layer} ({d.name})"
    if mistake == BIAS_ONE_EXAMPLE:
        groups = (d.b.name,)
        why = (f"only {d.b.name} is wrong: a bias gradient is a leaf, nothing else is computed from it; "
               f"{d.w.name} and every other layer stay right")
    else:
        if mistake == NO_DERIVATIVE:
            wrong = int(net.opi[d.op, ops.OUT])  # dL/dz of layer l misses f'(z)
            why = (f"the gradient at {name}'s output misses f'(z), so {name}'s own W and b are wrong, and so is "
                   "every layer nearer the input: their gradients pass through it; layers above it stay right")
        else:
            wrong = int(net.opi[d.op, ops.IN0])  # what layer l sends back to its input
            why = (f"{name}'s own W and b stay right (dW = x^T dL/dy does not use W), but the gradient it sends "
                   "back is wrong, so every layer nearer the input is wrong; layers above it stay right")
        ups = _upstream(net, wrong)
        groups = tuple(g.name for g in net.groups if _op_of(net, g.offset) in ups)
    layers = tuple(i + 1 for i, dd in enumerate(net.dense)
                   if dd.w.name in groups or (dd.b is not None and dd.b.name in groups))
    return Expected(groups, layers, why)


def analytic_grad(net: Network, X, y, mistake: str | None = None, layer: int | None = None,
                  train: bool = False, step: int = 0) -> tuple[float, np.ndarray]:
    """(loss, gradient) by backprop; with ``mistake`` (an id of MISTAKES) made at dense
    ``layer`` (1-based) the gradient a buggy backward pass would compute.  Running statistics
    are left as they were."""
    if mistake is None:
        r0 = net.running.copy()
        try:
            return net.loss_and_grad(X, y, train, step)
        finally:
            net.running[:] = r0
    check_mistake(net, mistake, layer)
    d = net.dense[layer - 1]
    X, yi, yf = net.check_inputs(X, y)
    B = X.shape[0]
    if mistake == BIAS_ONE_EXAMPLE and B < 2:
        raise ValueError("a bias gradient of one example differs from the batch's sum only for batches of 2 or more")
    ws = net.workspace(B)
    opi, params, running = net.opi, net.params, net.running.copy()
    if mistake == NO_DERIVATIVE:
        opi = opi.copy()
        opi[_activation_after(net, layer), ops.CODE] = ops.IDENTITY
    elif mistake == TRANSPOSED:
        params = params.copy()
        W = params[d.w.offset: d.w.offset + d.w.size].reshape(d.w.shape)
        W[:] = W.T.copy()
    G = np.zeros_like(net.params)
    cum, last = net.cum, len(net.cum) - 2
    k = net.output_dim
    with single_thread():
        ws.Z[: B * cum[1]] = X.ravel()
        kernels.forward(net.opi, net.opf, cum, net.params, running, ws.Z, ws.WM, ws.bits, B, bool(train),
                        int(net.seed), int(step))
        out = ws.Z[B * cum[last]: B * cum[last + 1]].reshape(B, k)
        dout = ws.D[B * cum[last]: B * cum[last + 1]].reshape(B, k)
        lv, _ = kernels.loss(net.loss.code, out, yi, yf, dout, True)
        kernels.backward(opi, net.opf, cum, params, running, ws.Z, ws.D, ws.WM, G, ws.scratch, B, bool(train))
    if mistake == BIAS_ONE_EXAMPLE:
        G[d.b.offset: d.b.offset + d.b.size] = ws.grad(net, int(net.opi[d.op, ops.OUT]), B)[0]
    return float(lv), G
