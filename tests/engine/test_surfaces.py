"""The surface registry: complete specs, analytic derivatives against centered finite
differences, and every listed minimum re-polished numerically against the references' values."""
from __future__ import annotations

import math

import numpy as np
import pytest

from engine.surfaces import kernels as SK
from engine.surfaces import catalog as S

IDS = S.names()
# Global minimum values from the references (Surjanovic & Bingham; More, Garbow & Hillstrom),
# written here independently of the registry.  Styblinski-Tang: -39.16617 per dimension.
F_STAR = {
    "rosenbrock": 0.0, "beale": 0.0, "booth": 0.0, "himmelblau": 0.0, "rastrigin": 0.0,
    "ackley": 0.0, "goldstein_price": 3.0, "six_hump_camel": -1.0316284534898774,
    "styblinski_tang": -78.33233140754284, "quadratic": 0.0, "cliff": 0.0, "matyas": 0.0,
}
UNBOUNDED = {"saddle", "monkey_saddle"}
# Non-default parameter values whose minima move or reshape (checked as well as the defaults).
PARAMS = {
    "rosenbrock": [{"a": -1.5, "b": 10.0}, {"a": 0.5, "b": 500.0}],
    "rastrigin": [{"A": 3.0}],
    "ackley": [{"a": 5.0, "b": 0.5, "c": 3.0}],
    "quadratic": [{"kappa": 400.0, "angle": 30.0}, {"kappa": 1.0, "angle": -75.0}],
    "cliff": [{"h": 50.0, "k": 5.0, "a": 1.0}],
}


def _cases():
    for sid in IDS:
        yield sid, None
        for p in PARAMS.get(sid, []):
            yield sid, p


CASES = list(_cases())
CASE_IDS = [f"{sid}-{p}" if p else sid for sid, p in CASES]


def _sample(surf, rng, n=40):
    """Seeded points of the plotting domain plus the start and points near each minimum."""
    (x0, x1), (y0, y1) = surf.spec.domain
    pts = [np.array([rng.uniform(x0, x1), rng.uniform(y0, y1)]) for _ in range(n)]
    pts.append(np.array(surf.spec.start))
    for m in surf.minima:
        pts.extend(m + rng.normal(scale=0.05, size=(3, 2)))
    if surf.spec.id == "cliff":  # the steep wall at x = 0, where finite differences work hardest
        pts.extend(np.column_stack([rng.uniform(-0.1, 0.1, 8), rng.uniform(y0, y1, 8)]))
    return pts


def _fd(fun, p, h):
    """Centered differences of fun (scalar or vector valued) along x and y."""
    cols = []
    for i in range(2):
        e = np.zeros(2)
        e[i] = h * max(1.0, abs(p[i]))
        cols.append((np.asarray(fun(*(p + e))) - np.asarray(fun(*(p - e)))) / (2 * e[i]))
    return np.array(cols)


def test_every_bounded_surface_has_an_independent_reference_minimum():
    assert set(F_STAR) == {i for i in IDS if S.get(i).minima(S.get(i).param_defaults())}
    assert UNBOUNDED == set(IDS) - set(F_STAR)


@pytest.mark.parametrize("sid", IDS)
def test_spec_is_complete(sid):
    spec = S.get(sid)
    assert spec.id == sid
    assert spec.name and spec.caption and spec.formula
    (x0, x1), (y0, y1) = spec.domain
    assert x0 < x1 and y0 < y1
    assert x0 <= spec.start[0] <= x1 and y0 <= spec.start[1] <= y1
    for h in spec.params:
        assert h.name and h.lo <= h.default <= h.hi
    assert spec.param_defaults() == {h.name: h.default for h in spec.params}
    surf = S.bind(sid)
    assert surf.minima.ndim == 2 and surf.minima.shape[1] == 2
    if sid in UNBOUNDED:
        assert len(surf.minima) == 0 and not surf.bounded_below and surf.f_min is None
    else:
        assert len(surf.minima) >= 1 and surf.bounded_below
        for m in surf.minima:
            assert x0 <= m[0] <= x1 and y0 <= m[1] <= y1


@pytest.mark.parametrize("sid,params", CASES, ids=CASE_IDS)
def test_gradient_and_hessian_match_centered_differences(sid, params):
    surf = S.bind(sid, params)
    rng = np.random.default_rng(abs(hash(sid)) % 2**32)
    for p in _sample(surf, rng):
        g = surf.gradient(*p)
        H = surf.hessian(*p)
        f = surf.value(*p)
        assert np.all(np.isfinite(g)) and np.all(np.isfinite(H)) and math.isfinite(f)
        assert np.array_equal(H, H.T)
        # Differences of f carry its rounding (f reaches 1e6 on Goldstein-Price).
        g_fd = _fd(surf.value, p, 1e-5)
        tol_g = 2e-6 * max(1.0, np.abs(g).max(), 1e-5 * abs(f))
        assert np.abs(g_fd - g).max() <= tol_g, (p, g, g_fd)
        H_fd = _fd(surf.gradient, p, 1e-5).T  # column i = dg/dx_i
        assert np.abs(H_fd - H).max() <= 2e-6 * max(1.0, np.abs(H).max()), (p, H, H_fd)


def _f_star(sid, params):
    if sid == "cliff":  # the wall's tail moves the bowl's minimum: solve df/dx = 0 with scipy
        from scipy.optimize import brentq

        p = {**S.get("cliff").param_defaults(), **(params or {})}
        h, k, a = p["h"], p["k"], p["a"]
        sig = lambda x: 0.5 * (1.0 - math.tanh(0.5 * k * x))  # noqa: E731  sigmoid(-k x)
        x = brentq(lambda x: a * (x - 1.5) - h * k * sig(x) * (1 - sig(x)), 1.5, 1.5 + h * k / a, xtol=1e-15)
        return 0.5 * a * (x - 1.5) ** 2 + h * sig(x)
    return F_STAR[sid]


def _newton_polish(surf, x, iters=60):
    x = np.array(x, dtype=np.float64)
    for _ in range(iters):
        step = np.linalg.solve(surf.hessian(*x), surf.gradient(*x))
        x = x - step
        if np.abs(step).max() < 1e-16:
            break
    return x


@pytest.mark.parametrize("sid,params", [c for c in CASES if c[0] not in UNBOUNDED and c[0] != "ackley"],
                         ids=[i for c, i in zip(CASES, CASE_IDS) if c[0] not in UNBOUNDED and c[0] != "ackley"])
def test_listed_minima_survive_newton_polishing(sid, params):
    surf = S.bind(sid, params)
    for m in surf.minima:
        polished = _newton_polish(surf, m)
        assert np.abs(polished - m).max() <= 1e-9 * max(1.0, np.abs(m).max()), (m, polished)
        g = surf.gradient(*m)
        assert np.hypot(*g) <= 1e-8 * max(1.0, abs(surf.value(*m))), g
        assert np.all(np.linalg.eigvalsh(surf.hessian(*m)) > 0)  # a minimum, not a saddle
        assert surf.value(*m) == pytest.approx(_f_star(sid, params), rel=1e-12, abs=1e-12)
    assert surf.f_min == pytest.approx(_f_star(sid, params), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("sid,params", [c for c in CASES if c[0] not in UNBOUNDED],
                         ids=[i for c, i in zip(CASES, CASE_IDS) if c[0] not in UNBOUNDED])
def test_listed_minima_are_global_on_a_dense_grid(sid, params):
    # No point of the whole domain is lower than the listed global minimum.
    surf = S.bind(sid, params)
    (x0, x1), (y0, y1) = surf.spec.domain
    xs, ys = np.linspace(x0, x1, 601), np.linspace(y0, y1, 601)
    Z = surf.grid(xs, ys)
    assert Z.min() >= surf.f_min - 1e-9 * max(1.0, abs(surf.f_min))


def test_styblinski_tang_per_dimension_value():
    # -39.16617 per dimension, not the -39.16599 often quoted; the 1-D stationary point directly.
    x = S.get("styblinski_tang").minima({})[0][0]
    assert 2 * x**3 - 16 * x + 2.5 == pytest.approx(0.0, abs=1e-12)
    assert 0.5 * (x**4 - 16 * x**2 + 5 * x) == pytest.approx(-39.16616570377142, abs=1e-12)


def test_ackley_subgradient_at_origin_is_zero_as_documented():
    surf = S.bind("ackley")
    assert "subgradient" in surf.spec.notes
    assert np.array_equal(surf.gradient(0.0, 0.0), [0.0, 0.0])
    assert surf.value(0.0, 0.0) == pytest.approx(0.0, abs=1e-14)
    H = surf.hessian(0.0, 0.0)
    assert np.all(np.isfinite(H))
    # The origin is the minimum: every nearby point is higher.
    for ang in np.linspace(0, 2 * np.pi, 12, endpoint=False):
        assert surf.value(1e-6 * np.cos(ang), 1e-6 * np.sin(ang)) > surf.value(0.0, 0.0)


@pytest.mark.parametrize("sid", IDS)
def test_grid_equals_pointwise_values(sid):
    surf = S.bind(sid)
    (x0, x1), (y0, y1) = surf.spec.domain
    xs = np.linspace(x0, x1, 13)
    ys = np.linspace(y0, y1, 7)
    Z = surf.grid(xs, ys)
    assert Z.shape == (7, 13)
    expected = np.array([[surf.value(x, y) for x in xs] for y in ys])
    assert np.array_equal(Z, expected)


def test_quadratic_hessian_eigenvalues_are_one_and_kappa_at_any_angle():
    rng = np.random.default_rng(7)
    for _ in range(25):
        kappa = float(np.exp(rng.uniform(0, np.log(1e4))))
        angle = float(rng.uniform(-90, 90))
        surf = S.bind("quadratic", {"kappa": kappa, "angle": angle})
        ev = np.linalg.eigvalsh(surf.hessian(*rng.normal(size=2)))
        assert ev == pytest.approx([1.0, kappa], rel=1e-12)
        # f is exactly the quadratic form of that Hessian.
        p = rng.normal(size=2)
        assert surf.value(*p) == pytest.approx(0.5 * p @ surf.hessian(0, 0) @ p, rel=1e-12)


def test_saddles_are_unbounded_below_and_stationary_at_the_origin():
    for sid in UNBOUNDED:
        surf = S.bind(sid)
        assert np.array_equal(surf.gradient(0.0, 0.0), [0.0, 0.0])
        ev = np.linalg.eigvalsh(surf.hessian(0.0, 0.0))
        assert ev.min() <= 0.0 <= ev.max()
        assert surf.value(0.0, -1e3) < -1e5 or surf.value(-1e3, 0.0) < -1e5


def test_cliff_gradient_explodes_at_the_wall():
    surf = S.bind("cliff")
    assert np.hypot(*surf.gradient(0.0, 0.0)) > 100 * np.hypot(*surf.gradient(-2.0, 0.0))


def test_unknown_surface_id_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown surface 'nope'.*rosenbrock"):
        S.get("nope")
    with pytest.raises(KeyError, match="unknown surface"):
        S.bind("nope")


@pytest.mark.parametrize("params,match", [
    ({"c": 1.0}, "unknown hyperparameter"),
    ({"b": 0.0}, r"b=0.0 is outside its valid range"),
    ({"a": "many"}, "a must be a number"),
])
def test_bad_parameters_name_the_setting(params, match):
    with pytest.raises(ValueError, match=match) as err:
        S.bind("rosenbrock", params)
    assert "Rosenbrock" in str(err.value)


def test_unknown_kernel_code_gives_nan_not_a_crash():
    g = np.zeros(2)
    assert math.isnan(SK.fgh(999, 0.5, 0.5, np.zeros(1), g, np.zeros((2, 2)), False))
    assert np.all(np.isnan(g))


def test_the_race_kernels_batched_table_agrees_with_fgh_for_every_surface():
    """engine.race.kernels keeps its own per-surface loops for speed; they must be the same arithmetic."""
    from engine.race import kernels as RK
    from engine.surfaces import kernels as SK

    rng = np.random.default_rng(7)
    for sid in S.names():
        b = S.bind(sid)
        (x0, x1), (y0, y1) = b.spec.domain
        pts = np.column_stack([rng.uniform(x0, x1, 9), rng.uniform(y0, y1, 9)]).ravel()
        g = np.empty(18)
        f = np.empty(9)
        H = np.zeros((2, 2))
        RK._surface_batch(b.code, b.params, pts, 18, g, f, np.empty(2), H, np.bool_(True))
        for i in range(9):
            g1, H1 = np.empty(2), np.empty((2, 2))
            f1 = SK.fgh(b.code, pts[2 * i], pts[2 * i + 1], b.params, g1, H1, True)
            assert f[i] == f1 and np.array_equal(g[2 * i:2 * i + 2], g1), sid
        assert np.array_equal(H, H1), sid
