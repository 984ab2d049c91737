"""Race engine throughput (racer-steps per second) against a plain Python loop, numpy
vectorised over racers and torch.optim, all measured in this run; plus compile and start-up
times and the cost of recording.  ``python benchmarks/bench_race.py [--quick]``."""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.optim import optimizers as O  # noqa: E402
from engine.race import race as Rm  # noqa: E402
from engine.race.status import Status  # noqa: E402

START = (-1.2, 1.0)  # Rosenbrock's classic start; lr small enough that nobody finishes or diverges
LR = 1e-4
RACERS = (1, 16, 1024)
TORCH = {"sgd": ("SGD", {}), "momentum": ("SGD", {"momentum": 0.9}),
         "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}), "adagrad": ("Adagrad", {}),
         "adadelta": ("Adadelta", {}), "rmsprop": ("RMSprop", {}), "adam": ("Adam", {}),
         "adamw": ("AdamW", {}), "adamax": ("Adamax", {}), "nadam": ("NAdam", {}),
         "amsgrad": ("Adam", {"amsgrad": True}), "radam": ("RAdam", {})}


def hyper(oid: str) -> dict:
    return {**O.spec(oid).defaults(), "lr": LR}


# -- the references: one update rule per optimizer, written plainly, run on numpy arrays ------
# (R, 2) or, coordinate by coordinate, on Python floats; M supplies sqrt/maximum/sign.
NP = SimpleNamespace(sqrt=np.sqrt, maximum=np.maximum, sign=np.sign)
PY = SimpleNamespace(sqrt=math.sqrt, maximum=max, sign=lambda z: float((z > 0) - (z < 0)))


def _sgd(x, g, s, t, h, M):
    mom, damp, nest = h["momentum"], h["dampening"], h["nesterov"]
    if mom:
        b = g if t == 1 else mom * s[0] + (1 - damp) * g
        s = [b]
        g = g + mom * b if nest else b
    return x - h["lr"] * g, s


def _adagrad(x, g, s, t, h, M):
    acc = s[0] + g * g
    return x - h["lr"] / (1 + (t - 1) * h["lr_decay"]) * g / (M.sqrt(acc) + h["eps"]), [acc]


def _adadelta(x, g, s, t, h, M):
    rho, eps = h["rho"], h["eps"]
    v = rho * s[0] + (1 - rho) * g * g
    d = M.sqrt(s[1] + eps) / M.sqrt(v + eps) * g
    return x - h["lr"] * d, [v, rho * s[1] + (1 - rho) * d * d]


def _rmsprop(x, g, s, t, h, M):
    a = h["alpha"]
    v = a * s[0] + (1 - a) * g * g
    ga = a * s[1] + (1 - a) * g if h["centered"] else s[1]
    avg = M.sqrt(v - ga * ga if h["centered"] else v) + h["eps"]
    if h["momentum"]:
        b = h["momentum"] * s[2] + g / avg
        return x - h["lr"] * b, [v, ga, b]
    return x - h["lr"] * g / avg, [v, ga, s[2]]


def _adam(x, g, s, t, h, M):
    (b1, b2), lr = h["betas"], h["lr"]
    if h["weight_decay"]:
        if h["decoupled_weight_decay"]:
            x = x * (1 - lr * h["weight_decay"])
        else:
            g = g + h["weight_decay"] * x
    m = b1 * s[0] + (1 - b1) * g
    v = b2 * s[1] + (1 - b2) * g * g
    vmax = M.maximum(s[2], v) if h["amsgrad"] else s[2]
    denom = M.sqrt(vmax if h["amsgrad"] else v) / math.sqrt(1 - b2**t) + h["eps"]
    return x - lr / (1 - b1**t) * m / denom, [m, v, vmax]


def _adamax(x, g, s, t, h, M):
    b1, b2 = h["betas"]
    m = b1 * s[0] + (1 - b1) * g
    u = M.maximum(b2 * s[1], abs(g) + h["eps"])
    return x - h["lr"] / (1 - b1**t) * m / u, [m, u]


def _nadam(x, g, s, t, h, M):
    (b1, b2), lr, psi = h["betas"], h["lr"], h["momentum_decay"]
    mu = b1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    prod = s[2] * mu  # depends on t only: every coordinate keeps the same copy
    m = b1 * s[0] + (1 - b1) * g
    v = b2 * s[1] + (1 - b2) * g * g
    denom = M.sqrt(v / (1 - b2**t)) + h["eps"]
    x = x - lr * (1 - mu) / (1 - prod) * g / denom - lr * mu_next / (1 - prod * mu_next) * m / denom
    return x, [m, v, prod]


def _radam(x, g, s, t, h, M):
    (b1, b2), lr = h["betas"], h["lr"]
    m = b1 * s[0] + (1 - b1) * g
    v = b2 * s[1] + (1 - b2) * g * g
    m_hat = m / (1 - b1**t)
    rho_inf = 2 / (1 - b2) - 1
    rho = rho_inf - 2 * t * b2**t / (1 - b2**t)
    if rho > 5:
        r = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
        return x - lr * m_hat * r * math.sqrt(1 - b2**t) / (M.sqrt(v) + h["eps"]), [m, v]
    return x - lr * m_hat, [m, v]


def _adabelief(x, g, s, t, h, M):
    (b1, b2), eps = h["betas"], h["eps"]
    m = b1 * s[0] + (1 - b1) * g
    var = b2 * s[1] + (1 - b2) * (g - m) * (g - m) + eps
    denom = M.sqrt(var) / math.sqrt(1 - b2**t) + eps
    return x - h["lr"] / (1 - b1**t) * m / denom, [m, var]


def _lion(x, g, s, t, h, M):
    b1, b2 = h["betas"]
    c = b1 * s[0] + (1 - b1) * g
    return x - h["lr"] * (M.sign(c) + h["weight_decay"] * x), [b2 * s[0] + (1 - b2) * g]


def _yogi(x, g, s, t, h, M):
    b1, b2 = h["betas"]
    m = b1 * s[0] + (1 - b1) * g
    v = s[1] - (1 - b2) * M.sign(s[1] - g * g) * g * g
    return x - h["lr"] * m / (M.sqrt(v) + h["eps"]), [m, v]


def _qhm(x, g, s, t, h, M):
    beta, nu = h["momentum"], h["nu"]
    b = beta * s[0] + (1 - beta) * g
    return x - h["lr"] * ((1 - nu) * g + nu * b), [b]


def _qhadam(x, g, s, t, h, M):
    (b1, b2), (nu1, nu2) = h["betas"], h["nus"]
    m = b1 * s[0] + (1 - b1) * g
    v = b2 * s[1] + (1 - b2) * g * g
    num = (1 - nu1) * g + nu1 * m / (1 - b1**t)
    den = M.sqrt((1 - nu2) * g * g + nu2 * v / (1 - b2**t)) + h["eps"]
    return x - h["lr"] * num / den, [m, v]


RULES = {"sgd": _sgd, "momentum": _sgd, "nesterov": _sgd, "adagrad": _adagrad, "adadelta": _adadelta,
         "rmsprop": _rmsprop, "adam": _adam, "adamw": _adam, "amsgrad": _adam, "adamax": _adamax,
         "nadam": _nadam, "radam": _radam, "adabelief": _adabelief, "lion": _lion, "yogi": _yogi,
         "qhm": _qhm, "qhadam": _qhadam}


def _init_slots(oid, h, make):
    spec = O.spec(oid)
    vals = [h.get(v, v) if isinstance(v, str) else v for v in (spec.slot_init.get(s, 0.0) for s in spec.slots)]
    return [make(float(v)) for v in vals] or [make(0.0)]


def rosen_grad_np(X):
    x, y = X[:, 0], X[:, 1]
    r = y - x * x
    return np.stack([-2 * (1 - x) - 400 * x * r, 200 * r], axis=1)


def run_numpy(oid, R, steps, budget):
    """(positions, racer-steps per second, steps run)."""
    h = hyper(oid)
    X = np.tile(START, (R, 1))
    t0 = time.perf_counter()
    if oid == "newton":
        for t in range(1, steps + 1):
            x, y = X[:, 0], X[:, 1]
            g = rosen_grad_np(X)
            a, b, d = 2 - 400 * y + 1200 * x * x + h["damping"], -400 * x, 200 + h["damping"]
            det = a * d - b * b
            X = X - h["lr"] * np.stack([(d * g[:, 0] - b * g[:, 1]) / det, (a * g[:, 1] - b * g[:, 0]) / det], 1)
            if t % 100 == 0 and time.perf_counter() - t0 > budget:
                break
    else:
        rule = RULES[oid]
        s = _init_slots(oid, h, lambda v: np.full((R, 2), v))
        for t in range(1, steps + 1):
            X, s = rule(X, rosen_grad_np(X), s, t, h, NP)
            if t % 100 == 0 and time.perf_counter() - t0 > budget:
                break
    return X, R * t / (time.perf_counter() - t0), t


def run_python(oid, R, steps, budget):
    h = hyper(oid)
    pts = [list(START) for _ in range(R)]
    rule = RULES.get(oid)
    slots = [[_init_slots(oid, h, float) for _ in range(2)] for _ in range(R)] if rule else None
    t0 = time.perf_counter()
    for t in range(1, steps + 1):
        for r in range(R):
            x, y = pts[r]
            rr = y - x * x
            g = (-2 * (1 - x) - 400 * x * rr, 200 * rr)
            if rule is None:  # Newton
                a, b, d = 2 - 400 * y + 1200 * x * x + h["damping"], -400 * x, 200 + h["damping"]
                det = a * d - b * b
                pts[r] = [x - h["lr"] * (d * g[0] - b * g[1]) / det, y - h["lr"] * (a * g[1] - b * g[0]) / det]
            else:
                for i in range(2):
                    pts[r][i], slots[r][i] = rule(pts[r][i], g[i], slots[r][i], t, h, PY)
        if time.perf_counter() - t0 > budget:
            break
    return np.array(pts), R * t / (time.perf_counter() - t0), t


def run_torch(torch, oid, R, steps, budget):
    name, extra = TORCH[oid]
    P = torch.tensor(np.tile(START, (R, 1)), dtype=torch.float64, requires_grad=True)
    kw = {"weight_decay": 1e-2} if oid == "adamw" else {}
    opt = getattr(torch.optim, name)([P], lr=LR, **extra, **kw)
    t0 = time.perf_counter()
    for t in range(1, steps + 1):
        with torch.no_grad():  # the analytic gradient: torch's cost is then the optimizer's
            x, y = P[:, 0], P[:, 1]
            r = y - x * x
            P.grad = torch.stack([-2 * (1 - x) - 400 * x * r, 200 * r], 1)
        opt.step()
        if t % 100 == 0 and time.perf_counter() - t0 > budget:
            break
    return P.detach().numpy().copy(), R * t / (time.perf_counter() - t0), t


def _out(R, k):
    return np.empty((R, k, 2)), np.empty((R, k)), np.empty((R, k))


def run_engine(oid, R, steps, chunk=1000, repeats=3):
    """Best of ``repeats``: racer-steps per second of Race.advance in chunks of ``chunk`` steps
    (as the GUI calls it), recording into the same output arrays each time."""
    best = 0.0
    out = _out(R, min(chunk, steps))
    for _ in range(repeats):
        race = Rm.Race("rosenbrock", START, [(oid, {"lr": LR})] * R)
        t0 = time.perf_counter()
        for _ in range(steps // chunk or 1):
            race.advance(min(chunk, steps), out)
        best = max(best, R * steps / (time.perf_counter() - t0))
    if any(s.kind != Status.RACING for s in race.status()):
        print(f"  note: {oid} x {R}: {race.status()[0]} (the racer stopped early)")
    return race.state_at(race.t).X, best


def run_one_call(oid, R, steps, repeats=5):
    """Best of ``repeats``: racer-steps per second of ``run_race``, the library's one call (it
    builds the race and returns fresh arrays of every step, the start included)."""
    best = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        Rm.run_race("rosenbrock", START, [(oid, {"lr": LR})] * R, steps)
        best = max(best, R * steps / (time.perf_counter() - t0))
    return best


def engine_modes(oid, R, steps, chunk=1000, repeats=3):
    """Rates of the bare kernel (no checks, no recording), checks only, checks + recording the
    trajectories (positions), checks + recording positions, losses and gradient norms into
    reused arrays and into fresh ones, and deriving losses and norms from positions afterwards."""
    out = {}
    buffers = _out(R, chunk)
    for mode in ("bare", "checks", "positions", "recording", "fresh"):
        best = 0.0
        for _ in range(repeats):
            race = Rm.Race("rosenbrock", START, [(oid, {"lr": LR})] * R, checkpoint_every=10**9)
            t0 = time.perf_counter()
            for _ in range(steps // chunk):
                if mode == "positions":
                    race.advance(chunk, buffers, values=False)
                elif mode == "recording":
                    race.advance(chunk, buffers)
                elif mode == "fresh":
                    race.advance(chunk)
                else:
                    race.run_bare(chunk, check=mode == "checks")
            best = max(best, R * (steps // chunk) * chunk / (time.perf_counter() - t0))
        out[mode] = best
    pos = race.advance(chunk, buffers, values=False).positions
    race.values(pos[:1, :1])  # compiled (or loaded) before it is timed
    t0 = time.perf_counter()
    race.values(pos)
    out["derive"] = R * chunk / (time.perf_counter() - t0)
    return out


CHILD = textwrap.dedent("""
    import time, sys
    t_start = time.perf_counter()
    sys.path.insert(0, {root!r})
    from engine.race import race as Rm, kernels as K
    from engine.optim import optimizers as O
    from engine.surfaces import catalog as S
    t_import = time.perf_counter()
    Rm.run_race("rosenbrock", (-1.2, 1.0), O.names(), 1000)
    t_first = time.perf_counter()
    if {whole!r}:
        for sid in S.names():
            Rm.run_race(sid, S.get(sid).start, O.names(), 100)
        t_serial = time.perf_counter()
        par = Rm.Race("rosenbrock", (-1.2, 1.0), ["adam"] * Rm.PARALLEL_RACERS * 2)
        par.advance(1000)  # enough work for the parallel kernel, which a race times first
        par.advance(1000)
        t_par = time.perf_counter()
        for sid in S.names():
            Rm.run_race(sid, S.get(sid).start, O.names() * 20, 100)
        t_all = time.perf_counter()
        print("SIGS", len(K.advance.signatures), len(K.advance_parallel.signatures))
        print("WHOLE", t_serial - t_first, t_par - t_serial, t_all - t_par)
    print("TIMES", t_import - t_start, t_first - t_import)
""")


def child(cache: str, whole: bool) -> dict:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), whole=whole)], env=env,
                         capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - t0
    res = {"wall": wall}
    for line in out.splitlines():
        key, *vals = line.split()
        res[key] = [float(v) for v in vals]
    return res


def fmt(rate):
    return f"{rate / 1e6:9.3f}" if rate else "        -"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1,000 steps and short reference budgets")
    ap.add_argument("--no-compile", action="store_true", help="skip the cold-compile and start-up subprocesses")
    ap.add_argument("--optimizers", default=",".join(O.names()), help="comma-separated ids")
    args = ap.parse_args()
    steps = 1000 if args.quick else 10_000
    budget = 0.15 if args.quick else 1.0  # seconds per reference measurement (numpy, torch, python)
    opts = args.optimizers.split(",")
    try:
        import torch
        torch_note = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    except ImportError:
        torch, torch_note = None, "torch not installed: column left empty"

    print(f"OptiRace race benchmark: Rosenbrock from {START}, lr {LR}, {steps} steps per racer; "
          f"{os.cpu_count()} cores; numpy {np.__version__}; {torch_note}")
    if not args.no_compile:
        with tempfile.TemporaryDirectory() as cache:
            cold = child(cache, True)
            warm = child(cache, False)
        print("\nCompilation (subprocesses; NUMBA_CACHE_DIR an empty temporary folder):")
        print(f"  cold: import {cold['TIMES'][0]:.2f} s; first race (18 optimizers, 1,000 steps) "
              f"{cold['TIMES'][1]:.2f} s = the numba compile of the race kernel")
        w = cold["WHOLE"]
        print(f"  cold: then all {len(Rm.S.names())} surfaces x 18 optimizers {w[0]:.2f} s (no new compile), "
              f"first parallel race (>= {Rm.PARALLEL_RACERS} racers) {w[1]:.2f} s (its compile), "
              f"every surface again with 360 racers {w[2]:.2f} s")
        print(f"  cold: compiled signatures of advance / advance_parallel: "
              f"{int(cold['SIGS'][0])} / {int(cold['SIGS'][1])}; whole registry cold, process start to end "
              f"{cold['wall']:.2f} s")
        print(f"  warm: a fresh process finding the cache: import {warm['TIMES'][0]:.2f} s, first race "
              f"{warm['TIMES'][1]:.2f} s, launch to exit {warm['wall']:.2f} s")

    Rm.run_race("rosenbrock", START, ["adam"] * 300, 5)  # compile (or load) both kernels first
    print(f"\nRacer-steps per second (millions); (x) = engine / reference.  Engine: Race.advance in "
          f"chunks of 1,000 steps into reused output arrays, recording positions, losses, gradient norms "
          f"and checking every racer each step, best of 3.  References run up to {steps} steps or {budget} s each and "
          f"the rate is per step measured (the Python loop mostly stops early: its rate is extrapolated).")
    head = f"{'racers':>6} {'optimizer':<10} {'engine':>9} {'numpy':>9} {'(x)':>7} {'torch':>9} {'(x)':>7} {'python':>9} {'(x)':>7}  agree"
    summary = {}
    for R in RACERS:
        print("\n" + head)
        for oid in opts:
            X_e, e = run_engine(oid, R, steps)
            X_n, n, n_steps = run_numpy(oid, R, steps, budget)
            _, p, _ = run_python(oid, R, steps, budget / 3)
            tr = 0.0
            if torch is not None and oid in TORCH:
                _, tr, _ = run_torch(torch, oid, R, steps, budget)
            agree = "-"
            if n_steps == steps:  # the numpy reference ran the same steps: compare where they ended
                agree = f"{np.abs(X_n - X_e).max():.0e}"
            summary[(R, oid)] = (e, n, tr, p)
            ratio = lambda ref: f"{e / ref:7.1f}" if ref else "      -"  # noqa: E731
            print(f"{R:6d} {oid:<10} {fmt(e)} {fmt(n)} {ratio(n)} {fmt(tr)} {ratio(tr)} {fmt(p)} {ratio(p)}  {agree}")

    mixed = [(o, {"lr": LR}) for o in O.names()[:16]]
    best = 0.0
    out = _out(16, min(1000, steps))
    for _ in range(3):
        race = Rm.Race("rosenbrock", START, mixed)
        t0 = time.perf_counter()
        for _ in range(steps // 1000 or 1):
            race.advance(min(1000, steps), out)
        best = max(best, 16 * (steps // 1000 or 1) * min(1000, steps) / (time.perf_counter() - t0))
    print(f"\n16 racers, all different optimizers (each its own group, the usual classroom race): "
          f"{best / 1e6:.2f} M racer-steps/s")

    one_call = run_one_call("adam", 16, steps)
    _, adam_numpy, _ = run_numpy("adam", 16, steps, budget)
    _, adam_advance = run_engine("adam", 16, steps)
    print(f"\nrun_race, 16 Adam racers x {steps:,} steps (build, run, fresh arrays of every step): "
          f"{one_call / 1e6:.2f} M racer-steps/s = {one_call / adam_numpy:.1f}x the numpy loop measured now, "
          f"{one_call / adam_advance:.2f} of Race.advance into reused arrays")

    print("\nCost of recording and checks (racer-steps/s, millions; chunks of 1,000 steps; bare = no status "
          "checks, no recording; trajectories = checks + recording positions (advance(values=False)); "
          "all = checks + positions, losses and gradient norms, into reused arrays, and into fresh ones, "
          "whose first touch the operating system pays page by page; derive = Race.values afterwards, "
          "the same bits):")
    rec_ratios = []
    for R in (16, 1024):
        for oid in ("sgd", "adam"):
            m = engine_modes(oid, R, steps)
            rec_ratios.append(m["positions"] / m["bare"])
            print(f"  {R:5d} x {oid:<5} bare {m['bare'] / 1e6:7.1f}  checks {m['checks'] / 1e6:7.1f}  "
                  f"trajectories {m['positions'] / 1e6:7.1f} ({m['positions'] / m['bare']:.2f} of bare)  "
                  f"all {m['recording'] / 1e6:7.1f} ({m['recording'] / m['bare']:.2f})  "
                  f"fresh {m['fresh'] / 1e6:7.1f} ({m['fresh'] / m['bare']:.2f})  derive {m['derive'] / 1e6:7.1f}")

    print("\nTargets (issues 2 and 10):")
    def worst(R, i):
        vals = [summary[(R, o)][0] / summary[(R, o)][i] for o in opts if summary[(R, o)][i]]
        return min(vals) if vals else float("nan")
    checks = [
        ("16 racers: engine >= 200x torch.optim (worst optimizer)", worst(16, 2), 200),
        ("16 racers: engine >= 20x numpy (worst optimizer)", worst(16, 1), 20),
        ("1,024 racers: engine >= numpy (worst optimizer)", worst(1024, 1), 1),
        ("1,024 racers: engine >= 3x torch.optim (worst optimizer)", worst(1024, 2), 3),
        ("recording trajectories + checks keep >= 0.5 of bare speed (worst case)", min(rec_ratios), 0.5),
        ("run_race, 16 Adam racers: >= 20x the numpy loop", one_call / adam_numpy, 20),
    ]
    for text, val, goal in checks:
        print(f"  {'met ' if val >= goal else 'MISS'} {text}: {val:.2f}")
    if not args.no_compile:
        first = warm["TIMES"][0] + warm["TIMES"][1]
        print(f"  {'met ' if first < 1 else 'MISS'} warm-cache fresh process, first race < 1 s: "
              f"{first:.2f} s after interpreter start ({warm['wall']:.2f} s launch to exit)")


if __name__ == "__main__":
    main()
