"""The surface registry: 2-D loss surfaces as declarative specs over the kernels in
:mod:`engine.surfaces.kernels`.  Formulas, domains and minima follow Surjanovic & Bingham's
library of test functions and More, Garbow & Hillstrom (1981); every minimum listed here is
re-polished numerically by the tests."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from . import kernels as K
from ..optim.registry import Registry
from ..optim.specs import Hyper, pack, unpack

Point = tuple[float, float]


@dataclass(frozen=True)
class SurfaceSpec:
    id: str
    name: str
    code: int
    caption: str
    formula: str
    domain: tuple[Point, Point]  # ((xmin, xmax), (ymin, ymax))
    start: Point
    params: tuple[Hyper, ...] = ()
    # Global minima as a function of the parameter dict; empty for surfaces unbounded below.
    minima: Callable[[Mapping[str, object]], tuple[Point, ...]] = lambda p: ()
    notes: str = ""
    # Quadratic surfaces have a constant Hessian: the theory overlay draws stability limits.
    quadratic: bool = False

    @property
    def bounded_below(self) -> bool:
        return bool(self.minima(self.param_defaults()))

    def param_defaults(self) -> dict[str, object]:
        return {h.name: h.default for h in self.params}

    def pack_params(self, values: Mapping[str, object] | None = None) -> np.ndarray:
        arr = pack(self.params, values, self.name)
        return arr if arr.size else np.zeros(1)

    def bind(self, values: Mapping[str, object] | None = None) -> "BoundSurface":
        p = self.pack_params(values)
        vals = unpack(self.params, p) if self.params else {}
        mins = np.array(self.minima(vals), dtype=np.float64).reshape(-1, 2)
        f_min = min(_f(self.code, p, m[0], m[1]) for m in mins) if len(mins) else None
        return BoundSurface(spec=self, code=self.code, params=p, minima=mins, f_min=f_min)


@dataclass(frozen=True)
class BoundSurface:
    """A surface with its parameter values fixed: what a race runs on."""

    spec: SurfaceSpec
    code: int
    params: np.ndarray
    minima: np.ndarray  # (M, 2)
    f_min: float | None
    extra: dict = field(default_factory=dict)
    # A formula surface (engine.formula) brings its own kernels: a module with fgh, grid,
    # advance and advance_parallel used instead of the built-in ones.
    kernels: object = None

    @property
    def bounded_below(self) -> bool:
        return self.f_min is not None

    def value(self, x, y) -> float:
        return _f(self.code, self.params, float(x), float(y), self.kernels or K)

    def gradient(self, x, y) -> np.ndarray:
        g = np.empty(2)
        (self.kernels or K).fgh(self.code, float(x), float(y), self.params, g, np.empty((2, 2)), False)
        return g

    def hessian(self, x, y) -> np.ndarray:
        H = np.empty((2, 2))
        (self.kernels or K).fgh(self.code, float(x), float(y), self.params, np.empty(2), H, True)
        return H

    def grid(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """f on the grid (len(ys), len(xs))."""
        return (self.kernels or K).grid(self.code, self.params, np.ascontiguousarray(xs, np.float64),
                                        np.ascontiguousarray(ys, np.float64))


def _f(code, p, x, y, kernels=K) -> float:
    return float(kernels.fgh(code, x, y, p, np.empty(2), np.empty((2, 2)), False))


def _cliff_min_x(h: float, k: float, a: float) -> float:
    """The root of the cliff's df/dx = a (x - 1.5) - h k s (1 - s), s = sigmoid(-k x): negative
    for every x <= 1.5 and positive once a (x - 1.5) > h k / 4, so bisection finds the one root."""
    def slope(x):
        s = 1.0 / (1.0 + math.exp(k * x)) if k * x < 700 else 0.0
        return a * (x - 1.5) - h * k * s * (1.0 - s)

    lo, hi = 1.5, 1.5 + h * k / (4.0 * a) + 1.0
    while True:
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            return lo if abs(slope(lo)) <= abs(slope(hi)) else hi
        lo, hi = (mid, hi) if slope(mid) < 0 else (lo, mid)


def _const(*pts: Point):
    return lambda p: pts


SURFACES = Registry("surface", [
    SurfaceSpec(
        "rosenbrock", "Rosenbrock", K.ROSENBROCK,
        "A curved, flat-bottomed banana valley: easy to find, slow to follow.",
        "f = (a - x)^2 + b (y - x^2)^2", ((-2.0, 2.0), (-1.0, 3.0)), (-1.2, 1.0),
        params=(Hyper("a", 1.0, -2.0, 2.0), Hyper("b", 100.0, 0.1, 1000.0, log=True)),
        minima=lambda p: ((p["a"], p["a"] ** 2),),
    ),
    SurfaceSpec(
        "beale", "Beale", K.BEALE,
        "Flat plateaus and sharp ridges around a narrow minimum.",
        "f = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
        ((-4.5, 4.5), (-4.5, 4.5)), (1.0, 1.5), minima=_const((3.0, 0.5)),
    ),
    SurfaceSpec(
        "booth", "Booth", K.BOOTH, "A tilted, well-behaved bowl: everyone should win here.",
        "f = (x + 2y - 7)^2 + (2x + y - 5)^2", ((-10.0, 10.0), (-10.0, 10.0)), (-8.0, -6.0),
        minima=_const((1.0, 3.0)), quadratic=True,
    ),
    SurfaceSpec(
        "himmelblau", "Himmelblau", K.HIMMELBLAU,
        "Four equal minima: where you start decides where you finish.",
        "f = (x^2 + y - 11)^2 + (x + y^2 - 7)^2", ((-5.0, 5.0), (-5.0, 5.0)), (-0.5, -0.5),
        minima=_const((3.0, 2.0), (-2.805118086952745, 3.131312518250573),
                      (-3.779310253377747, -3.283185991286170), (3.584428340330492, -1.848126526964404)),
    ),
    SurfaceSpec(
        "rastrigin", "Rastrigin", K.RASTRIGIN,
        "An egg crate of local minima on a bowl: a trap for small steps.",
        "f = 2A + x^2 - A cos(2 pi x) + y^2 - A cos(2 pi y)", ((-5.12, 5.12), (-5.12, 5.12)), (3.3, 2.4),
        params=(Hyper("A", 10.0, 0.0, 50.0),), minima=_const((0.0, 0.0)),
    ),
    SurfaceSpec(
        "ackley", "Ackley", K.ACKLEY,
        "A nearly flat, bumpy plain with one deep funnel in the middle.",
        "f = -a exp(-b sqrt((x^2 + y^2)/2)) - exp((cos cx + cos cy)/2) + a + e",
        ((-5.0, 5.0), (-5.0, 5.0)), (3.5, 4.0),
        params=(Hyper("a", 20.0, 0.0, 50.0), Hyper("b", 0.2, 0.01, 1.0), Hyper("c", 2 * np.pi, 0.0, 20.0)),
        minima=_const((0.0, 0.0)),
        notes="The cone term has no gradient at the origin; the kernels return the subgradient 0 there.",
    ),
    SurfaceSpec(
        "goldstein_price", "Goldstein-Price", K.GOLDSTEIN_PRICE,
        "Huge dynamic range: values span six orders of magnitude.",
        "f = [1 + (x+y+1)^2 (19 - 14x + 3x^2 - 14y + 6xy + 3y^2)]"
        " [30 + (2x-3y)^2 (18 - 32x + 12x^2 + 48y - 36xy + 27y^2)]",
        ((-2.0, 2.0), (-2.0, 2.0)), (-1.0, 1.2), minima=_const((0.0, -1.0)),
    ),
    SurfaceSpec(
        "six_hump_camel", "Six-hump camel", K.SIX_HUMP_CAMEL,
        "Six local minima, two of them global and symmetric.",
        "f = (4 - 2.1x^2 + x^4/3) x^2 + xy + (-4 + 4y^2) y^2", ((-3.0, 3.0), (-2.0, 2.0)), (-2.0, 1.5),
        minima=_const((0.08984201310031807, -0.7126564030207396), (-0.08984201310031807, 0.7126564030207396)),
    ),
    SurfaceSpec(
        "styblinski_tang", "Styblinski-Tang", K.STYBLINSKI_TANG,
        "Four basins of different depth; only one is global.",
        "f = ((x^4 - 16x^2 + 5x) + (y^4 - 16y^2 + 5y)) / 2", ((-5.0, 5.0), (-5.0, 5.0)), (4.5, 4.5),
        minima=_const((-2.903534027771178, -2.903534027771178)),
        notes="The minimum is -39.16617 per dimension (-78.33234 in 2-D); -39.16599 is often quoted wrongly.",
    ),
    SurfaceSpec(
        "saddle", "Saddle", K.SADDLE,
        "A saddle point: the right answer is to escape downhill along y.",
        "f = x^2 - y^2", ((-2.0, 2.0), (-2.0, 2.0)), (1.8, 1e-3), quadratic=True,
    ),
    SurfaceSpec(
        "monkey_saddle", "Monkey saddle", K.MONKEY_SADDLE,
        "A degenerate saddle with three valleys: the Hessian vanishes at the origin.",
        "f = x^3 - 3xy^2", ((-2.0, 2.0), (-2.0, 2.0)), (1.5, 0.05),
    ),
    SurfaceSpec(
        "quadratic", "Ill-conditioned ravine", K.QUADRATIC,
        "A quadratic bowl stretched by the condition number kappa: SGD zig-zags, momentum glides.",
        "f = (u^2 + kappa v^2) / 2,  (u, v) = (x, y) rotated by angle",
        ((-3.0, 3.0), (-3.0, 3.0)), (-2.5, 1.5),
        params=(Hyper("kappa", 25.0, 1.0, 1e4, log=True, help="condition number"),
                Hyper("angle", 0.0, -90.0, 90.0, help="rotation of the valley in degrees")),
        minima=_const((0.0, 0.0)), quadratic=True,
    ),
    SurfaceSpec(
        "cliff", "Cliff", K.CLIFF,
        "A plateau ending in a steep wall: the gradient explodes at the edge; clipping tames it.",
        "f = a ((x - 1.5)^2 + y^2) / 2 + h sigmoid(-k x)", ((-4.0, 4.0), (-3.0, 3.0)), (-3.0, 2.0),
        params=(Hyper("h", 20.0, 0.0, 100.0, help="height of the wall"),
                Hyper("k", 50.0, 1.0, 500.0, log=True, help="steepness of the wall"),
                Hyper("a", 0.2, 0.01, 10.0, log=True, help="curvature of the bowl")),
        # The wall's tail pushes the bowl's minimum right of x = 1.5 (by ~1e-31 at the defaults,
        # visibly for a soft, high wall): solved for, not assumed.
        minima=lambda p: ((_cliff_min_x(p["h"], p["k"], p["a"]), 0.0),),
    ),
    SurfaceSpec(
        "matyas", "Matyas", K.MATYAS, "A long, almost flat diagonal valley.",
        "f = 0.26 (x^2 + y^2) - 0.48 xy", ((-10.0, 10.0), (-10.0, 10.0)), (-8.0, 6.0),
        minima=_const((0.0, 0.0)), quadratic=True,
    ),
])
get = SURFACES.get
names = SURFACES.ids


def bind(surface: "str | SurfaceSpec | BoundSurface", params: Mapping[str, object] | None = None) -> BoundSurface:
    """A BoundSurface from an id, a spec or an already bound surface."""
    if isinstance(surface, BoundSurface):
        if params:
            return surface.spec.bind({**unpack(surface.spec.params, surface.params), **params}) \
                if surface.spec.params else surface
        return surface
    if isinstance(surface, str):
        surface = get(surface)
    return surface.bind(params)
