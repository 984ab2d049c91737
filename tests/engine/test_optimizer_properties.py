"""Properties every optimizer has in a race: progress on a convex quadratic with a small step,
bit-for-bit determinism (noise included), a clean status for a huge step, the quadratic
stability limits the specs state, and no recompilation when a setting changes."""
from __future__ import annotations

import math

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.optim import kernels as OK
from engine.optim import optimizers as O
from engine.race import kernels as RK
from engine.surfaces import catalog as S
from engine.race.race import run_race
from engine.race.status import Status

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)

# Learning rates small enough for a convex quadratic with curvatures up to 30 (and Booth's 18),
# with STEPS steps enough to cover a start distance of up to 3:
# - plain and momentum SGD and QHM stay well inside their stability limits (2/lam, 2(1+mu)/lam ...);
# - sign-like adaptive steps (Adam family, RMSprop, Yogi, Lion) move about lr (RMSprop's first
#   step 10 lr) per coordinate, so lr is small against the start distance (>= 0.5);
# - AdaGrad's and AdaDelta's steps start at lr and sqrt(eps) per coordinate and then adapt;
# - Newton with lr < 1 moves a fraction lr of the way to the minimum each step.
SMALL_LR = {
    "sgd": 0.02, "momentum": 0.005, "nesterov": 0.005, "adagrad": 0.1, "adadelta": 1.0, "rmsprop": 0.005,
    "adam": 0.01, "adamw": 0.01, "adamax": 0.01, "nadam": 0.01, "amsgrad": 0.01, "radam": 0.01,
    "adabelief": 0.01, "lion": 0.005, "yogi": 0.01, "qhm": 0.02, "qhadam": 0.01, "newton": 0.5,
}
STEPS = 1500


def _convex(kind: str, kappa: float, angle: float) -> tuple[str, dict, np.ndarray]:
    if kind == "booth":
        return "booth", {}, np.array([1.0, 3.0])
    return "quadratic", {"kappa": kappa, "angle": angle}, np.zeros(2)


@SETTINGS
@given(kind=st.sampled_from(["quadratic", "booth"]), kappa=st.floats(1.0, 30.0), angle=st.floats(-90.0, 90.0),
       radius=st.floats(0.5, 3.0), direction=st.floats(0.0, 2 * math.pi))
def test_small_steps_end_closer_to_the_minimum_of_a_convex_quadratic(kind, kappa, angle, radius, direction):
    surface, params, minimum = _convex(kind, kappa, angle)
    start = minimum + radius * np.array([math.cos(direction), math.sin(direction)])
    racers = [(o, {"lr": SMALL_LR[o]}) for o in O.names()]
    res = run_race(surface, start, racers, STEPS, surface_params=params)
    end = np.linalg.norm(res.positions[:, -1] - minimum, axis=1)
    # Closer, and by a margin: at least halfway (the worst seen is about a quarter).
    farther = [(o, float(d)) for o, d in zip(O.names(), end) if not d < 0.5 * radius]
    assert not farther, f"{surface} {params} from {start} (distance {radius}): ended at {farther}"
    assert all(s.kind != Status.DIVERGED for s in res.status)


@SETTINGS
@given(kind=st.sampled_from(["quadratic", "booth"]), kappa=st.floats(1.0, 1e3), angle=st.floats(-90.0, 90.0),
       x=st.floats(-3.0, 3.0), y=st.floats(-3.0, 3.0))
def test_newton_with_lr_1_reaches_a_quadratics_minimum_in_one_step(kind, kappa, angle, x, y):
    surface, params, minimum = _convex(kind, kappa, angle)
    res = run_race(surface, (x, y), ["newton"], 1, surface_params=params)
    scale = max(1.0, abs(x), abs(y)) * kappa
    assert np.allclose(res.positions[0, 1], minimum, rtol=0, atol=1e-13 * scale)


def _huge_lr(opt_id: str, fraction: float) -> float:
    # A fraction (1/2 .. 1) of the largest learning rate the spec allows.
    return fraction * next(h.hi for h in O.spec(opt_id).hyper if h.name == "lr")


# Optimizers with a stability limit below half their largest lr for every curvature >= 1 (those
# of the quadratic ravine and Booth): SGD 2/lam, momentum 2(1+mu)/lam = 3.8/lam, Nesterov less;
# Newton multiplies the error by (1 - lr) per step on a quadratic.  Beyond it they must blow up.
# (QHM has no simple limit: with nu = 0.7, beta = 0.999 it still settles at lr = 5, curvature 1.)
GRADIENT_PROPORTIONAL = ("sgd", "momentum", "nesterov", "newton")


@SETTINGS
@given(surface=st.sampled_from(S.names()), u=st.floats(0.0, 1.0), v=st.floats(0.0, 1.0),
       fraction=st.floats(0.5, 1.0))
def test_a_huge_learning_rate_ends_in_a_status_never_an_exception(surface, u, v, fraction):
    (x0, x1), (y0, y1) = S.get(surface).domain
    start = (x0 + u * (x1 - x0), y0 + v * (y1 - y0))
    res = run_race(surface, start, [(o, {"lr": _huge_lr(o, fraction)}) for o in O.names()], 500)
    assert np.all(np.isfinite(res.positions)) and np.all(np.isfinite(res.losses))
    for o, status, pos in zip(O.names(), res.status, res.positions):
        if not status.kind.moving:
            # A racer that stopped stays where it stopped.
            assert np.all(pos[status.step:] == pos[-1]), (o, status)
    kinds = dict(zip(O.names(), (s.kind for s in res.status)))
    if not S.bind(surface).bounded_below and abs(start[1]) >= 0.1:
        # Downhill without end: every racer leaves.  (From the line y = 0 or next to it a racer
        # may legitimately slide into the saddle point instead: y = 0 is the saddle's stable
        # line and a ridge of the monkey saddle, which both surfaces' gradients never leave.
        # Lion's fixed-size sign steps may close a cycle instead: at lr 10 from (-0.25, -0.25)
        # on the monkey saddle it hops between (9.75, -0.25) and (-0.25, -10.25) for ever.)
        assert {k for o, k in kinds.items() if o != "lion"} <= {Status.ESCAPED, Status.DIVERGED}, kinds
    if surface in ("quadratic", "booth") and np.linalg.norm(np.subtract(start, S.bind(surface).minima[0])) > 0.1:
        assert all(kinds[o] == Status.DIVERGED for o in GRADIENT_PROPORTIONAL), kinds


@SETTINGS
@given(opt_id=st.sampled_from(["sgd", "momentum", "nesterov"]), mu=st.floats(0.0, 0.95),
       kappa=st.floats(2.0, 100.0))
def test_the_stated_stability_limits_hold_on_the_quadratic(opt_id, mu, kappa):
    # f = (x^2 + kappa y^2) / 2 has curvatures 1 and kappa; the spec's limit for the larger one
    # separates convergence (10% below) from blow-up (10% above).
    spec = O.spec(opt_id)
    hyper = {"momentum": 0.0} if opt_id == "sgd" else {"momentum": max(mu, 0.05)}
    limit = spec.stability(kappa, {**spec.defaults(), **hyper})
    racers = [(opt_id, {**hyper, "lr": 0.9 * limit}), (opt_id, {**hyper, "lr": 1.1 * limit})]
    res = run_race("quadratic", (1.0, 1.0), racers, 3000, surface_params={"kappa": kappa, "angle": 0.0})
    below, above = res.status
    assert below.kind in (Status.RACING, Status.FINISHED) and np.linalg.norm(res.positions[0, -1]) < 0.01, below
    assert above.kind == Status.DIVERGED, (above, res.positions[1, -1])


@SETTINGS
@given(surface=st.sampled_from(S.names()), u=st.floats(0.0, 1.0), v=st.floats(0.0, 1.0),
       noise=st.sampled_from([0.0, 0.05, 1.0]), seed=st.integers(0, 2**40),
       picks=st.lists(st.sampled_from(O.names()), min_size=1, max_size=5))
def test_the_same_inputs_give_the_same_bits(surface, u, v, noise, seed, picks):
    (x0, x1), (y0, y1) = S.get(surface).domain
    start = (x0 + u * (x1 - x0), y0 + v * (y1 - y0))
    a, b = (run_race(surface, start, picks, 200, noise=noise, seed=seed) for _ in range(2))
    for field in ("positions", "losses", "grad_norms"):
        assert np.array_equal(getattr(a, field), getattr(b, field), equal_nan=True), field
    assert a.status == b.status


@SETTINGS
@given(seed=st.integers(0, 2**40))
def test_another_noise_seed_gives_another_race(seed):
    # Every racer but Lion: its step is the sign of a gradient average, which noise this small
    # next to the gradient never flips.
    picks = [o for o in O.names() if o != "lion"]
    runs = [run_race("quadratic", (-2.5, 1.5), picks, 30, noise=0.5, seed=s) for s in (seed, seed + 1)]
    for r, o in enumerate(picks):
        assert not np.array_equal(runs[0].positions[r], runs[1].positions[r]), o
    again = run_race("quadratic", (-2.5, 1.5), picks, 30, noise=0.5, seed=seed)
    assert np.array_equal(again.positions, runs[0].positions)


def _random_values(spec: O.OptimizerSpec, rng: np.random.Generator) -> dict:
    values = {}
    for h in spec.hyper:
        draw = (lambda: float(np.exp(rng.uniform(np.log(max(h.lo, 1e-6)), np.log(h.hi))))) if h.log \
            else (lambda: float(rng.uniform(h.lo, h.hi)))
        values[h.name] = (bool(rng.integers(2)) if h.kind == "bool"
                          else (draw(), draw()) if h.kind == "pair" else draw())
    if spec.family == OK.SGD and values["nesterov"]:
        values.update(momentum=max(values["momentum"], 0.1), dampening=0.0)
    values["lr"] = min(values["lr"], 1e-2)
    return values


def _compiled() -> tuple[int, int] | None:
    """How many signatures the optimizer step and the race driver have compiled (None without the JIT)."""
    if numba.config.DISABLE_JIT:
        return None
    return len(OK.step.signatures), len(RK.advance.signatures)


def test_changing_settings_compiles_no_new_kernel_signature():
    x, g = np.array([0.5, -1.0]), np.array([0.2, 0.3])
    run_race("rosenbrock", (-1.2, 1.0), ["adam", "newton"], 3)
    O.update("adam", x, g, O.spec("adam").init(2), 1)
    before = _compiled()
    rng = np.random.default_rng(7)
    for i, opt_id in enumerate(O.names()):
        spec = O.spec(opt_id)
        for _ in range(3):
            values = _random_values(spec, rng)
            other = O.names()[(i + 5) % len(O.names())]
            run_race(S.names()[i % len(S.names())], (0.3, -0.2), [(opt_id, values), (other, {"lr": 1e-3})], 4)
            state = spec.init(2, values)
            O.update(opt_id, x, g, state, int(rng.integers(1, 100)), values,
                     np.array([[2.0, 0.5], [0.5, 1.0]]) if spec.needs_hessian else None)
    if before is None:  # the races above still ran every setting; only the count is left
        pytest.skip("NUMBA_DISABLE_JIT: the kernels run as plain Python, with no compiled signatures to count")
    assert before[1] >= 1 and _compiled() == before


def test_a_zero_divisor_is_a_divergence_not_an_exception():
    # The monkey saddle's origin has a zero gradient and a zero Hessian: Newton's system is
    # singular there, and Adam with eps = 0 divides 0 by 0.
    res = run_race("monkey_saddle", (0.0, 0.0), [("newton", {}), ("adam", {"eps": 0.0}), ("adagrad", {"eps": 0.0})], 3)
    assert res.status == [(Status.DIVERGED, 1)] * 3
    assert np.all(res.positions == 0.0)
    out = O.update("newton", np.zeros(2), np.zeros(2), O.spec("newton").init(2), 1, None, np.zeros((2, 2)))
    assert np.all(np.isnan(out))
