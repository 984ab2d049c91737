"""User formulas as loss surfaces: ``compile("(1 - x)^2 + b*(y - x^2)^2", params={"b": 100})``
parses safely, differentiates exactly (sympy, in a time-limited worker process), compiles the
result with numba into a cached module and returns a surface that races like a built-in one."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from numba.core.errors import NumbaError

from .grammar import (CONSTANTS, DEFAULT_DOMAIN, FUNCTIONS, MAX_CHARS, NARY, UNARY,  # noqa: F401
                              VARIABLES, FormulaError, Parsed, check_domain, check_param_name,
                              check_point, evaluate, parse, parse_params, parse_points, preview)
from .modules import (TIME_LIMIT, _compiled, _ensure_module, cache_dir, kernels_for,  # noqa: F401
                              start_worker, stop_worker)
from ..optim.specs import Hyper
from ..surfaces.catalog import BoundSurface, SurfaceSpec

FORMULA_CODE = -1  # surface code of every formula: the built-in kernels answer NaN to it
KINK_NOTE = ("At a kink the gradient is a subgradient: abs uses sign(0) = 0, min and max the mean "
             "of both sides' gradients; the curvature concentrated at a kink is taken as 0.")


class DerivativeMismatch(FormulaError):
    """The compiled derivatives disagree with finite differences: a bug in the compiler."""


# -- the surface -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FormulaSurface(SurfaceSpec):
    """A user formula as a surface spec; :func:`engine.surfaces.bind` accepts it."""

    text: str = ""
    kernels: object = field(default=None, repr=False)
    user_minima: tuple[tuple[float, float], ...] | None = None
    nonsmooth: bool = False
    gradient_text: tuple[str, str] = ("", "")
    _minima_cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "minima", lambda values: tuple(map(tuple, self.minima_at(self.pack_params(values)))))

    def bind(self, values: Mapping[str, object] | None = None) -> BoundSurface:
        p = self.pack_params(values)
        mins = self.minima_at(p)
        f_min = min(self._f(p, *m) for m in mins) if len(mins) else None
        return BoundSurface(spec=self, code=self.code, params=p, minima=mins, f_min=f_min, kernels=self.kernels)

    def _f(self, p, x, y) -> float:
        return float(self.kernels.fgh(self.code, float(x), float(y), p, np.empty(2), np.empty((2, 2)), False))

    def minima_at(self, p: np.ndarray) -> np.ndarray:
        """(M, 2) global minima for parameter array p: the user's, or found numerically."""
        if self.user_minima is not None:
            return np.array(self.user_minima, dtype=np.float64).reshape(-1, 2)
        key = p.tobytes()
        if key not in self._minima_cache:
            self._minima_cache[key] = find_minima(self.kernels, p, self.domain, self.nonsmooth)
        return self._minima_cache[key].copy()

    def to_dict(self) -> dict:
        """Plain data that :func:`from_dict` compiles back (for scenarios and the library)."""
        return {"name": self.name, "formula": self.text,
                "params": {h.name: float(h.default) for h in self.params},
                "domain": [list(self.domain[0]), list(self.domain[1])], "start": list(self.start),
                "minima": None if self.user_minima is None else [list(m) for m in self.user_minima]}


def from_dict(d: Mapping) -> FormulaSurface:
    return compile(d["formula"], d.get("params") or {}, domain=d.get("domain", DEFAULT_DOMAIN),
                   start=d.get("start"), minima=d.get("minima"), name=d.get("name"))


def _hypers(params) -> tuple[Hyper, ...]:
    if isinstance(params, str):
        params = parse_params(params)
    out = []
    for name, v in dict(params or {}).items():
        check_param_name(name)
        if isinstance(v, Hyper):
            out.append(v)
            continue
        try:
            d = float(v)
        except (TypeError, ValueError):
            raise FormulaError(f"parameter {name!r} must be a number, got {v!r}", field="params") from None
        if not math.isfinite(d):
            raise FormulaError(f"parameter {name!r} must be finite, got {v!r}", field="params")
        w = 10.0 * max(1.0, abs(d))
        out.append(Hyper(name, d, d - w, d + w))
    return tuple(out)


def compile(text: str, params: "Mapping[str, float] | str | None" = None, *,
            domain=DEFAULT_DOMAIN, start: Sequence[float] | None = None,
            minima: Sequence[Sequence[float]] | None = None, name: str | None = None,
            time_limit: float = TIME_LIMIT, precompile: bool = False) -> FormulaSurface:
    """A surface from the formula ``text`` in x, y and the named ``params`` (name -> default
    value, or the text ``"a = 1, b = 100"``).  ``minima`` are the global minima if known,
    otherwise they are found numerically; ``start`` defaults to a point near the top-left
    corner of ``domain``.  Raises FormulaError (with the column for syntax errors).

    ``precompile`` compiles the kernels (race driver included) in a separate process that
    fills numba's cache, which this process then loads: a GUI stays responsive meanwhile."""
    hypers = _hypers(params)
    parsed = parse(text, tuple(h.name for h in hypers))
    dom = check_domain(domain)
    (x0, x1), (y0, y1) = dom
    st = check_point(start, "start") if start is not None else (x0 + 0.15 * (x1 - x0), y0 + 0.85 * (y1 - y0))
    user = None if minima is None else tuple(check_point(m, "minima") for m in minima)
    if precompile and not _compiled(parsed):
        _ensure_module(parsed, time_limit)
        _precompile({"formula": text, "params": {h.name: h.default for h in hypers}, "domain": dom,
                     "start": st, "minima": user})
    mod = kernels_for(parsed, time_limit)
    key = mod.__name__.rsplit("_", 1)[-1]
    surf = FormulaSurface(
        id=f"formula-{key[:10]}", name=name or _short(parsed.text), code=FORMULA_CODE,
        caption="Your formula.", formula=parsed.text, domain=dom, start=st, params=hypers,
        notes=KINK_NOTE if mod.NONSMOOTH else "", text=parsed.text, kernels=mod, user_minima=user,
        nonsmooth=bool(mod.NONSMOOTH), gradient_text=tuple(mod.GRADIENT))
    try:
        validate(surf)
    except NumbaError as e:  # a bug in the code generator: say so, and do not keep the module
        Path(mod.__file__).unlink(missing_ok=True)
        raise FormulaError(f"internal error: the generated kernel did not compile ({type(e).__name__}); "
                           "please report this formula", parsed.text) from e
    return surf


def warm(surface: FormulaSurface) -> None:
    """Compile (or load from the cache) every kernel a race on ``surface`` uses."""
    from ..race.race import run_race

    run_race(surface, surface.start, ["sgd", "newton"], 1)


def _precompile(spec: dict) -> None:
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))))
    out = subprocess.run([sys.executable, "-c", f"from {__name__} import _precompile_main; _precompile_main()"],
                         input=json.dumps(spec), capture_output=True, text=True, env=env, cwd=root, timeout=900)
    lines = out.stdout.strip().splitlines()
    try:
        ans = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise FormulaError(f"internal error: compiling the kernels failed ({tail})", spec["formula"]) from None
    if not ans["ok"]:
        raise FormulaError(ans["message"], ans["text"], ans["position"], ans["field"])


def _precompile_main() -> None:
    """Entry point of the precompile process: a spec as JSON on stdin, the outcome on stdout."""
    spec = json.loads(sys.stdin.read())
    try:
        warm(from_dict(spec))
        ans = {"ok": True}
    except FormulaError as e:
        ans = {"ok": False, "message": e.message, "text": e.text, "position": e.position, "field": e.field}
    print(json.dumps(ans))


def _short(text: str) -> str:
    t = " ".join(text.split())
    return t if len(t) <= 40 else t[:39] + "…"


# -- numeric checks ----------------------------------------------------------------------------
def validate(surf: FormulaSurface, p: np.ndarray | None = None, samples: int = 24) -> None:
    """Raise FormulaError unless f is real-valued and not constant on the domain, defined at
    the start, and its compiled derivatives match centered finite differences."""
    p = surf.pack_params() if p is None else p
    K = surf.kernels
    (x0, x1), (y0, y1) = surf.domain
    Z = K.grid(FORMULA_CODE, p, np.linspace(x0, x1, 41), np.linspace(y0, y1, 41))
    fin = Z[np.isfinite(Z)]
    if fin.size == 0:
        raise FormulaError("f is not real-valued anywhere on the domain", surf.text)
    if fin.min() == fin.max():
        raise FormulaError("f is constant on the domain", surf.text)
    g = np.empty(2)
    fs = K.fgh(FORMULA_CODE, surf.start[0], surf.start[1], p, g, np.empty((2, 2)), False)
    if not (math.isfinite(fs) and np.all(np.isfinite(g))):
        raise FormulaError(f"f is not defined at the start point {surf.start}: choose another start",
                           surf.text, field="start")
    rng = np.random.default_rng(12345)
    pts = np.column_stack([rng.uniform(x0, x1, samples), rng.uniform(y0, y1, samples)])
    span = max(x1 - x0, y1 - y0)
    for x, y in [surf.start, *pts]:
        bad = check_derivatives(K, p, x, y, 1e-4 * span)
        if bad:
            raise DerivativeMismatch(f"internal error: the compiled {bad} of this formula disagrees "
                                     f"with finite differences at ({x:.6g}, {y:.6g}); please report it",
                                     surf.text)


def check_derivatives(K, p, x, y, h) -> str:
    """'' if gradient and Hessian at (x, y) match centered differences (Richardson-checked at
    steps h and h/2), else which one does not.  Points where the differences disagree among
    themselves (kinks, singularities, roundoff) are not judged."""
    eps = np.finfo(float).eps
    g = np.empty(2)
    H = np.empty((2, 2))
    f = K.fgh(FORMULA_CODE, x, y, p, g, H, True)
    if not (math.isfinite(f) and np.all(np.isfinite(g)) and np.all(np.isfinite(H))):
        return ""
    gg = np.empty(2)
    scratch = np.empty((2, 2))

    def fd(i, step, which):  # centered difference of f (which=-1) or of gradient component which
        out = []
        for s in (step, -step):
            xy = [x, y]
            xy[i] += s
            v = K.fgh(FORMULA_CODE, xy[0], xy[1], p, gg, scratch, False)
            out.append(v if which < 0 else gg[which])
        return (out[0] - out[1]) / (2 * step), abs(out[0]) + abs(out[1])

    for i in range(2):
        for which, exact, label in ((-1, g[i], "gradient"), (0, H[0, i], "Hessian"), (1, H[1, i], "Hessian")):
            d1, m1 = fd(i, h, which)
            d2, m2 = fd(i, h / 2, which)
            if not (math.isfinite(d1) and math.isfinite(d2)):
                continue
            rich = (4 * d2 - d1) / 3
            spread = abs(d2 - d1)
            roundoff = 100 * eps * max(m1, m2) / (h / 2)
            scale = abs(rich) + abs(exact)
            if spread > 1e-2 * scale + roundoff:
                continue  # the differences themselves are unreliable here
            if abs(exact - rich) > 1e-5 * scale + 10 * spread + roundoff:
                return label
    return ""


def find_minima(K, p: np.ndarray, domain, nonsmooth: bool = False, n: int = 81, starts: int = 24) -> np.ndarray:
    """Global minima of f inside ``domain``: L-BFGS-B (then Newton polish) from the lowest
    local minima of an n x n grid.  Empty when the lowest value on the domain is not at an
    interior critical point (f keeps falling at the edge: no finish line)."""
    from scipy.optimize import minimize

    (x0, x1), (y0, y1) = domain
    span = max(x1 - x0, y1 - y0)
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    Z = K.grid(FORMULA_CODE, p, xs, ys)
    Zi = np.where(np.isfinite(Z), Z, np.inf)
    if not np.isfinite(Zi).any():
        return np.empty((0, 2))
    pad = np.pad(Zi, 1, constant_values=np.inf)
    nb = np.min([pad[1 + di:n + 1 + di, 1 + dj:n + 1 + dj] for di in (-1, 0, 1) for dj in (-1, 0, 1)
                 if di or dj], axis=0)
    cand = np.flatnonzero((Zi <= nb).ravel() & np.isfinite(Zi).ravel())
    cand = cand[np.argsort(Zi.ravel()[cand])][:starts]
    fin = Zi[np.isfinite(Zi)]
    gscale = max((fin.max() - fin.min()) / span, 1e-300)
    g = np.empty(2)
    H = np.empty((2, 2))

    def fg(v):
        f = K.fgh(FORMULA_CODE, v[0], v[1], p, g, H, False)
        if not (math.isfinite(f) and np.all(np.isfinite(g))):
            return 1e300, np.zeros(2)
        return f, g.copy()

    found = []
    for c in cand:
        v = np.array([xs[c % n], ys[c // n]])
        try:
            v = minimize(fg, v, jac=True, method="L-BFGS-B", bounds=[(x0, x1), (y0, y1)],
                         options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 500}).x
        except (ValueError, FloatingPointError):
            continue
        if not nonsmooth:
            v = _newton_polish(K, p, v)
        if not (x0 <= v[0] <= x1 and y0 <= v[1] <= y1):
            continue
        f, gr = fg(v)
        if f >= 1e300:
            continue
        critical = np.hypot(*gr) <= 1e-6 * gscale
        if not critical and nonsmooth:
            hh = 1e-7 * span
            critical = all(fg(v + hh * np.array([math.cos(a), math.sin(a)]))[0] >= f
                           for a in np.linspace(0, 2 * math.pi, 8, endpoint=False))
        if critical:
            found.append((f, v))
    if not found:
        return np.empty((0, 2))
    fb = min(f for f, _ in found)
    if fin.min() < fb - 1e-9 * (abs(fb) + fin.max() - fin.min()):
        return np.empty((0, 2))
    out: list[np.ndarray] = []
    for f, v in sorted(found, key=lambda t: t[0]):
        if f <= fb + 1e-9 * (1.0 + abs(fb)) and all(np.hypot(*(v - w)) > 1e-6 * span for w in out):
            out.append(v)
    return np.array(out)


def _newton_polish(K, p, v, iters: int = 8) -> np.ndarray:
    """A few Newton steps from an L-BFGS-B answer: minima to machine precision."""
    g = np.empty(2)
    H = np.empty((2, 2))
    f = K.fgh(FORMULA_CODE, v[0], v[1], p, g, H, True)
    for _ in range(iters):
        try:
            step = np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
        w = v - step
        fw = K.fgh(FORMULA_CODE, w[0], w[1], p, g, H, True)
        if not (math.isfinite(fw) and fw <= f) or not np.all(np.isfinite(H)):
            break
        v, f = w, fw
    return v
