"""Racer-steps per second on a typed Rosenbrock formula vs the built-in Rosenbrock surface.

Claim (issue 5): a formula surface races as fast as a built-in one, within 2x.  Both races
run the same racers (every optimizer, small steps so nobody finishes) from the same start in
this process; the script prints the best of a few repeats for each and the ratio.  It also
prints what the formula cost to compile cold (symbolic work + numba) in a fresh cache folder,
and to load from that cache in a new process.

Run: .venv/bin/python benchmarks/bench_formula.py [--racers 64] [--steps 20000]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

FORMULA = "(a - x)^2 + b*(y - x^2)^2"


def racers(n: int):
    from engine.optim import optimizers as O
    from engine.race.race import Racer

    # Newton jumps to the minimum; AdaBelief's steps grow towards lr/eps on a smooth slope.
    ids = [i for i in O.names() if i not in ("newton", "adabelief")]
    return [Racer(ids[k % len(ids)], {"lr": 1e-6 * (1 + k % 7)}) for k in range(n)]


def rate(surface, start, rs, steps: int, repeats: int) -> float:
    from engine.race.race import Race
    from engine.race.status import Status

    best = 0.0
    for _ in range(repeats):
        race = Race(surface, start, rs)
        race.advance(10)  # compiled or loaded before timing
        t0 = time.perf_counter()
        done = 0
        while done < steps:
            race.advance(1000)
            done += 1000
        dt = time.perf_counter() - t0
        assert all(s.kind == Status.RACING for s in race.status()), "a racer stopped: the rates would not compare"
        best = max(best, len(rs) * done / dt)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--racers", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ["OPTIRACE_CACHE_DIR"] = tempfile.mkdtemp(prefix="optirace-bench-formula-")

    from engine.formula import symbolic as F
    from engine.surfaces import catalog as S

    spec = S.get("rosenbrock")
    t0 = time.perf_counter()
    f = F.compile(FORMULA, params={"a": 1.0, "b": 100.0}, domain=spec.domain, start=spec.start)
    F.warm(f)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from engine import formula as F, surfaces as S\n"
                    f"s = F.compile({FORMULA!r}, params={{'a': 1.0, 'b': 100.0}}, domain={spec.domain!r},"
                    f" start={spec.start!r})\nF.warm(s)"],
                   check=True, cwd=os.path.join(os.path.dirname(__file__), ".."))
    cached = time.perf_counter() - t0

    rs = racers(args.racers)
    built = rate("rosenbrock", spec.start, rs, args.steps, args.repeats)
    mine = rate(f, spec.start, rs, args.steps, args.repeats)
    print(f"formula {FORMULA!r}: cold compile + warm-up {cold:.1f} s; "
          f"a new process loading it from the cache (imports included) {cached:.1f} s")
    print(f"{args.racers} racers x {args.steps} steps, best of {args.repeats}:")
    print(f"  built-in Rosenbrock  {built / 1e6:8.2f} M racer-steps/s")
    print(f"  formula Rosenbrock   {mine / 1e6:8.2f} M racer-steps/s")
    print(f"  formula / built-in   {mine / built:8.2f}  (claim: >= 0.5)")


if __name__ == "__main__":
    main()
