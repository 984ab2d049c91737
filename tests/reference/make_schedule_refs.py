"""Reference values for learning-rate schedules, gradient clipping and networks trained with
both, from torch in float64.

Run ``.venv/bin/python tests/reference/make_schedule_refs.py`` to regenerate
``schedule_refs.npz``.  The engine supplies only inputs (a network's initial parameters and
its mini-batch rows); torch computes the learning rates of its schedulers, the clipped
gradients of ``clip_grad_norm_`` / ``clip_grad_value_``, and whole training runs.  The tests
compare the engine with the committed file, and live with torch when it is there.
"""
from __future__ import annotations

import pathlib
import sys
import zlib

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine import data, nn  # noqa: E402
from engine.nn.train import NetRace  # noqa: E402

OUT = pathlib.Path(__file__).with_name("schedule_refs.npz")
LR = 0.1  # base learning rate of the schedule cases (the factors do not depend on it)

# name -> (engine Schedule keywords, steps).  The torch scheduler of each is in _scheduler.
# Cosine cases stop at step every + 1 (torch's epoch T_max): after it the engine holds the
# floor while torch's cosine rises again.  Cosine with warm-up has no chained torch form
# (torch's chainable cosine adds eta_min rather than multiplying), so it is not here.
SCHEDULE_CASES: dict[str, tuple[dict, int]] = {
    "step": (dict(kind="step", gamma=0.3, every=7), 40),
    "step_every_1": (dict(kind="step", gamma=0.9, every=1), 25),
    "exponential": (dict(kind="exponential", gamma=0.97), 60),
    "cosine": (dict(kind="cosine", every=50, floor=0.05), 51),
    "cosine_to_zero": (dict(kind="cosine", every=30, floor=0.0), 31),
    "warmup": (dict(kind="constant", warmup=12), 30),
    "step_warmup": (dict(kind="step", gamma=0.5, every=10, warmup=4), 40),
    "exponential_warmup": (dict(kind="exponential", gamma=0.95, warmup=8), 40),
}

# name -> (mode, parameter shapes, gradient scale, threshold).  The NEAR cases give the
# threshold as an offset from the gradient's norm, a few 1e-7 around it, where torch's
# max_norm / (norm + 1e-6) and the textbook max_norm / norm disagree.
CLIP_CASES: dict[str, tuple[str, list[tuple[int, ...]], float, float]] = {
    "norm_pair_clipped": ("norm", [(2,)], 3.0, 1.5),
    "norm_pair_unclipped": ("norm", [(2,)], 0.1, 1.5),
    "norm_net_clipped": ("norm", [(4, 6), (6,), (6, 3), (3,)], 1.0, 0.5),
    "norm_net_unclipped": ("norm", [(4, 6), (6,), (6, 3), (3,)], 0.01, 5.0),
    "norm_over": ("norm", [(5, 3), (3,)], 1.0, -2e-7),
    "norm_under_within_eps": ("norm", [(5, 3), (3,)], 1.0, 5e-7),
    "norm_under": ("norm", [(5, 3), (3,)], 1.0, 3e-6),
    "value_pair": ("value", [(2,)], 3.0, 1.0),
    "value_net": ("value", [(4, 6), (6,), (6, 3), (3,)], 1.0, 0.3),
}
NEAR = ("norm_over", "norm_under_within_eps", "norm_under")

# name -> (sizes, activation, init, optimizer, hyper, schedule, clip, steps, batch).
TRAIN_CASES: dict[str, tuple] = {
    "momentum_norm_step": ([2, 16, 16, 2], "tanh", "glorot_uniform", "momentum", {"lr": 0.3},
                           dict(kind="step", gamma=0.5, every=10), dict(mode="norm", threshold=0.3), 30, 32),
    "adam_value_exponential": ([2, 12, 12, 2], "relu", "he_uniform", "adam", {"lr": 0.02},
                               dict(kind="exponential", gamma=0.97), dict(mode="value", threshold=0.05), 30, 16),
    "rmsprop_norm_warmup": ([2, 10, 10, 10, 2], "tanh", "glorot_normal", "rmsprop", {"lr": 0.01},
                            dict(kind="constant", warmup=10), dict(mode="norm", threshold=0.1), 30, 32),
}
TORCH_OPT = {"momentum": ("SGD", {"momentum": 0.9}), "adam": ("Adam", {}), "rmsprop": ("RMSprop", {})}
TRAIN_SEED = 4


def _scheduler(torch, opt, kind, gamma=None, every=None, floor=None, warmup=0):
    S = torch.optim.lr_scheduler
    main = {"constant": lambda: None,
            "step": lambda: S.StepLR(opt, step_size=int(every), gamma=gamma),
            "exponential": lambda: S.ExponentialLR(opt, gamma=gamma),
            "cosine": lambda: S.CosineAnnealingLR(opt, T_max=int(every), eta_min=floor * opt.defaults["lr"])}[kind]
    warm = S.LinearLR(opt, start_factor=1.0 / warmup, end_factor=1.0, total_iters=warmup - 1) if warmup else None
    parts = [s for s in (warm, main()) if s is not None]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else S.ChainedScheduler(parts)


def torch_factors(name: str) -> np.ndarray:
    """lr_t / lr for t = 1 .. steps: the learning rate each optimizer step ran with."""
    import torch

    kw, steps = SCHEDULE_CASES[name]
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=LR)
    sched = _scheduler(torch, opt, **kw)
    out = np.empty(steps)
    for i in range(steps):
        out[i] = opt.param_groups[0]["lr"] / LR
        opt.step()
        if sched is not None:
            sched.step()
    return out


def clip_inputs(name: str) -> tuple[list[np.ndarray], float]:
    """The case's gradients (one array per parameter tensor) and threshold."""
    mode, shapes, scale, thr = CLIP_CASES[name]
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    grads = [rng.normal(size=s) * scale for s in shapes]
    if name in NEAR:  # thr is the threshold's offset from the norm
        thr += float(np.sqrt(sum((g * g).sum() for g in grads)))
    return grads, thr


def torch_clip(name: str) -> np.ndarray:
    """The gradients after torch's clipping, flattened and concatenated."""
    import torch

    mode = CLIP_CASES[name][0]
    grads, thr = clip_inputs(name)
    ps = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = torch.tensor(g)
    if mode == "norm":
        torch.nn.utils.clip_grad_norm_(ps, max_norm=thr)
    else:
        torch.nn.utils.clip_grad_value_(ps, clip_value=thr)
    return np.concatenate([p.grad.numpy().ravel() for p in ps])


def train_inputs(name: str):
    """The engine network, the data and the mini-batch rows of each step of case ``name``."""
    sizes, act, init, _, _, _, _, steps, batch = TRAIN_CASES[name]
    split = data.load("two_spirals", n=200, noise=0.05, seed=0)
    net = nn.mlp(sizes, activation=act, init=init, seed=TRAIN_SEED)
    rows = NetRace(net, split, ["sgd"], batch_size=batch, seed=TRAIN_SEED)._batches(steps)
    return net, split, rows


def torch_training(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(final parameters in the engine's layout, loss per step, whether step t was clipped)."""
    import torch
    import torch.nn.functional as F

    _, act, _, opt_id, hyper, sched_kw, clip_kw, steps, _ = TRAIN_CASES[name]
    net, split, rows = train_inputs(name)
    P = [torch.tensor(net.params[g.offset: g.offset + g.size].reshape(g.shape), requires_grad=True)
         for g in net.groups]
    cls, extra = TORCH_OPT[opt_id]
    opt = getattr(torch.optim, cls)(P, **extra, **hyper)
    sched = _scheduler(torch, opt, **sched_kw)
    f = {"tanh": torch.tanh, "relu": torch.relu}[act]
    X, y = torch.tensor(split.X_train), torch.tensor(split.y_train)
    losses, clipped = np.empty(steps), np.zeros(steps, dtype=bool)
    for s in range(steps):
        h = X[rows[s]]
        for i in range(0, len(P), 2):
            h = h @ P[i] + P[i + 1]
            if i < len(P) - 2:
                h = f(h)
        loss = F.cross_entropy(h, y[rows[s]])
        opt.zero_grad()
        loss.backward()
        losses[s] = loss.item()
        g = torch.cat([p.grad.ravel() for p in P])
        if clip_kw["mode"] == "norm":
            clipped[s] = bool(torch.linalg.vector_norm(g) + 1e-6 > clip_kw["threshold"])
            torch.nn.utils.clip_grad_norm_(P, max_norm=clip_kw["threshold"])
        else:
            clipped[s] = bool((g.abs() > clip_kw["threshold"]).any())
            torch.nn.utils.clip_grad_value_(P, clip_value=clip_kw["threshold"])
        opt.step()
        if sched is not None:
            sched.step()
    return np.concatenate([p.detach().numpy().ravel() for p in P]), losses, clipped


def main():
    arrays = {}
    for name in SCHEDULE_CASES:
        arrays[f"schedule/{name}"] = torch_factors(name)
    for name in CLIP_CASES:
        arrays[f"clip/{name}"] = torch_clip(name)
    for name in TRAIN_CASES:
        params, losses, clipped = torch_training(name)
        arrays[f"train/{name}/params"] = params
        arrays[f"train/{name}/loss"] = losses
        arrays[f"train/{name}/clipped"] = clipped
        print(f"{name}: clipped at {clipped.sum()} of {clipped.size} steps, loss {losses[0]:.3f} -> {losses[-1]:.3f}")
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {len(arrays)} arrays to {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
