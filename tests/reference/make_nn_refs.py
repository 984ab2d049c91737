"""Reference values for the network layers from torch autograd in float64.

Run ``.venv/bin/python tests/reference/make_nn_refs.py`` to regenerate ``nn_refs.npz``.
Every case is a small network from ``CASES``; the engine supplies only its inputs (initial
parameters, the data, and in training mode the dropout masks, which are random inputs), and
torch computes the output, the loss and every parameter's gradient from the layer formulas.
The tests compare the engine with the committed file, and live with torch when it is there.
"""
from __future__ import annotations

import pathlib
import zlib

import numpy as np

from engine.nn import Activation, BatchNorm, Dense, Dropout, Highway, LayerNorm, Residual, build
from engine.nn import activations as A
from engine.nn import ops

OUT = pathlib.Path(__file__).with_name("nn_refs.npz")
B = 8
STEP = 3  # the step whose dropout masks training-mode cases use

# name -> (input width, layers, loss, train mode)
CASES: dict[str, tuple] = {}
for _a in A.names():
    CASES[f"act_{_a}"] = (4, [Dense(5), Activation(_a), Dense(3)], "softmax_ce", False)
CASES["act_prelu_per_unit"] = (4, [Dense(5), Activation("prelu", per_unit=True), Dense(3)], "softmax_ce", False)
CASES["dense_no_bias"] = (4, [Dense(5, bias=False), Activation("tanh"), Dense(3, bias=False)], "softmax_ce", False)
CASES["loss_mse"] = (4, [Dense(5), Activation("tanh"), Dense(3)], "mse", False)
CASES["loss_bce"] = (4, [Dense(5), Activation("tanh"), Dense(3)], "bce", False)
for _mode in ("inverted", "original"):
    for _train in (False, True):
        _t = "train" if _train else "test"
        CASES[f"dropout_{_mode}_{_t}"] = (4, [Dense(6), Activation("relu"), Dropout(0.4, _mode), Dense(3)],
                                          "softmax_ce", _train)
        CASES[f"dropconnect_{_mode}_{_t}"] = (4, [Dense(6, dropconnect=0.3, mode=_mode), Activation("tanh"), Dense(3)],
                                              "softmax_ce", _train)
for _train in (False, True):
    _t = "train" if _train else "test"
    CASES[f"batchnorm_{_t}"] = (4, [Dense(6), BatchNorm(), Activation("relu"), Dense(3)], "softmax_ce", _train)
    CASES[f"batchnorm_plain_{_t}"] = (4, [Dense(6), BatchNorm(affine=False), Activation("tanh"), Dense(3)],
                                      "softmax_ce", _train)
CASES["layernorm"] = (4, [Dense(6), LayerNorm(), Activation("relu"), Dense(3)], "softmax_ce", False)
CASES["layernorm_plain"] = (4, [Dense(6), LayerNorm(affine=False), Activation("tanh"), Dense(3)], "softmax_ce", False)
CASES["residual"] = (4, [Dense(6), Activation("tanh"), Residual("relu"), Residual("gelu", hidden=4), Dense(3)],
                     "softmax_ce", False)
CASES["highway"] = (4, [Dense(6), Activation("tanh"), Highway("relu", gate_bias=-2.0), Highway("elu"), Dense(3)],
                    "mse", False)
CASES["mixed_train"] = (4, [Dense(7, dropconnect=0.2), Activation("prelu"), BatchNorm(), Dropout(0.3),
                            Residual("tanh"), LayerNorm(), Highway("softplus"), Dense(3)], "bce", True)


def make_inputs(name: str):
    """The engine network of case ``name`` with its (seeded) inputs: X, targets, and running
    statistics moved away from their initial 0 and 1 so test mode really uses them."""
    din, layers, loss, train = CASES[name]
    key = zlib.crc32(name.encode())
    net = build(din, layers, loss=loss, init="glorot_normal", seed=key)
    rng = np.random.default_rng(key)
    X = rng.normal(size=(B, din)) * 2.0
    X[0] *= 15.0  # reach the saturated and thresholded parts of the activations
    k = net.output_dim
    if loss == "softmax_ce":
        y = rng.integers(0, k, B)
    elif loss == "bce":
        y = (rng.random((B, k)) > 0.5).astype(np.float64)
    else:
        y = rng.normal(size=(B, k))
    net.running[:] = np.abs(rng.normal(size=net.running.shape)) + 0.5
    for g in net.groups:  # biases, slopes and norm scales away from their special initial values
        if not g.name.endswith(".W"):
            net.params[g.offset: g.offset + g.size] += 0.3 * rng.normal(size=g.size)
    return net, X, y, train


def engine_masks(net, X, y, train):
    """Masks the engine draws for this batch at STEP (the torch computation takes them as data)."""
    if not train:
        return {}
    saved = net.running.copy()
    net.loss_and_grad(X, y, True, STEP)
    net.running[:] = saved
    return net.masks(X.shape[0])


def torch_reference(name: str):
    """(output, loss, flat gradient, running statistics after the pass) by torch autograd."""
    import torch
    import torch.nn.functional as F

    net, X, y, train = make_inputs(name)
    masks = engine_masks(net, X, y, train)
    din, layers, loss, _ = CASES[name]
    P = {g.name: torch.tensor(net.params[g.offset: g.offset + g.size].reshape(g.shape), dtype=torch.float64,
                              requires_grad=True) for g in net.groups}
    running = torch.tensor(net.running.copy(), dtype=torch.float64)
    act_fn = {
        "identity": lambda h, s: h, "sigmoid": lambda h, s: torch.sigmoid(h), "tanh": lambda h, s: torch.tanh(h),
        "relu": lambda h, s: F.relu(h), "leaky_relu": lambda h, s: F.leaky_relu(h, 0.01),
        "prelu": lambda h, s: F.prelu(h, s), "elu": lambda h, s: F.elu(h, 1.0), "softplus": lambda h, s: F.softplus(h),
        "gelu": lambda h, s: F.gelu(h),
    }

    def dense(prefix, h, L_mode=None, p=0.0):
        W = P[f"{prefix}.W"]
        if p > 0.0:
            if train:
                M = torch.tensor(masks[f"{prefix}.dropconnect"])
                W = W * M * (1.0 / (1.0 - p) if L_mode == "inverted" else 1.0)
            else:
                W = W * (1.0 if L_mode == "inverted" else 1.0 - p)
        h = h @ W
        if f"{prefix}.b" in P:
            h = h + P[f"{prefix}.b"]
        return h

    h = torch.tensor(X, dtype=torch.float64)
    nd = 0
    ro = 0
    op = 0  # op index, to find the dropout masks
    for i, L in enumerate(layers):
        if isinstance(L, Dense):
            nd += 1
            h = dense(f"dense{nd}", h, L.mode, L.dropconnect)
            op += 1
        elif isinstance(L, Activation):
            h = act_fn[L.kind](h, P.get(f"act{i}.slope"))
            op += 1
        elif isinstance(L, Dropout):
            if train:
                m = torch.tensor(masks[f"op{op}.dropout"])
                h = h * m * (1.0 / (1.0 - L.p) if L.mode == "inverted" else 1.0)
            else:
                h = h * (1.0 if L.mode == "inverted" else 1.0 - L.p)
            op += 1
        elif isinstance(L, BatchNorm):
            w = h.shape[1]
            rm, rv = running[ro: ro + w], running[ro + w: ro + 2 * w]  # views: updated in place
            h = F.batch_norm(h, rm, rv, P.get(f"norm{i}.gamma"), P.get(f"norm{i}.beta"), train, L.momentum, L.eps)
            ro += 2 * w
            op += 1
        elif isinstance(L, LayerNorm):
            h = F.layer_norm(h, (h.shape[1],), P.get(f"norm{i}.gamma"), P.get(f"norm{i}.beta"), L.eps)
            op += 1
        elif isinstance(L, Residual):
            f = act_fn[L.activation](dense(f"res{i}.dense1", h), None)
            h = h + dense(f"res{i}.dense2", f)
            op += 4
        elif isinstance(L, Highway):
            T = torch.sigmoid(dense(f"highway{i}.gate", h))
            H = act_fn[L.activation](dense(f"highway{i}.transform", h), None)
            h = T * H + (1.0 - T) * h
            op += 5
    if loss == "softmax_ce":
        lv = F.cross_entropy(h, torch.tensor(y))
    elif loss == "mse":
        lv = F.mse_loss(h, torch.tensor(y))
    else:
        lv = F.binary_cross_entropy_with_logits(h, torch.tensor(y))
    lv.backward()
    grad = np.zeros(net.n_params)
    for g in net.groups:
        grad[g.offset: g.offset + g.size] = P[g.name].grad.numpy().ravel()
    return h.detach().numpy(), float(lv.item()), grad, running.numpy().copy()


def main():
    arrays = {}
    for name in CASES:
        out, lv, grad, running = torch_reference(name)
        arrays[f"{name}/out"] = out
        arrays[f"{name}/loss"] = np.array(lv)
        arrays[f"{name}/grad"] = grad
        arrays[f"{name}/running"] = running
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {len(CASES)} cases to {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
