"""Formula surfaces: grammar and safety, exact derivatives against numpy and finite differences,
races equal to the built-in surface, time limit, singular points and the per-machine cache."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.formula import symbolic as F
from engine.surfaces import catalog as S
from engine.race.race import Race, run_race
from engine.race.status import Status

ROSENBROCK = "(a - x)^2 + b*(y - x^2)^2"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def cache(tmp_path_factory):
    """One cache folder for the session's formula tests (shared with tests/app)."""
    path = tmp_path_factory.getbasetemp() / "formula-cache"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPTIRACE_CACHE_DIR", str(path))
        yield path


@pytest.fixture(scope="module")
def rosen(cache):
    spec = S.get("rosenbrock")
    return F.compile(ROSENBROCK, params={"a": 1.0, "b": 100.0}, domain=spec.domain, start=spec.start)


@pytest.fixture(scope="module")
def kinky(cache):
    return F.compile("abs(x) + 2*abs(y) + max(x, y) - min(x, 0.5*y)", domain=((-2, 2), (-2, 2)), start=(1.5, 1.0))


def _fd_grad(fn, x, y, h=1e-6):
    return np.array([(fn(x + h, y) - fn(x - h, y)) / (2 * h), (fn(x, y + h) - fn(x, y - h)) / (2 * h)])


# -- grammar and safety ------------------------------------------------------------------------
HOSTILE = [
    "__import__('os').system('touch {p}')", "().__class__.__base__.__subclasses__()", "open('{p}', 'w')",
    "lambda: open('{p}', 'w')", "x.__class__", "x[0]", "[open('{p}', 'w') for i in (1,)]",
    "exec('open(\"{p}\", \"w\")')", "eval('1')", "globals()", "getattr(x, 'real')", "__builtins__",
    "(_ := open('{p}', 'w'))", "sin.__call__(x)", "{{x: 1}}", "f'{{x}}'", "x if open('{p}', 'w') else y",
    "breakpoint()", "compile('1', 'f', 'eval')", "sin(*[x])", "max(*(x, y))", "x; open('{p}', 'w')",
]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_input_is_refused_and_never_runs(template, tmp_path):
    target = tmp_path / "pwned"
    text = template.format(p=target)
    with pytest.raises(F.FormulaError):
        F.parse(text)
    with pytest.raises(F.FormulaError):
        F.preview(text)
    with pytest.raises(F.FormulaError):
        F.compile(text)
    assert not target.exists()


@pytest.mark.parametrize("text, position, words", [
    ("(1 - x)^2 + 100*(y - x^2", 16, "never closed"),
    ("x^2 + z", 6, "unknown name 'z'"),
    ("x^2 + foo(y)", 6, "unknown function 'foo'"),
    ("2x + y", 0, "2*x"),
    ("x + y²", 5, "^2"),
    ("sin(x, y)", 0, "exactly one argument"),
    ("x % 2 + y", 4, "'%'"),
])
def test_errors_name_the_problem_and_the_column(text, position, words):
    with pytest.raises(F.FormulaError) as info:
        F.parse(text)
    e = info.value
    assert e.position == position and words in e.message
    # The rendering puts a caret under the offending column of the text.
    lines = str(e).splitlines()
    assert lines[1] == "  " + text and lines[2] == "  " + " " * position + "^"


def test_caret_positions_survive_the_power_rewrite():
    # Each ^ becomes ** internally; the reported column must still be the user's column.
    with pytest.raises(F.FormulaError) as info:
        F.parse("x^2^3 + y^2 + q")
    assert info.value.position == 14


@pytest.mark.parametrize("text, words", [
    ("", "empty"), ("   \n ", "empty"), ("x + " * 600 + "y", "2000"), ("-" * 1500 + "x", "nested too deeply"),
])
def test_empty_long_and_deep_text(text, words):
    with pytest.raises(F.FormulaError, match=words):
        F.parse(text)


def test_hat_is_power_and_canonical_form():
    assert F.parse("x^2 + y ^ 3").python == F.parse("x**2 + y**3").python == "x ** 2 + y ** 3"
    assert F.parse("-x^2").python == "-x ** 2"  # power binds tighter than unary minus, as in maths


def test_param_text():
    assert F.parse_params("a = 1, b = 100; c = 2*pi") == {"a": 1.0, "b": 100.0, "c": pytest.approx(2 * np.pi)}
    for bad, pos in [("a = 1, b", 7), ("a = 1, a = 2", 7), ("x = 1", 0), ("a = z", 4)]:
        with pytest.raises(F.FormulaError) as info:
            F.parse_params(bad)
        assert info.value.position == pos and info.value.field == "params"


@settings(max_examples=150, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(list("xyab0123456789.+-*/^()_ ,=e'[]:") + ["sin", "log", "max", "lambda", "__",
                                                                              "π", "\n", "9^9^9"]),
                max_size=30).map("".join) | st.text(max_size=30))
def test_random_text_only_ever_raises_formula_error(text):
    try:
        p = F.parse(text, ("a", "b"))
    except F.FormulaError:
        return
    z = F.evaluate(p, {"a": 1.0, "b": 2.0}, np.linspace(-1, 1, 5), np.linspace(-2, 2, 5))
    assert z.shape == (5,)


# -- exact derivatives ---------------------------------------------------------------------------
def _leaf():
    named = st.sampled_from([("x", lambda x, y, a: x), ("y", lambda x, y, a: y), ("a", lambda x, y, a: a + 0 * x)])
    const = st.floats(0.1, 3.0).map(lambda c: round(c, 3)).map(lambda c: (repr(c), lambda x, y, a: c + 0 * x))
    return named | const


def _extend(children):
    u = children
    unary = st.sampled_from([
        ("sin({})", np.sin), ("cos({})", np.cos), ("tanh({})", np.tanh), ("atan({})", np.arctan),
        ("sqrt(1 + ({})^2)", lambda v: np.sqrt(1 + v ** 2)), ("log(1 + ({})**2)", lambda v: np.log1p(v ** 2)),
        ("exp(-({})^2)", lambda v: np.exp(-v ** 2)), ("({})^3", lambda v: v ** 3), ("-({})", np.negative),
    ])
    binary = st.sampled_from([
        ("({}) + ({})", np.add), ("({}) - ({})", np.subtract), ("({}) * ({})", np.multiply),
        ("({}) / (1 + ({})^2)", lambda p, q: p / (1 + q ** 2)),
    ])
    one = st.tuples(unary, u).map(lambda t: (t[0][0].format(t[1][0]), lambda x, y, a, f=t[0][1], g=t[1][1]: f(g(x, y, a))))
    two = st.tuples(binary, u, u).map(lambda t: (t[0][0].format(t[1][0], t[2][0]),
                                                 lambda x, y, a, f=t[0][1], g=t[1][1], h=t[2][1]: f(g(x, y, a), h(x, y, a))))
    return one | two


EXPRESSIONS = st.recursive(_leaf(), _extend, max_leaves=6)
POINTS = np.array([[0.3, -0.7], [-1.1, 0.4], [1.6, 1.3], [-0.45, -1.8], [0.05, 0.9]])


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRESSIONS)
def test_random_formulas_match_numpy_and_finite_differences(expr):
    text, ref = expr
    text = f"{text} + 0.01*x - 0.02*y"  # never constant

    def f_ref(x, y):
        return ref(x, y, 0.7) + 0.01 * x - 0.02 * y

    s = F.compile(text, params={"a": 0.7}, domain=((-2, 2), (-2, 2)), start=(0.5, 0.5))
    b = s.bind()
    for x, y in POINTS:
        assert b.value(x, y) == pytest.approx(f_ref(x, y), rel=1e-12, abs=1e-12)
        g = b.gradient(x, y)
        assert np.allclose(g, _fd_grad(f_ref, x, y), rtol=1e-6, atol=1e-6)
        H = b.hessian(x, y)
        Hfd = np.column_stack([_fd_grad(lambda u, v: b.gradient(u, v)[i], x, y) for i in range(2)])
        assert np.allclose(H, H.T) and np.allclose(H, Hfd, rtol=1e-5, atol=1e-5)


def test_rosenbrock_formula_matches_builtin_kernels(rosen):
    built = S.bind("rosenbrock")
    mine = S.bind(rosen)
    rng = np.random.default_rng(0)
    for x, y in rng.uniform(-2, 2, (20, 2)):
        assert mine.value(x, y) == pytest.approx(built.value(x, y), rel=1e-13)
        assert np.allclose(mine.gradient(x, y), built.gradient(x, y), rtol=1e-12, atol=1e-12)
        assert np.allclose(mine.hessian(x, y), built.hessian(x, y), rtol=1e-12, atol=1e-12)
    xs, ys = np.linspace(-2, 2, 7), np.linspace(-1, 3, 5)
    assert np.allclose(mine.grid(xs, ys), built.grid(xs, ys), rtol=1e-13)


def test_subgradients_at_kinks_are_the_stated_ones(kinky):
    b = kinky.bind()
    assert kinky.nonsmooth and "sign(0) = 0" in kinky.notes
    # f = |x| + 2|y| + max(x, y) - min(x, y/2).  At the origin every kink meets: sign(0) = 0 and
    # max/min take the mean of both sides, (1/2, 1/2) and (1/2, 1/4).
    assert np.allclose(b.gradient(0.0, 0.0), [0.5 - 0.5, 0.5 - 0.25])
    # On the max kink x = y away from the others: d max = (1/2, 1/2).
    assert np.allclose(b.gradient(1.0, 1.0), [1 + 0.5 - 0.0, 2 + 0.5 - 1.0 * 0.5])
    # Away from kinks the gradient is the ordinary one; the kink's curvature is 0.
    f = lambda x, y: abs(x) + 2 * abs(y) + max(x, y) - min(x, 0.5 * y)
    for x, y in [(0.7, -0.3), (-1.2, 0.5), (0.4, 1.5)]:
        assert b.value(x, y) == pytest.approx(f(x, y))
        assert np.allclose(b.gradient(x, y), _fd_grad(f, x, y), atol=1e-8)
        assert np.allclose(b.hessian(x, y), 0.0)
    assert np.allclose(b.minima, [[0.0, 0.0]], atol=1e-6)


def test_kinks_sympy_introduces_get_the_same_subgradients(cache):
    # sympy rewrites sqrt(x^2) as Abs(x), whose own second derivative is a DiracDelta.
    s = F.compile("sqrt(x^2) + (y - 1)^2")
    b = s.bind()
    assert s.nonsmooth and np.allclose(b.gradient(0.0, 1.0), [0.0, 0.0])
    assert np.allclose(b.gradient(-0.5, 0.0), [-1.0, -2.0]) and np.allclose(b.hessian(-0.5, 0.0), [[0, 0], [0, 2]])
    assert np.allclose(b.minima, [[0.0, 1.0]], atol=1e-6)


def test_finite_difference_check_catches_a_wrong_derivative():
    class Wrong:  # f = x^2 + y^2 but claims the gradient (3x, 2y)
        @staticmethod
        def fgh(code, x, y, p, g, H, want_h):
            g[0], g[1] = 3 * x, 2 * y
            if want_h:
                H[:] = [[2.0, 0.0], [0.0, 2.0]]
            return x * x + y * y

    class Right(Wrong):
        @staticmethod
        def fgh(code, x, y, p, g, H, want_h):
            g[0], g[1] = 2 * x, 2 * y
            if want_h:
                H[:] = [[2.0, 0.0], [0.0, 2.0]]
            return x * x + y * y

    assert F.check_derivatives(Wrong, np.zeros(1), 0.7, -0.2, 1e-4) == "gradient"
    assert F.check_derivatives(Right, np.zeros(1), 0.7, -0.2, 1e-4) == ""


# -- what makes a formula unusable ---------------------------------------------------------------
@pytest.mark.parametrize("text, kwargs, words", [
    ("0*x + 3", {}, "constant"),
    ("x - x + y - y", {}, "constant"),
    ("sqrt(-1 - x^2 - y^2)", {}, "not real-valued"),
    ("y*log(-1) + x", {}, "not real-valued"),
    ("x + 1/0", {}, "divides by zero"),
    ("log(x) + y^2", {"start": (-1.0, 1.0)}, "start"),
    ("sqrt(x - 10) + y", {}, "not real-valued anywhere"),
])
def test_unusable_formulas_are_refused(text, kwargs, words):
    with pytest.raises(F.FormulaError, match=words):
        F.compile(text, **kwargs)


def test_symbolic_blow_up_is_ended_at_the_time_limit():
    F.start_worker()  # its start-up (importing sympy) is not part of the limit
    t0 = time.monotonic()
    with pytest.raises(F.FormulaError, match="longer than 2 s"):
        F.compile("x + y + 9^9^9^9")
    assert time.monotonic() - t0 < 10.0  # the limit is 2 s; generous for a loaded machine
    # The worker was ended and a new one serves the next formula.
    assert F.compile("x^2 + 3*y^2 + 0.25*x*y").bind().minima.shape == (1, 2)


def test_singular_points_plot_masked_and_racers_diverge(cache):
    s = F.compile("log(x) + y^2", domain=((-1, 3), (-2, 2)), start=(0.5, 1.0))
    b = s.bind()
    xs = np.linspace(-1, 3, 9)
    Z = b.grid(xs, np.zeros(1))[0]
    assert np.all(np.isnan(Z[xs < 0])) and np.all(np.isfinite(Z[xs > 0]))
    _, _, Zp = F.preview("log(x) + y^2", {}, ((-1, 3), (-2, 2)), n=9)
    assert np.all(np.isnan(Zp[:, xs < 0])) and np.all(np.isfinite(Zp[:, xs > 0]))
    pole = F.compile("1/x + y^2", domain=((-1, 1), (-1, 1)), start=(0.5, 0.5)).bind()
    assert np.isnan(pole.grid(np.array([-0.5, 0.0, 0.5]), np.zeros(1))[0]).tolist() == [False, True, False]
    # SGD with lr 1 jumps from x = 0.5 to x = 0.5 - 1/0.5 < 0, where log is undefined.
    r = run_race(s, (0.5, 1.0), [("sgd", {"lr": 1.0})], 10)
    assert r.status[0] == (Status.DIVERGED, 1)
    assert np.all(np.isfinite(r.positions))


# -- racing ----------------------------------------------------------------------------------------
RACERS = ["sgd", ("momentum", {"lr": 1e-3}), ("adam", {"lr": 0.05}), "rmsprop", "newton"]


def test_race_on_formula_equals_race_on_builtin(rosen):
    mine = run_race(rosen, rosen.start, RACERS, 400)
    built = run_race("rosenbrock", S.get("rosenbrock").start, RACERS, 400)
    assert np.allclose(mine.positions, built.positions, rtol=1e-9, atol=1e-12)
    assert mine.status == built.status
    assert any(s.kind == Status.FINISHED for s in mine.status)  # the numeric minimum is the finish line


def test_parameters_are_runtime_data(rosen):
    def compiled():  # None without the JIT: the kernels are then plain Python functions
        K = rosen.kernels
        return None if numba.config.DISABLE_JIT else (len(K.fgh.signatures), len(K.advance.signatures))

    run_race(rosen, rosen.start, ["adam"], 5, surface_params={"b": 100.0})
    before = compiled()
    r = run_race(rosen, rosen.start, ["adam"], 5, surface_params={"a": 0.5, "b": 10.0})
    after = compiled()
    # The finish line follows the parameters: the minimum of (a - x)^2 + b (y - x^2)^2 is (a, a^2).
    assert np.allclose(r.race.surface.minima, [[0.5, 0.25]], atol=1e-8)
    built = run_race("rosenbrock", rosen.start, ["adam"], 5, surface_params={"a": 0.5, "b": 10.0})
    assert np.allclose(r.positions, built.positions, rtol=1e-9)
    if before is None:
        pytest.skip("NUMBA_DISABLE_JIT: the kernels run as plain Python, with no compiled signatures to count")
    assert after == before  # new parameter values compiled nothing


def test_numeric_minima_match_the_catalogue(cache):
    spec = S.get("himmelblau")
    s = F.compile("(x^2 + y - 11)^2 + (x + y^2 - 7)^2", domain=spec.domain)
    found = s.bind().minima
    known = np.array(spec.minima({}))
    assert len(found) == len(known)
    for m in known:
        assert np.min(np.hypot(*(found - m).T)) < 1e-8
    # Unbounded below on its domain: no finish line, so racers may escape.
    assert not F.compile("x + y").bind().bounded_below


def test_user_minima_and_round_trip(rosen):
    s = F.compile(ROSENBROCK, "a = 1, b = 100", domain=rosen.domain, start=rosen.start, minima=[(1, 1)], name="banana")
    assert s.kernels is rosen.kernels  # same formula, same module
    assert np.array_equal(s.bind().minima, [[1.0, 1.0]]) and s.name == "banana"
    d = json.loads(json.dumps(s.to_dict()))
    t = F.from_dict(d)
    assert t.to_dict() == d and t.bind().f_min == 0.0
    with pytest.raises(ValueError, match="outside its valid range"):
        S.bind(s, {"b": 1e9})


def test_second_process_loads_the_cached_module_without_recompiling(rosen, cache):
    run_race(rosen, rosen.start, RACERS, 5)  # compiled (and cached) here
    files = list((cache / "formulas").glob("optirace_formula_*.py"))
    assert Path(rosen.kernels.__file__) in files
    script = f"""
import json, sys
from engine.formula import modules as M, symbolic as F
from engine.surfaces import catalog as S
from engine.race import run_race
spec = S.get("rosenbrock")
s = F.compile({ROSENBROCK!r}, params={{"a": 1.0, "b": 100.0}}, domain=spec.domain, start=spec.start)
run_race(s, s.start, {RACERS!r}, 5)
K = s.kernels
print(json.dumps({{"file": K.__file__, "sympy": "sympy" in sys.modules, "worker": M._worker is not None,
                  "misses": sum(d.stats.cache_misses.total() for d in (K.fgh, K.advance)),
                  "hits": sum(d.stats.cache_hits.total() for d in (K.fgh, K.advance))}}))
"""
    env = dict(os.environ, OPTIRACE_CACHE_DIR=str(cache))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout.strip().splitlines()[-1])
    assert info["file"] == rosen.kernels.__file__
    assert not info["sympy"] and not info["worker"]  # no symbolic work at all
    assert info["misses"] == 0 and info["hits"] >= 2  # numba loaded both kernels from the cache


def test_values_derived_on_a_formula_surface_are_the_recorded_bits(rosen):
    full = Race(rosen, rosen.start, RACERS)
    lean = Race(rosen, rosen.start, RACERS)
    a = full.advance(200)
    b = lean.advance(200, values=False)
    assert np.array_equal(a.positions, b.positions)
    loss, gn = lean.values(b.positions)
    assert np.array_equal(loss, a.losses) and np.array_equal(gn, a.grad_norms)
