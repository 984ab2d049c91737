"""Symbolic side of formula surfaces: a checked formula tree -> sympy -> exact gradient and
Hessian -> the numba source of ``fgh``.  Runs in a worker process (``python -m
engine.formula.codegen``) so that a symbolic blow-up can be ended at the time limit."""
from __future__ import annotations

import ast
import json
import sys

import sympy as sp
from sympy.printing.precedence import PRECEDENCE
from sympy.printing.pycode import PythonCodePrinter

from .grammar import fold

X, Y = sp.symbols("x y", real=True)


# abs, min and max get their own sympy functions so that their derivatives are exactly the
# subgradients we state (sympy's own give DiracDelta terms and, for abs of a non-real-typed
# argument, re/im/atan2 clutter):
#   d|u|        = sign(u) du,                    sign(0) = 0
#   d max(u, v) = step(u - v) du + step(v - u) dv,  step(0) = 1/2 (the mean of both sides)
#   d min(u, v) = step(v - u) du + step(u - v) dv
# and sign and step have derivative 0: curvature concentrated at a kink is dropped.
class FAbs(sp.Function):
    nargs = 1

    @classmethod
    def eval(cls, u):
        if u.is_number and u.is_real:
            return abs(u)
        return None

    def fdiff(self, argindex=1):
        return FSign(self.args[0])


class FSign(sp.Function):
    nargs = 1

    @classmethod
    def eval(cls, u):
        if u.is_number and u.is_real:
            return sp.sign(u)
        return None

    def fdiff(self, argindex=1):
        return sp.S.Zero


class FStep(sp.Function):
    nargs = 1

    @classmethod
    def eval(cls, u):
        if u.is_number and u.is_real:
            return sp.S.One if u > 0 else sp.S.Zero if u < 0 else sp.S.Half
        return None

    def fdiff(self, argindex=1):
        return sp.S.Zero


class FMax(sp.Function):
    nargs = 2

    @classmethod
    def eval(cls, u, v):
        if u.is_number and v.is_number and u.is_real and v.is_real:
            return sp.Max(u, v)
        return None

    def fdiff(self, argindex=1):
        u, v = self.args
        return FStep(u - v) if argindex == 1 else FStep(v - u)


class FMin(sp.Function):
    nargs = 2

    @classmethod
    def eval(cls, u, v):
        if u.is_number and v.is_number and u.is_real and v.is_real:
            return sp.Min(u, v)
        return None

    def fdiff(self, argindex=1):
        u, v = self.args
        return FStep(v - u) if argindex == 1 else FStep(u - v)


_UNARY = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "exp": sp.exp, "log": sp.log,
    "log10": lambda u: sp.log(u) / sp.log(10), "sqrt": sp.sqrt, "abs": FAbs, "tanh": sp.tanh,
    "sinh": sp.sinh, "cosh": sp.cosh, "arctan": sp.atan, "atan": sp.atan,
}
_NARY = {"min": FMin, "max": FMax}
_BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a ** b}


def to_sympy(tree: ast.Expression, params: list[str]) -> sp.Expr:
    """A tree already checked by :func:`engine.formula.grammar.parse` as sympy; params become
    _p0, _p1..."""
    names = {"x": X, "y": Y, "pi": sp.pi, "e": sp.E}
    names.update({n: sp.Symbol(f"_p{i}", real=True) for i, n in enumerate(params)})

    def constant(v):
        return sp.Integer(v) if isinstance(v, int) else sp.Float(v)

    def call(fn, args):
        return _fold(_NARY[fn], args) if fn in _NARY else _UNARY[fn](args[0])

    return fold(tree, constant, names.__getitem__, lambda op, a, b: _BINARY[op](a, b), call)


class _Printer(PythonCodePrinter):
    """Python source for numba: every number a float (no int64 overflow), exact float
    literals, integer powers kept integer (numba multiplies them out), our kink functions."""

    def __init__(self):
        super().__init__({"fully_qualified_modules": True, "strict": True})

    def _print_Integer(self, expr):
        return repr(float(int(expr)))

    def _print_Rational(self, expr):
        return repr(float(expr))

    def _print_Half(self, expr):
        return "0.5"

    def _print_Float(self, expr):
        return repr(float(expr))

    def _print_Pow(self, expr, rational=False):
        b, e = expr.as_base_exp()
        pb = self.parenthesize(b, PRECEDENCE["Pow"], strict=True)
        if e == sp.S.Half:
            return f"math.sqrt({self._print(b)})"
        if e == -sp.S.Half:
            return f"(1.0/math.sqrt({self._print(b)}))"
        if e.is_Integer and abs(int(e)) <= 64:
            n = int(e)
            if n >= 0:
                return f"{pb}**{n}"
            return f"(1.0/{pb})" if n == -1 else f"(1.0/{pb}**{-n})"
        return f"{pb}**{self.parenthesize(e, PRECEDENCE['Pow'], strict=True)}"

    def _print_FAbs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_FSign(self, expr):
        return f"_sign({self._print(expr.args[0])})"

    def _print_FStep(self, expr):
        return f"_step({self._print(expr.args[0])})"

    def _print_FMax(self, expr):
        return f"_fmax({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_FMin(self, expr):
        return f"_fmin({self._print(expr.args[0])}, {self._print(expr.args[1])})"

    def _print_Exp1(self, expr):
        return "math.e"

    def _print_Pi(self, expr):
        return "math.pi"


def _block(printer, exprs, prefix, indent):
    """cse over exprs: (lines defining the shared subexpressions, printed results)."""
    reps, reduced = sp.cse(exprs, symbols=sp.numbered_symbols(prefix), order="none")
    lines = [f"{indent}{s} = {printer.doprint(v)}" for s, v in reps]
    return lines, [printer.doprint(r) for r in reduced]


def derive(text: str, params: list[str]) -> dict:
    """The fgh source for the formula ``text`` (Python syntax, already checked)."""
    f = to_sympy(ast.parse(text, mode="eval"), params)
    if f.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ValueError("the formula divides by zero or is undefined everywhere")
    if f.is_real is False or f.has(sp.I):
        raise ValueError("the formula is not real-valued")
    if not ({X, Y} & f.free_symbols):
        raise ValueError("the formula is constant: it depends on neither x nor y")
    # sympy brings its own kinks in by simplifying (sqrt(x^2) = Abs(x) for real x): use ours.
    f = f.replace(sp.Abs, FAbs).replace(sp.sign, FSign).replace(
        sp.Max, lambda *a: _fold(FMax, a)).replace(sp.Min, lambda *a: _fold(FMin, a))
    gx, gy = f.diff(X), f.diff(Y)
    hxx, hxy, hyy = gx.diff(X), gx.diff(Y), gy.diff(Y)
    pr = _Printer()
    ind = "    "
    body = [f"{ind}_p{i} = p[{i}]" for i in range(len(params))]
    lines, (fs, gxs, gys) = _block(pr, [f, gx, gy], "_s", ind)
    body += lines + [f"{ind}f = {fs}", f"{ind}g[0] = {gxs}", f"{ind}g[1] = {gys}", f"{ind}if want_h:"]
    lines, (a, b, c) = _block(pr, [hxx, hxy, hyy], "_h", ind * 2)
    body += lines + [f"{ind * 2}H[0, 0] = {a}", f"{ind * 2}H[0, 1] = {b}", f"{ind * 2}H[1, 0] = {b}",
                     f"{ind * 2}H[1, 1] = {c}", f"{ind}return f"]
    kinked = any(f.has(F) for F in (FAbs, FMax, FMin))
    return {"body": "\n".join(body), "nonsmooth": kinked,
            "gradient": [_display(gx, params), _display(gy, params)]}


def _fold(fn, args):
    out = args[0]
    for a in args[1:]:
        out = fn(out, a)
    return out


def _display(expr, params) -> str:
    """A derivative as the user reads it: their parameter names, sign/step/abs/min/max."""
    expr = expr.xreplace({sp.Symbol(f"_p{i}", real=True): sp.Symbol(n) for i, n in enumerate(params)})
    s = sp.sstr(expr)
    for ours, theirs in (("FAbs(", "abs("), ("FSign(", "sign("), ("FStep(", "step("),
                         ("FMax(", "max("), ("FMin(", "min(")):
        s = s.replace(ours, theirs)
    return s


def _serve() -> None:
    """Answer one JSON request per line on stdin with one JSON line on stdout."""
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but answers on the protocol channel
    out.write('{"ready": true}\n')
    out.flush()
    for line in sys.stdin:
        try:
            req = json.loads(line)
            ans = {"ok": True, **derive(req["text"], req["params"])}
        except (RecursionError, MemoryError):
            ans = {"ok": False, "error": "the formula is too deeply nested for symbolic differentiation"}
        except Exception as e:  # any sympy failure becomes a message for the user
            ans = {"ok": False, "error": f"{e}" or type(e).__name__}
        out.write(json.dumps(ans) + "\n")
        out.flush()


if __name__ == "__main__":
    _serve()
