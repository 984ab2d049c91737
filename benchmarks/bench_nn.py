"""Training steps per second of the network engine against numpy backprop and torch.

Run: .venv/bin/python benchmarks/bench_nn.py [--quick]

Every figure is measured in this run: each implementation trains the same architecture with
Adam on mini-batches of 128 (softmax cross-entropy), best of three rounds, the rounds
interleaved so that a load change on a shared machine hits every implementation alike.
Single networks run on one thread everywhere (the engine limits BLAS to one thread, numpy
gets the same limit, torch.set_num_threads(1)); the 64-network race may use every core.
Targets (issue 6): ReLU nets >= numpy and >= 2x torch float64; tanh nets >= torch float64;
the 64-net race >= torch batched; telemetry every step adds <= 20%; (issue 14) an ensemble of 64
nets 2-32-32-2, each from its own weights, >= torch.bmm float64.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from engine import data, nn  # noqa: E402
from engine.nn import Activation, Dense  # noqa: E402
from engine.nn.blas import single_thread  # noqa: E402
from engine.nn.train import NetRace  # noqa: E402

B = 128


def rate(step_fn, seconds):
    """Steps per second of ``step_fn(n)`` (which runs n steps), timed over about ``seconds``."""
    n = 1
    while True:
        t = time.perf_counter()
        step_fn(n)
        dt = time.perf_counter() - t
        if dt >= seconds or n >= 1 << 22:
            return n / dt
        n = max(2 * n, int(n * seconds / max(dt, 1e-6) * 1.1))


# ------------------------------------------------------------------------------ numpy
class NumpyMLP:
    """Textbook backprop with BLAS products and Adam, float64 (the reference of the issue)."""

    def __init__(self, net, act):
        self.W = [W.copy() for W, _ in net.layer_params()]
        self.b = [b.copy() for _, b in net.layer_params()]
        self.act = act
        self.m = [np.zeros_like(p) for p in self.W + self.b]
        self.v = [np.zeros_like(p) for p in self.W + self.b]
        self.t = 0

    def step(self, X, y):
        hs = [X]
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            z = hs[-1] @ W + b
            if i < len(self.W) - 1:
                z = np.tanh(z) if self.act == "tanh" else np.maximum(z, 0.0)
            hs.append(z)
        z = hs[-1]
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        p[np.arange(len(y)), y] -= 1.0
        d = p / len(y)
        gW, gb = [], []
        for i in range(len(self.W) - 1, -1, -1):
            gW.append(hs[i].T @ d)
            gb.append(d.sum(0))
            if i:
                d = d @ self.W[i].T
                d = d * (1.0 - hs[i] ** 2) if self.act == "tanh" else d * (hs[i] > 0)
        grads = gW[::-1] + gb[::-1]
        self.t += 1
        b1, b2, lr, eps = 0.9, 0.999, 1e-3, 1e-8
        c1, c2 = 1 - b1**self.t, 1 - b2**self.t
        for p_, g, m, v in zip(self.W + self.b, grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p_ -= lr / c1 * m / (np.sqrt(v / c2) + eps)


# ------------------------------------------------------------------------------ torch
def torch_model(torch, net, act, dtype):
    layers = []
    pairs = net.layer_params()
    for i, (W, b) in enumerate(pairs):
        lin = torch.nn.Linear(W.shape[0], W.shape[1]).to(dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(W.T))
            lin.bias.copy_(torch.tensor(b))
        layers.append(lin)
        if i < len(pairs) - 1:
            layers.append(torch.nn.Tanh() if act == "tanh" else torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def torch_runner(torch, net, act, dtype, X, y, idx, compile=False):
    model = torch_model(torch, net, act, dtype)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    Xt = torch.tensor(X, dtype=dtype)
    yt = torch.tensor(y)
    it = torch.tensor(idx)
    loss_fn = torch.nn.functional.cross_entropy

    def one(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()

    fn = torch.compile(one) if compile else one
    pos = [0]

    def run(n):
        for _ in range(n):
            r = it[pos[0] % len(it)]
            pos[0] += 1
            fn(Xt[r], yt[r])

    run(3)  # compile / warm up
    return run


# ------------------------------------------------------------------------------ tanh
def bench_tanh(seconds):
    """Nanoseconds per element of tanh on 128 x 64 activations: numpy, numba's scalar
    math.tanh in a loop, and the engine's vectorised one (engine/nn/fastmath.py)."""
    import math

    from numba import njit

    from engine.nn import fastmath

    @njit(cache=False)
    def scalar(x, out, n):
        for _ in range(n):
            for i in range(x.shape[0]):
                out[i] = math.tanh(x[i])

    @njit(cache=False)
    def engine(x, out, bits, n):
        for _ in range(n):
            fastmath.tanh(x, out, bits)

    x = np.random.default_rng(0).normal(size=B * 64) * 2
    out = np.empty_like(x)
    bits = np.empty(x.size, dtype=np.int64)
    scalar(x, out, 1)
    engine(x, out, bits, 1)

    def numpy_run(n):
        for _ in range(n):
            np.tanh(x, out=out)
    res = {"numpy np.tanh": numpy_run, "numba math.tanh loop": lambda n: scalar(x, out, n),
           "engine fastmath.tanh": lambda n: engine(x, out, bits, n)}
    return {k: 1e9 / (max(rate(f, seconds) for _ in range(3)) * x.size) for k, f in res.items()}


# ------------------------------------------------------------------------------ cases
def single_cases(quick):
    spirals = data.load("two_spirals", n=4000, noise=0.05, seed=0)
    digits = data.load("digits")
    deep = [Dense(32), Activation("relu")] * 20 + [Dense(2)]
    return [
        ("2-64-64-64-2 tanh", nn.mlp([2, 64, 64, 64, 2], "tanh"), "tanh", spirals),
        ("2-64-64-64-2 relu", nn.mlp([2, 64, 64, 64, 2], "relu", init="he_uniform"), "relu", spirals),
        ("2-32x20-2 relu", nn.build(2, deep, init="he_uniform"), "relu", spirals),
        ("digits 64-128-10 relu", nn.mlp([64, 128, 10], "relu", init="he_uniform"), "relu", digits),
    ][: 2 if quick else 4]


def engine_runner(net, d, tel_every=0, K=1, initial=None):
    race = NetRace(net, d, ["adam"] * K, batch_size=B, val_every=0, tel_every=tel_every, initial=initial)
    race.advance(2)
    return lambda n: race.advance(n)


def numpy_runner(net, act, d, idx):
    m = NumpyMLP(net, act)
    pos = [0]

    def run(n):
        with single_thread():
            for _ in range(n):
                r = idx[pos[0] % len(idx)]
                pos[0] += 1
                m.step(d.X_train[r], d.y_train[r])
    return run


def bench_single(torch, quick, seconds, do_compile):
    rows = []
    for name, net, act, d in single_cases(quick):
        idx = np.random.default_rng(0).integers(0, d.X_train.shape[0], (256, B))
        runners = {"engine": engine_runner(net, d), "engine+telemetry": engine_runner(net, d, tel_every=1),
                   "engine+tel/10": engine_runner(net, d, tel_every=10),
                   "numpy f64": numpy_runner(net, act, d, idx)}
        notes = {}
        if torch is not None:
            runners["torch f32"] = torch_runner(torch, net, act, torch.float32, d.X_train, d.y_train, idx)
            runners["torch f64"] = torch_runner(torch, net, act, torch.float64, d.X_train, d.y_train, idx)
            if do_compile:
                try:
                    if name.startswith("2-64-64-64-2"):
                        runners["torch.compile f32"] = torch_runner(torch, net, act, torch.float32, d.X_train,
                                                                    d.y_train, idx, compile=True)
                except Exception as e:  # report why instead of failing the whole benchmark
                    notes["torch.compile f32"] = f"n/a ({type(e).__name__})"
        best = {k: 0.0 for k in runners}
        for _ in range(3):
            for k, fn in runners.items():
                best[k] = max(best[k], rate(fn, seconds))
        # Telemetry overhead from back-to-back pairs (a load burst hits both halves of a pair):
        # the median over 9 pairs of (rate without) / (rate with) - 1.
        for key in ("engine+telemetry", "engine+tel/10"):
            pairs = [rate(runners["engine"], seconds / 4) / rate(runners[key], seconds / 4) - 1 for _ in range(9)]
            notes[f"{key} overhead"] = float(np.median(pairs))
        rows.append((name, best, notes))
    return rows


def bench_race(torch, seconds, quick, sizes=(2, 16, 16, 2), ensemble=False):
    """Net-steps per second of 64 small nets, each implementation at 1 thread and at all cores
    (on a shared 2-core machine a second spinning thread can be far slower than one).  An
    ``ensemble`` starts each engine net from its own initial weights (a seed each)."""
    import numba

    d = data.load("two_spirals", n=4000, noise=0.05, seed=0)
    K = 64
    net = nn.mlp(list(sizes), "relu", init="he_uniform")
    initial = np.stack([nn.mlp(list(sizes), "relu", init="he_uniform", seed=s).params for s in range(K)]) if ensemble else None
    runners = {"engine (prange)": engine_runner(net, d, K=K, initial=initial)}
    if torch is not None:
        idx = np.random.default_rng(0).integers(0, d.X_train.shape[0], (256, B))
        Xt = torch.tensor(d.X_train)
        yt = torch.tensor(d.y_train)
        models = [torch_model(torch, net, "relu", torch.float64) for _ in range(K)]
        opts = [torch.optim.Adam(m.parameters(), lr=1e-3) for m in models]

        def loop(n, pos=[0]):
            for _ in range(n):
                r = idx[pos[0] % len(idx)]
                pos[0] += 1
                for m, o in zip(models, opts):
                    o.zero_grad(set_to_none=True)
                    torch.nn.functional.cross_entropy(m(Xt[r]), yt[r]).backward()
                    o.step()
        if not quick:
            runners["torch loop f64"] = loop

        def batched(dtype):
            ps = []
            for W, b in net.layer_params():
                ps.append(torch.tensor(np.tile(W, (K, 1, 1)), dtype=dtype, requires_grad=True))
                ps.append(torch.tensor(np.tile(b, (K, 1, 1)), dtype=dtype, requires_grad=True))
            opt = torch.optim.Adam(ps, lr=1e-3)
            Xd = Xt.to(dtype)
            pos = [0]

            def run(n):
                for _ in range(n):
                    r = idx[pos[0] % len(idx)]
                    pos[0] += 1
                    h = Xd[r].expand(K, B, 2)
                    for i in range(0, len(ps), 2):
                        h = torch.baddbmm(ps[i + 1], h, ps[i])
                        if i < len(ps) - 2:
                            h = torch.relu(h)
                    # Sum of the K mean losses: each net's gradient is its own loss's gradient.
                    loss = torch.nn.functional.cross_entropy(h.reshape(K * B, -1), yt[r].repeat(K)) * K
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
            return run
        runners["torch bmm f32"] = batched(torch.float32)
        runners["torch bmm f64"] = batched(torch.float64)
    cores = os.cpu_count() or 1
    best = {}
    for _ in range(3):
        for k, fn in runners.items():
            for th in sorted({1, cores}):
                numba.set_num_threads(min(th, numba.config.NUMBA_NUM_THREADS))
                if torch is not None:
                    torch.set_num_threads(th)
                best[k, th] = max(best.get((k, th), 0.0), rate(fn, seconds) * K)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two single-net cases, shorter timings")
    ap.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    args = ap.parse_args()
    seconds = 0.3 if args.quick else 0.8
    try:
        import torch
    except ImportError:
        torch = None
    t = time.perf_counter()
    nn.mlp([2, 4, 2])  # import-time work
    warm = NetRace(nn.mlp([2, 8, 2]), data.load("moons", n=100), ["adam", "sgd"], batch_size=8)
    warm.advance(2)
    first = time.perf_counter() - t
    if torch is not None:
        torch.set_num_threads(1)
    rows = bench_single(torch, args.quick, seconds, not args.no_compile and not args.quick)
    cols = ["engine", "engine+telemetry", "engine+tel/10", "numpy f64", "torch f32", "torch f64", "torch.compile f32"]
    print(f"\nTraining steps per second, batch {B}, Adam, float64 unless marked (best of 3 rounds)")
    print(f"{'network':24s}" + "".join(f"{c:>19s}" for c in cols))
    for name, best, notes in rows:
        cells = []
        for c in cols:
            cells.append(notes.get(c, f"{best[c]:,.0f}" if c in best else "-"))
        print(f"{name:24s}" + "".join(f"{x:>19s}" for x in cells))
    print("\nRatios (engine / other; telemetry: median slowdown over 9 back-to-back pairs)")
    for name, best, notes in rows:
        e = best["engine"]
        parts = [f"vs numpy {e / best['numpy f64']:.2f}x"]
        if "torch f64" in best:
            parts += [f"vs torch f64 {e / best['torch f64']:.2f}x", f"vs torch f32 {e / best['torch f32']:.2f}x"]
        parts += [f"telemetry every step {notes['engine+telemetry overhead'] * 100:+.0f}%",
                  f"every 10 steps {notes['engine+tel/10 overhead'] * 100:+.0f}%"]
        print(f"  {name:24s} " + ", ".join(parts))
    for title, kw in (("Race of 64 nets 2-16-16-2 relu", {}),
                      ("Ensemble of 64 nets 2-32-32-2 relu, each from its own weights",
                       dict(sizes=(2, 32, 32, 2), ensemble=True))):
        race = bench_race(torch, seconds, args.quick, **kw)
        print(f"\n{title}, batch {B}: net-steps per second, by threads")
        for (k, th), v in race.items():
            print(f"  {k:20s} {th} thread{'s' if th > 1 else ' '} {v:>10,.0f}")
        top = {}
        for (k, th), v in race.items():
            top[k] = max(top.get(k, 0.0), v)
        if "torch bmm f32" in top:
            e = top["engine (prange)"]
            print(f"  best engine / best torch bmm f32 {e / top['torch bmm f32']:.2f}x, "
                  f"/ best torch bmm f64 {e / top['torch bmm f64']:.2f}x")
    print(f"\ntanh on {B} x 64 activations, ns per element")
    for k, v in bench_tanh(seconds / 4).items():
        print(f"  {k:22s} {v:6.2f}")
    print(f"\nFirst call in this process (numba cache warm): {first:.2f} s")


if __name__ == "__main__":
    main()
