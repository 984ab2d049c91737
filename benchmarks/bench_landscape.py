"""The network's loss landscape: grid points per second of engine.nn.landscape.loss_grid against
the same grid evaluated point by point with numpy and with torch, measured in this run.

Run: .venv/bin/python benchmarks/bench_landscape.py [--res 41] [--rounds 3]

A 2-64-64-2 tanh network on 1,000 two-spiral points (the full training set at every point), a
filter-normalised random plane.  numpy and torch (float64, one thread) run the textbook forward
pass per grid point; the engine runs its parallel kernel (one grid row per thread, 2 cores here).
Best of ``rounds`` rounds, interleaved so a load change hits every implementation alike.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine import data  # noqa: E402
from engine.nn import landscape as LS  # noqa: E402
from engine.nn.blas import single_thread  # noqa: E402
from engine.nn.network import mlp  # noqa: E402


def numpy_grid(net, X, y, plane, alphas, betas):
    out = np.empty((len(betas), len(alphas)))
    groups = [(d.w, d.b) for d in net.dense]
    for j, b in enumerate(betas):
        for i, a in enumerate(alphas):
            p = plane.at(a, b)
            h = X
            for n, (w, bias) in enumerate(groups):
                h = h @ p[w.offset: w.offset + w.size].reshape(w.shape) + p[bias.offset: bias.offset + bias.size]
                if n < len(groups) - 1:
                    h = np.tanh(h)
            h = h - h.max(axis=1, keepdims=True)
            out[j, i] = np.mean(np.log(np.exp(h).sum(axis=1)) - h[np.arange(len(y)), y])
    return out


def torch_grid(torch, net, X, y, plane, alphas, betas):
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y.astype(np.int64))
    groups = [(d.w, d.b) for d in net.dense]
    out = np.empty((len(betas), len(alphas)))
    with torch.no_grad():
        for j, b in enumerate(betas):
            for i, a in enumerate(alphas):
                p = torch.from_numpy(plane.at(a, b))
                h = Xt
                for n, (w, bias) in enumerate(groups):
                    h = h @ p[w.offset: w.offset + w.size].reshape(w.shape) + p[bias.offset: bias.offset + bias.size]
                    if n < len(groups) - 1:
                        h = torch.tanh(h)
                out[j, i] = torch.nn.functional.cross_entropy(h, yt).item()
    return out


def best(fn, rounds):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--res", type=int, default=41, help="grid points per side")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    X, y = data.make("two_spirals", n=1000, noise=0.1, seed=0)
    net = mlp([2, 64, 64, 2], activation="tanh", seed=0)
    plane = LS.random_plane(net, seed=1)
    alphas = betas = np.linspace(-1.0, 1.0, args.res)
    engine = LS.loss_grid(net, X, y, plane, alphas, betas)  # compile (or load the cache) first
    ref = numpy_grid(net, X, y, plane, alphas, betas)
    print(f"grid {args.res}x{args.res} of a 2-64-64-2 tanh net on {len(y)} points, load "
          f"{os.getloadavg()[0]:.1f}; max |engine - numpy| = {np.max(np.abs(engine - ref)):.1e}")
    timings = {"engine": lambda: LS.loss_grid(net, X, y, plane, alphas, betas)}
    with single_thread():
        timings["numpy"] = lambda: numpy_grid(net, X, y, plane, alphas, betas)
        try:
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            torch.set_num_threads(1)
            timings["torch"] = lambda: torch_grid(torch, net, X, y, plane, alphas, betas)
        seconds = {k: best(fn, args.rounds) for k, fn in timings.items()}
    n = args.res ** 2
    for k, s in seconds.items():
        ratio = "" if k == "engine" else f"   engine is {s / seconds['engine']:.1f}x faster"
        print(f"{k:7s} {n / s:10.0f} grid points/s  ({s * 1e3:7.1f} ms){ratio}")


if __name__ == "__main__":
    main()
