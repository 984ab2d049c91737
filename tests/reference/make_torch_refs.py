"""Generate the torch.optim reference data that tests/engine/test_optimizers_torch.py checks the
engine against, so the suite needs no torch.  Run with torch installed:
``.venv/bin/python tests/reference/make_torch_refs.py`` (writes torch_refs.npz and torch_refs.json).

Importable without torch: the live test reuses the cases and the torch runners below.
"""
from __future__ import annotations

import copy
import inspect
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.optim import optimizers as O  # noqa: E402
from engine.surfaces import catalog as S  # noqa: E402

HERE = Path(__file__).resolve().parent
NPZ = HERE / "torch_refs.npz"
META = HERE / "torch_refs.json"

# The torch class behind every engine id that torch.optim has (the spec's ``torch`` text says
# which constructor flags make the difference, e.g. Adam(amsgrad=True)).
TORCH_CLASS = {
    "sgd": "SGD", "momentum": "SGD", "nesterov": "SGD", "adagrad": "Adagrad", "adadelta": "Adadelta",
    "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW", "amsgrad": "Adam", "adamax": "Adamax",
    "nadam": "NAdam", "radam": "RAdam",
}

# Switches the engine has and torch.optim has not, with the value that is torch's behaviour (the
# spec's notes say so): torch runs only with that value.
ENGINE_ONLY = {"bias_correction": True}

# case name -> (engine optimizer id, hyperparameters other than the defaults).  Every id has its
# defaults and at least one case that turns on each non-default option torch offers for it.
CASES: dict[str, tuple[str, dict]] = {
    "sgd": ("sgd", {}),
    "sgd_momentum_dampening_wd": ("sgd", {"lr": 0.05, "momentum": 0.5, "dampening": 0.3, "weight_decay": 0.05}),
    "momentum": ("momentum", {}),
    "momentum_dampening_wd": ("momentum", {"lr": 0.02, "momentum": 0.8, "dampening": 0.2, "weight_decay": 0.01}),
    "nesterov": ("nesterov", {}),
    "nesterov_wd": ("nesterov", {"lr": 0.02, "momentum": 0.6, "weight_decay": 0.05}),
    "adagrad": ("adagrad", {}),
    "adagrad_options": ("adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.02,
                                    "initial_accumulator_value": 0.1, "eps": 1e-6}),
    "adadelta": ("adadelta", {}),
    "adadelta_rho_wd": ("adadelta", {"lr": 0.5, "rho": 0.95, "eps": 1e-5, "weight_decay": 0.01}),
    "rmsprop": ("rmsprop", {}),
    "rmsprop_centered": ("rmsprop", {"centered": True}),
    "rmsprop_momentum": ("rmsprop", {"momentum": 0.9}),
    "rmsprop_centered_momentum_wd": ("rmsprop", {"lr": 0.003, "alpha": 0.9, "eps": 1e-6, "momentum": 0.5,
                                                 "centered": True, "weight_decay": 0.01}),
    "adam": ("adam", {}),
    "adam_wd": ("adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05}),
    "adam_decoupled": ("adam", {"lr": 0.01, "weight_decay": 0.05, "decoupled_weight_decay": True}),
    "adamw": ("adamw", {}),
    "adamw_amsgrad": ("adamw", {"lr": 0.01, "betas": (0.85, 0.995), "eps": 1e-6, "weight_decay": 0.1,
                                "amsgrad": True}),
    "amsgrad": ("amsgrad", {}),
    "amsgrad_wd": ("amsgrad", {"lr": 0.01, "betas": (0.85, 0.995), "weight_decay": 0.05}),
    "adamax": ("adamax", {}),
    "adamax_wd": ("adamax", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-4, "weight_decay": 0.05}),
    "nadam": ("nadam", {}),
    "nadam_wd": ("nadam", {"lr": 0.01, "eps": 1e-6, "weight_decay": 0.05, "momentum_decay": 0.01}),
    "nadam_decoupled": ("nadam", {"lr": 0.01, "betas": (0.85, 0.99), "weight_decay": 0.05,
                                  "decoupled_weight_decay": True}),
    "radam": ("radam", {}),
    "radam_wd": ("radam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.05}),
    "radam_decoupled": ("radam", {"lr": 0.01, "eps": 1e-6, "weight_decay": 0.05, "decoupled_weight_decay": True}),
}

# Trajectory surfaces: (surface id, surface parameters, start).  All bounded below; the learning
# rates in TRAJ_LR keep every case finite for STEPS steps, and the cases cover the two regimes
# that matter: converging into a minimum and hovering in a curved valley.
SURFACES: dict[str, tuple[dict, tuple[float, float]]] = {
    "rosenbrock": ({}, (-1.2, 1.0)),
    "himmelblau": ({}, (-0.5, -0.5)),
    "quadratic": ({"kappa": 25.0, "angle": 30.0}, (-2.5, 1.5)),
    "beale": ({}, (1.0, 1.5)),
}
_ADAPTIVE = ("adam", "adamw", "amsgrad", "adamax", "nadam", "radam")
TRAJ_LR: dict[str, dict[str, float]] = {
    "rosenbrock": {"sgd": 5e-4, "momentum": 1e-4, "nesterov": 1e-4, "adagrad": 0.1, "adadelta": 1.0,
                   "rmsprop": 1e-3, **{k: 1e-2 for k in _ADAPTIVE}, "radam": 1e-3},
    "himmelblau": {"sgd": 5e-3, "momentum": 1e-3, "nesterov": 1e-3, "adagrad": 0.3, "adadelta": 1.0,
                   "rmsprop": 1e-2, **{k: 3e-2 for k in _ADAPTIVE}},
    "quadratic": {"sgd": 0.05, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.5, "adadelta": 1.0,
                  "rmsprop": 1e-2, **{k: 3e-2 for k in _ADAPTIVE}},
    "beale": {"sgd": 1e-2, "momentum": 2e-3, "nesterov": 2e-3, "adagrad": 0.3, "adadelta": 1.0,
              "rmsprop": 1e-2, **{k: 3e-2 for k in _ADAPTIVE}, "radam": 3e-3},
}
STEPS = 1000
EVERY = 10  # the committed trajectories keep every EVERY-th point (steps 0, 10, ..., STEPS)
SINGLE_SIZES = {2: 12, 9: 4}  # vector length -> samples per case (9 also exercises torch's SIMD path)
SEED = 20260


def trajectory_hyper(case: str, surface: str) -> dict:
    opt_id, hyper = CASES[case]
    return {**hyper, "lr": TRAJ_LR[surface][opt_id]}


def _torch():
    import torch

    # float64 everywhere, so torch's step counters and mu_product are float64 scalars too.
    torch.set_default_dtype(torch.float64)
    return torch


def full_hyper(opt_id: str, hyper: dict) -> dict:
    spec = O.spec(opt_id)
    return spec.unpack(spec.pack(hyper))


def make_optimizer(opt_id: str, hyper: dict, param):
    """The torch optimizer equivalent to engine ``opt_id`` with ``hyper`` (single-tensor code path)."""
    torch = _torch()
    cls = getattr(torch.optim, TORCH_CLASS[opt_id])
    accepted = set(inspect.signature(cls).parameters)
    values = full_hyper(opt_id, hyper)
    opt = cls([param], foreach=False, **{k: v for k, v in values.items() if k in accepted})
    for k, v in values.items():
        # A setting the class does not take must be one it fixes (AdamW: decoupled_weight_decay),
        # or an engine-only switch at torch's behaviour.
        if k not in accepted and opt.defaults.get(k, ENGINE_ONLY.get(k)) != v:
            raise ValueError(f"torch.optim.{cls.__name__} cannot take {k}={v!r} (case {opt_id}, {hyper})")
    return opt


def engine_state(opt_id: str, hyper: dict, torch_state: dict, n: int) -> np.ndarray:
    """torch's per-parameter state in the engine's (slots, n) layout; slots torch has not created
    yet take the engine's initial value, a 0-d torch state (NAdam's mu_product) fills its row."""
    spec = O.spec(opt_id)
    st = spec.init(n, hyper)
    for i, slot in enumerate(spec.slots):
        v = torch_state.get(slot)
        if v is not None:
            st[i] = v.detach().numpy()
    return st


def scalar_slots(opt_id: str) -> list[str]:
    """Slots that torch keeps as one number per tensor; the engine keeps them in column 0."""
    return ["mu_product"] if opt_id == "nadam" else []


def single_steps(case: str, n: int, count: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``count`` single torch steps of length-n vectors from random states: each runs torch 0-6
    random steps first (random scales of x and g), then one step from a fresh random x and g."""
    torch = _torch()
    opt_id, hyper = CASES[case]
    rows: dict[str, list] = {k: [] for k in ("x", "g", "t", "state_before", "x_after", "state_after")}
    for _ in range(count):
        p = torch.tensor(rng.normal(size=n) * 10 ** rng.uniform(-1, 1), requires_grad=True)
        opt = make_optimizer(opt_id, hyper, p)
        warm = int(rng.integers(0, 7))
        for _ in range(warm):
            p.grad = torch.from_numpy(rng.normal(size=n) * 10 ** rng.uniform(-2, 2))
            opt.step()
        x = rng.normal(size=n) * 10 ** rng.uniform(-1, 1)
        g = rng.normal(size=n) * 10 ** rng.uniform(-2, 2)
        if rng.random() < 0.25:
            g[rng.integers(0, n)] = 0.0  # an exactly zero gradient component now and then
        with torch.no_grad():
            p.copy_(torch.from_numpy(x))
        p.grad = torch.from_numpy(g.copy())
        state = opt.state[p]
        before = engine_state(opt_id, hyper, state, n)
        if "step" in state and int(state["step"].item()) != warm:
            raise AssertionError(f"{case}: torch counted {state['step']} steps, expected {warm}")
        opt.step()
        after = engine_state(opt_id, hyper, opt.state[p], n)
        for i, slot in enumerate(O.spec(opt_id).slots):
            if slot not in opt.state[p]:
                after[i] = before[i]  # a slot torch does not use stays as it was
        rows["x"].append(x)
        rows["g"].append(g)
        rows["t"].append(warm + 1)
        rows["state_before"].append(before)
        rows["x_after"].append(p.detach().numpy().copy())
        rows["state_after"].append(after)
    return {k: np.array(v) for k, v in rows.items()}


def _advance(surface: str, p, opt, out: np.ndarray, first: int) -> None:
    """Step torch's ``opt`` over ``p`` from step ``first`` to the end of ``out`` (positions)."""
    torch = _torch()
    b = S.bind(surface, SURFACES[surface][0])
    for k in range(first + 1, len(out)):
        x = p.detach().numpy()
        p.grad = torch.from_numpy(b.gradient(x[0], x[1]))
        opt.step()
        out[k] = p.detach().numpy()


def trajectory(opt_id: str, hyper: dict, surface: str, start, steps: int = STEPS) -> np.ndarray:
    """torch's positions (steps+1, 2) from ``start`` on ``surface`` with the engine's gradient."""
    torch = _torch()
    p = torch.tensor(np.asarray(start, dtype=np.float64), requires_grad=True)
    opt = make_optimizer(opt_id, hyper, p)
    out = np.empty((steps + 1, 2))
    out[0] = start
    _advance(surface, p, opt, out, 0)
    if not np.all(np.isfinite(out)):
        raise AssertionError(f"torch {opt_id} {hyper} went non-finite on {surface}; pick a smaller lr")
    return out


SPREAD_RESTARTS = 5  # one-ulp moves at steps 0, STEPS/5, 2 STEPS/5, ...


def ulp_spread(opt_id: str, hyper: dict, surface: str, start, reference: np.ndarray) -> np.ndarray:
    """torch's own sensitivity to its last bits: the running maximum, per coordinate, of how far
    its trajectory moves when one coordinate of the start moves by one ulp (either way).  The
    same move is also made at later steps, from torch's exact state there (the start of a later
    segment): a trajectory that first contracts onto an attractor forgets a move at step 0 yet
    amplifies one made while it hovers in a valley later."""
    torch = _torch()
    steps = len(reference) - 1
    spread = np.zeros_like(reference)
    p = torch.tensor(np.asarray(start, dtype=np.float64), requires_grad=True)
    opt = make_optimizer(opt_id, hyper, p)
    out = reference.copy()
    restarts = [steps * i // SPREAD_RESTARTS for i in range(SPREAD_RESTARTS)]
    for r0, r1 in zip(restarts, restarts[1:] + [steps]):
        for k in range(2):
            for direction in (np.inf, -np.inf):
                q = p.detach().clone()
                q[k] = float(np.nextafter(q[k].item(), direction))
                q.requires_grad_(True)
                branch = make_optimizer(opt_id, hyper, q)
                branch.load_state_dict(copy.deepcopy(opt.state_dict()))
                moved = reference.copy()
                moved[r0] = q.detach().numpy()
                _advance(surface, q, branch, moved, r0)
                spread[r0:] = np.maximum(spread[r0:], np.abs(moved[r0:] - reference[r0:]))
        _advance(surface, p, opt, out[: r1 + 1], r0)  # the unmoved run on to the next restart
    if not np.array_equal(out, reference):
        raise AssertionError(f"torch {opt_id} on {surface} did not reproduce its own trajectory")
    return np.maximum.accumulate(spread, axis=0)


def torch_registry() -> dict:
    """Keyword names (the class's and its bases' constructors) and effective defaults per class."""
    torch = _torch()
    out = {}
    for name in sorted(set(TORCH_CLASS.values())):
        cls = getattr(torch.optim, name)
        keywords = set()
        for klass in cls.__mro__:
            if "__init__" in vars(klass) and issubclass(klass, torch.optim.Optimizer) \
                    and klass is not torch.optim.Optimizer:
                keywords |= set(inspect.signature(klass.__init__).parameters) - {"self", "params"}
        defaults = cls([torch.zeros(2, requires_grad=True)]).defaults
        out[name] = {
            "keywords": sorted(keywords),
            "defaults": {k: (list(v) if isinstance(v, tuple) else v) for k, v in defaults.items()
                         if isinstance(v, (bool, int, float, tuple)) and not isinstance(v, torch.Tensor)},
        }
    return out


def main() -> None:
    torch = _torch()
    rng = np.random.default_rng(SEED)
    arrays: dict[str, np.ndarray] = {}
    for case in CASES:
        for n, count in SINGLE_SIZES.items():
            for k, v in single_steps(case, n, count, rng).items():
                arrays[f"single{n}__{case}__{k}"] = v
        opt_id, _ = CASES[case]
        for surface, (_, start) in SURFACES.items():
            hyper = trajectory_hyper(case, surface)
            ref = trajectory(opt_id, hyper, surface, start)
            arrays[f"traj__{case}__{surface}"] = ref[::EVERY]
            arrays[f"spread__{case}__{surface}"] = ulp_spread(opt_id, hyper, surface, start, ref)[::EVERY]
        print(case, flush=True)
    np.savez_compressed(NPZ, **arrays)
    meta = {
        "torch_version": torch.__version__,
        "steps": STEPS,
        "every": EVERY,
        "cases": {c: [o, {k: (list(v) if isinstance(v, tuple) else v) for k, v in h.items()}]
                  for c, (o, h) in CASES.items()},
        "surfaces": {s: [p, list(st)] for s, (p, st) in SURFACES.items()},
        "traj_lr": TRAJ_LR,
        "scalar_slots": {o: scalar_slots(o) for o in TORCH_CLASS},
        "torch_class": TORCH_CLASS,
        "torch_registry": torch_registry(),
    }
    META.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    print(f"wrote {NPZ.name} ({NPZ.stat().st_size / 1e3:.0f} kB) and {META.name}")


if __name__ == "__main__":
    main()
