"""Every optimizer's explanation, generated from the registry: the step and new point are the
kernel's, and the terms rebuild the step by the rule's formula."""
from __future__ import annotations

import numpy as np
import pytest

from engine.optim import optimizers as O
from engine.surfaces import catalog as S


def variants(spec):
    """Defaults, then each switch flipped and weight decay on, where the spec allows it."""
    out = [("defaults", {})]
    names = {h.name: h for h in spec.hyper}
    for h in spec.hyper:
        if h.kind == "bool":
            flip = {h.name: not h.default}
            try:
                spec.pack(flip)
            except ValueError:
                continue
            out.append((f"{h.name}={not h.default}", flip))
    if "weight_decay" in names:
        out.append(("weight_decay", {"weight_decay": 0.05}))
        if "decoupled_weight_decay" in names:
            out.append(("coupled decay", {"weight_decay": 0.05, "decoupled_weight_decay": False}))
    if spec.id == "rmsprop":
        out.append(("centered+momentum", {"centered": True, "momentum": 0.5}))
    return out


CASES = [(s.id, name, hyper) for s in map(O.spec, O.names()) for name, hyper in variants(s)]
SURFACE = S.bind("rosenbrock")


def walk(id, hyper, steps):
    """A point, gradient and state after ``steps`` steps on Rosenbrock from (-1.2, 1)."""
    spec = O.spec(id)
    hyper = {"lr": 1e-3 if id not in ("newton", "adadelta") else spec.defaults()["lr"], **hyper}
    x = np.array([-1.2, 1.0])
    state = spec.init(2, hyper)
    for t in range(1, steps + 1):
        x = O.update(id, x, SURFACE.gradient(*x), state, t, hyper, SURFACE.hessian(*x))
    return spec, hyper, x, state


@pytest.mark.parametrize("id, name, hyper", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
@pytest.mark.parametrize("steps", [0, 50])
def test_explanation_is_the_kernels_step_and_its_terms_rebuild_it(id, name, hyper, steps):
    spec, hyper, x, state = walk(id, hyper, steps)
    g = SURFACE.gradient(*x)
    hess = SURFACE.hessian(*x)
    before = state.copy()
    e = O.explain(id, x, g, state, hyper, steps + 1, hess)
    assert np.array_equal(state, before)  # explain never changes the caller's state
    kernel_state = state.copy()
    x_new = O.update(id, x, g, kernel_state, steps + 1, hyper, hess)
    np.testing.assert_allclose(e.x_new, x_new, rtol=1e-14, atol=0)
    np.testing.assert_allclose(e.step, x_new - x, rtol=1e-14, atol=0)
    for i, slot in enumerate(spec.slots):
        np.testing.assert_allclose(e.state_after[slot], kernel_state[i], rtol=1e-14, atol=0)
        assert np.array_equal(e.state_before[slot], before[i])
    # The kernel writes x_new = x + increment, so the step it records carries the rounding of
    # that sum: half a unit in the last place of x_new on top of the terms' own 1e-14.
    rebuilt = e.recombine()
    tol = 1e-14 * np.abs(rebuilt) + np.spacing(np.maximum(np.abs(x), np.abs(x_new)))
    assert np.all(np.abs(rebuilt - e.step) <= tol), (e.formula, rebuilt, e.step)
    assert all(t.value.shape in ((), (2,), (4,)) and t.symbol and t.meaning for t in e.terms)
    assert "^" not in "".join(t.symbol for t in e.terms)  # Unicode superscripts, not carets


def test_a_wrong_term_is_caught_by_the_recombination():
    _, hyper, x, state = walk("adam", {}, 50)
    e = O.explain("adam", x, SURFACE.gradient(*x), state, hyper, 51)
    import dataclasses
    bad = dataclasses.replace(e, terms=tuple(
        dataclasses.replace(t, value=t.value * (1 + 1e-9)) if t.key == "denom" else t for t in e.terms))
    assert not np.allclose(bad.recombine(), e.step, rtol=1e-12, atol=0)


@pytest.mark.parametrize("id", ["yogi", "lion"])
def test_rules_without_bias_correction_show_none(id):
    _, hyper, x, state = walk(id, {}, 5)
    e = O.explain(id, x, SURFACE.gradient(*x), state, hyper, 6)
    keys = {t.key for t in e.terms}
    assert not keys & {"m_hat", "v_hat", "bc1", "bc2"}
    assert "1 − β" not in " ".join(t.symbol for t in e.terms if t.key != "c" and t.key != "m")


def test_lion_moves_every_coordinate_by_lr_along_the_sign_of_the_interpolation():
    spec, hyper, x, state = walk("lion", {"lr": 1e-3}, 20)
    g = SURFACE.gradient(*x)
    e = O.explain("lion", x, g, state, hyper, 21)
    m = state[0]
    c = 0.9 * m + 0.1 * g
    np.testing.assert_array_equal(e.term("sign_c").value, np.sign(c))
    np.testing.assert_allclose(np.abs(e.step), 1e-3, rtol=1e-12)
    np.testing.assert_allclose(e.memory, -1e-3 * c, rtol=1e-15)


def test_memory_is_what_the_rule_reads_in_place_of_the_gradient():
    # Momentum: -lr*b, b the buffer after the step; Adam: -lr*m_hat; AMSGrad divides by max v.
    _, hyper, x, state = walk("momentum", {}, 10)
    e = O.explain("momentum", x, SURFACE.gradient(*x), state, hyper, 11)
    np.testing.assert_array_equal(e.memory, -hyper["lr"] * e.state_after["momentum_buffer"])
    np.testing.assert_allclose(e.memory, e.step, rtol=1e-12)  # heavy ball: the whole step
    _, hyper, x, state = walk("amsgrad", {}, 30)
    e = O.explain("amsgrad", x, SURFACE.gradient(*x), state, hyper, 31)
    np.testing.assert_array_equal(e.term("v_max").value, e.state_after["max_exp_avg_sq"])
    assert np.all(e.term("v_max").value >= e.term("v").value)
    assert O.explain("sgd", x, SURFACE.gradient(*x), np.zeros((1, 2)), None, 1).memory is None


def test_radam_says_which_branch_it_took():
    _, hyper, x, state = walk("radam", {}, 3)
    early = O.explain("radam", x, SURFACE.gradient(*x), state, hyper, 4)
    assert "adaptive" not in {t.key for t in early.terms} and "not yet" in early.term("rho_t").meaning
    _, hyper, x, state = walk("radam", {}, 20)
    late = O.explain("radam", x, SURFACE.gradient(*x), state, hyper, 21)
    assert late.term("rho_t").value > 5 and "adaptive" in {t.key for t in late.terms}


def test_centered_rmsprop_divides_by_the_variance():
    _, hyper, x, state = walk("rmsprop", {"centered": True}, 10)
    e = O.explain("rmsprop", x, SURFACE.gradient(*x), state, hyper, 11)
    v, gm = e.state_after["square_avg"], e.state_after["grad_avg"]
    np.testing.assert_allclose(e.term("denom").value, np.sqrt(v - gm**2) + hyper.get("eps", 1e-8), rtol=1e-14)
