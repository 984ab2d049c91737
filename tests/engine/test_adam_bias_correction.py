"""Adam with bias_correction off against Kingma & Ba's algorithm 1 without its two correction
lines, written here from the paper's pseudo-code in numpy (on is checked against torch in
test_optimizers_torch)."""
from __future__ import annotations

import numpy as np
import pytest

from engine.optim import optimizers as O
from engine.surfaces import catalog as S

SINGLE_TOL = 1e-12  # as test_optimizers_reference: relative to max(1, |value|)
TRAJ_TOL = 1e-10
STEPS = 1000

CASES = {
    "defaults": {"lr": 1e-2},
    "options": {"lr": 1e-2, "betas": (0.8, 0.99), "eps": 1e-6},
}
SURFACES = {
    "rosenbrock": ({}, (-1.2, 1.0)),
    "himmelblau": ({}, (-0.5, -0.5)),
    "quadratic": ({"kappa": 25.0, "angle": 30.0}, (-2.5, 1.5)),
    "beale": ({}, (1.0, 1.5)),
}


def paper_step(theta, g, m, v, t, lr, betas=(0.9, 0.999), eps=1e-8):
    """Algorithm 1 of Kingma & Ba (2015) with the lines m-hat = m / (1 - beta1^t) and
    v-hat = v / (1 - beta2^t) left out: the update reads the biased estimates."""
    b1, b2 = betas
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    return theta - lr * m / (np.sqrt(v) + eps), m, v


def engine_hyper(case):
    return {**CASES[case], "bias_correction": False}


def scaled(tol, ref):
    return tol * np.maximum(1.0, np.abs(ref))


@pytest.mark.parametrize("case", list(CASES))
def test_single_steps_match_the_paper_without_correction(case):
    rng = np.random.default_rng(7)
    for _ in range(200):
        t = int(rng.integers(1, 5000))
        x, g = rng.normal(size=2) * 3, rng.normal(size=2) * 10 ** rng.uniform(-3, 2)
        m, v = rng.normal(size=2), rng.normal(size=2) ** 2 * 10 ** rng.uniform(-3, 1)
        state = O.spec("adam").init(2)
        state[0], state[1] = m, v
        out = O.update("adam", x, g, state, t, engine_hyper(case))
        ref, m_ref, v_ref = paper_step(x, g, m, v, t, **CASES[case])
        assert np.all(np.abs(out - ref) <= scaled(SINGLE_TOL, ref)), (t, out, ref)
        assert np.all(np.abs(state[0] - m_ref) <= scaled(SINGLE_TOL, m_ref))
        assert np.all(np.abs(state[1] - v_ref) <= scaled(SINGLE_TOL, v_ref))


@pytest.mark.parametrize("surface", list(SURFACES))
@pytest.mark.parametrize("case", list(CASES))
def test_trajectories_match_the_paper_without_correction(case, surface):
    params, start = SURFACES[surface]
    b = S.bind(surface, params)
    x_engine = x_ref = np.array(start, dtype=np.float64)
    state = O.spec("adam").init(2)
    m = v = np.zeros(2)
    engine, ref = [x_engine], [x_ref]
    for t in range(1, STEPS + 1):
        x_engine = O.update("adam", x_engine, b.gradient(*x_engine), state, t, engine_hyper(case))
        x_ref, m, v = paper_step(x_ref, b.gradient(*x_ref), m, v, t, **CASES[case])
        engine.append(x_engine)
        ref.append(x_ref)
    engine, ref = np.array(engine), np.array(ref)
    assert np.all(np.isfinite(ref))
    assert np.all(np.abs(engine - ref) <= scaled(TRAJ_TOL, ref))


def test_without_correction_the_first_step_is_sqrt_of_1_minus_beta2_over_1_minus_beta1_larger():
    # The paper's section 3: m and v start at 0, so after one step m = (1 - b1) g and
    # v = (1 - b2) g^2; uncorrected, the step is lr (1 - b1) / sqrt(1 - b2) = 3.16 lr per
    # coordinate with the default betas, corrected it is lr.
    g = np.array([0.3, -40.0])
    on = O.update("adam", np.zeros(2), g, O.spec("adam").init(2), 1, {"lr": 0.01, "eps": 0.0})
    off = O.update("adam", np.zeros(2), g, O.spec("adam").init(2), 1,
                   {"lr": 0.01, "eps": 0.0, "bias_correction": False})
    np.testing.assert_allclose(np.abs(on), 0.01, rtol=1e-12)
    np.testing.assert_allclose(np.abs(off), 0.01 * 0.1 / np.sqrt(0.001), rtol=1e-12)


@pytest.mark.parametrize("id", ["adam", "adamw", "amsgrad"])
def test_every_optimizer_of_adams_kernel_has_the_switch_on_by_default(id):
    spec = O.spec(id)
    assert spec.defaults()["bias_correction"] is True
    x, g = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    a = O.update(id, x, g, spec.init(2), 3, {})
    b = O.update(id, x, g, spec.init(2), 3, {"bias_correction": False})
    assert not np.allclose(a, b)
