"""The formula grammar: user text checked node by node against a whitelist (Python's ast,
with ^ as power), errors with their column, and plain numpy evaluation for previews."""
from __future__ import annotations

import ast
import functools
import io
import keyword
import math
import re
import tokenize
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

MAX_CHARS = 2000
DEFAULT_DOMAIN = ((-2.0, 2.0), (-2.0, 2.0))
UNARY = ("sin", "cos", "tan", "exp", "log", "log10", "sqrt", "abs", "tanh", "sinh", "cosh",
         "arctan", "atan")
NARY = ("min", "max")
FUNCTIONS = UNARY + NARY
CONSTANTS = ("pi", "e")
VARIABLES = ("x", "y")
_HINTS = {"²": "write ^2", "³": "write ^3", "×": "write *", "·": "write *", "÷": "write /",
          "−": "write -", "π": "write pi", "√": "write sqrt(...)"}
_NODE_NAMES = {
    "Attribute": "attribute access (.name)", "Subscript": "indexing ([...])", "Lambda": "lambda",
    "Compare": "a comparison", "BoolOp": "and/or", "IfExp": "if/else", "Tuple": "a tuple (a, b)",
    "List": "a list", "Dict": "a dict", "Set": "a set", "ListComp": "a comprehension",
    "SetComp": "a comprehension", "DictComp": "a comprehension", "GeneratorExp": "a generator",
    "NamedExpr": "assignment (:=)", "JoinedStr": "an f-string", "Starred": "unpacking (*)",
    "Await": "await", "Yield": "yield", "YieldFrom": "yield", "Slice": "a slice",
}
_OP_NAMES = {"BitXor": "^", "BitAnd": "&", "BitOr": "|", "FloorDiv": "//", "Mod": "%",
             "LShift": "<<", "RShift": ">>", "MatMult": "@", "Invert": "~", "Not": "not"}
_ALLOWED_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)



class FormulaError(ValueError):
    """Bad formula input.  ``position`` is the 0-based column in ``text`` (or None) and
    ``field`` says which input it is about: formula, params, domain, start or minima."""

    def __init__(self, message: str, text: str = "", position: int | None = None, field: str = "formula"):
        self.message = message
        self.text = text
        self.position = position
        self.field = field
        super().__init__(self.render())

    def render(self) -> str:
        if self.position is None:
            return self.message
        return f"{self.message} (column {self.position + 1})\n  {self.text}\n  {' ' * self.position}^"



# -- parsing -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Parsed:
    text: str  # what the user typed
    python: str  # the canonical Python form (^ turned into **), used for hashing and codegen
    params: tuple[str, ...]
    tree: ast.Expression


def parse(text: str, params: Sequence[str] = (), *, field: str = "formula",
          variables: Sequence[str] = VARIABLES) -> Parsed:
    """Check ``text`` against the grammar; raises FormulaError naming the problem and column."""
    if not isinstance(text, str):
        raise FormulaError(f"the {field} must be text, got {type(text).__name__}", field=field)
    if len(text) > MAX_CHARS:
        raise FormulaError(f"the {field} is {len(text)} characters long; the limit is {MAX_CHARS}",
                           field=field)
    flat = "".join(" " if c in "\t\r\n\f\v" else c for c in text)
    for i, c in enumerate(flat):
        if not " " <= c <= "~":
            hint = _HINTS.get(c)
            raise FormulaError(f"character {c!r} is not allowed" + (f" ({hint})" if hint else ""),
                               flat, i, field)
    if not flat.strip():
        raise FormulaError(f"the {field} is empty", field=field)
    lead = len(flat) - len(flat.lstrip())
    src, cols = _powers(flat[lead:])
    cols = [c + lead for c in cols]

    def at(col):  # a column of src -> a column of the user's text
        return cols[min(max(col, 0), len(cols) - 1)]

    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as e:
        msg = e.msg
        if "decimal literal" in msg:
            msg += " (write 2*x for a product)"
        col = (e.offset or 1) - 1 if e.lineno in (None, 1) else len(src)
        raise FormulaError(f"syntax error: {msg}", flat, at(col), field) from None
    except (RecursionError, MemoryError):
        raise FormulaError(f"the {field} is nested too deeply", flat, None, field) from None
    names = dict.fromkeys((*variables, *CONSTANTS, *params))
    try:
        _check(tree.body, names, lambda node: at(node.col_offset), flat, field)
    except RecursionError:
        raise FormulaError(f"the {field} is nested too deeply", flat, None, field) from None
    return Parsed(text, ast.unparse(tree), tuple(params), tree)


def _powers(s: str) -> tuple[str, list[int]]:
    """``^`` -> ``**`` at the token level; also the column in ``s`` of each output column."""
    spots: set[int] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(s).readline):
            if tok.type == tokenize.OP and tok.string == "^":
                spots.add(tok.start[1])
    except (tokenize.TokenError, SyntaxError):
        # Not valid Python tokens anyway (the parser reports where); a '^' here can only
        # have been meant as a power.
        spots = {i for i, c in enumerate(s) if c == "^"}
    out, cols = [], []
    for i, c in enumerate(s):
        if i in spots:
            out.append("**")
            cols += [i, i]
        else:
            out.append(c)
            cols.append(i)
    cols.append(len(s))
    return "".join(out), cols


def _check(node, names, pos, text, fld):
    def fail(msg, n=node):
        raise FormulaError(msg, text, pos(n), fld)

    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            fail("complex numbers are not allowed" if isinstance(v, complex)
                 else "text is not allowed" if isinstance(v, (str, bytes)) else f"{v!r} is not allowed")
        try:
            ok = math.isfinite(float(v))
        except OverflowError:
            ok = False
        if not ok:
            fail("number too large")
    elif isinstance(node, ast.Name):
        if node.id not in names:
            if node.id in FUNCTIONS:
                fail(f"{node.id!r} is a function: write {node.id}(...)")
            if node.id.startswith("_"):
                fail(f"name {node.id!r} is not allowed")
            fail(f"unknown name {node.id!r}; known names: {', '.join(names)}")
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            fail(f"operator {_OP_NAMES.get(type(node.op).__name__, type(node.op).__name__)!r} is not allowed")
        _check(node.operand, names, pos, text, fld)
    elif isinstance(node, ast.BinOp):
        if not isinstance(node.op, _ALLOWED_BINOPS):
            op = _OP_NAMES.get(type(node.op).__name__, type(node.op).__name__)
            raise FormulaError(f"operator {op!r} is not allowed; use + - * / ^", text, pos(node.right), fld)
        _check(node.left, names, pos, text, fld)
        _check(node.right, names, pos, text, fld)
    elif isinstance(node, ast.Call):
        fn = node.func
        if not isinstance(fn, ast.Name):
            _check(fn, names, pos, text, fld)  # names what is wrong with the callee
            fail("only these functions can be called: " + ", ".join(FUNCTIONS))
        if fn.id not in FUNCTIONS:
            if fn.id in names:
                fail(f"{fn.id!r} is not a function")
            fail(f"unknown function {fn.id!r}; known: {', '.join(FUNCTIONS)}")
        if node.keywords:
            fail(f"{fn.id}() takes no keyword arguments")
        for a in node.args:
            if isinstance(a, ast.Starred):
                fail("unpacking (*) is not allowed", a)
        n = len(node.args)
        if fn.id in UNARY and n != 1:
            fail(f"{fn.id}() takes exactly one argument, got {n}")
        if fn.id in NARY and n < 2:
            fail(f"{fn.id}() takes two or more arguments, got {n}")
        for a in node.args:
            _check(a, names, pos, text, fld)
    else:
        kind = type(node).__name__
        fail(f"{_NODE_NAMES.get(kind, kind)} is not allowed in a formula")


def check_param_name(name: str) -> None:
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", name):
        raise FormulaError(f"parameter name {name!r} must be a letter followed by up to 31 letters, "
                           "digits or _", field="params")
    if name in VARIABLES or name in CONSTANTS or name in FUNCTIONS or keyword.iskeyword(name):
        raise FormulaError(f"{name!r} is reserved and cannot be a parameter name", field="params")


def parse_params(text: str) -> dict[str, float]:
    """``"a = 1, b = 100"`` (commas, semicolons or new lines between) -> {"a": 1.0, "b": 100.0}.
    A value may be a constant expression such as ``2*pi``."""
    if len(text) > MAX_CHARS:
        raise FormulaError(f"the parameters are {len(text)} characters long; the limit is {MAX_CHARS}",
                           field="params")
    out: dict[str, float] = {}
    for m in re.finditer(r"[^,;\n]+", text):
        item = m.group()
        if not item.strip():
            continue
        eq = item.find("=")
        if eq < 0:
            raise FormulaError("expected name = value", text, m.start() + len(item) - len(item.lstrip()),
                               "params")
        name = item[:eq].strip()
        npos = m.start() + len(item[:eq]) - len(item[:eq].lstrip())
        try:
            check_param_name(name)
        except FormulaError as e:
            raise FormulaError(e.message, text, npos, "params") from None
        if name in out:
            raise FormulaError(f"parameter {name!r} is given twice", text, npos, "params")
        vtext = item[eq + 1:]
        try:
            p = parse(vtext, field="params", variables=())
        except FormulaError as e:
            off = m.start() + eq + 1
            raise FormulaError(e.message, text, None if e.position is None else e.position + off,
                               "params") from None
        v = float(evaluate(p, {}, np.zeros(1), np.zeros(1))[0])
        if not math.isfinite(v):
            raise FormulaError(f"the value of {name!r} is not a finite number", text,
                               m.start() + eq + 1, "params")
        out[name] = v
    return out


def parse_points(text: str) -> tuple[tuple[float, float], ...] | None:
    """``"1, 1"`` or ``"(3, 2); (-2.8, 3.1)"`` -> points; None for empty text."""
    if not text.strip():
        return None
    out = []
    for m in re.finditer(r"[^;]+", text):
        parts = m.group().replace("(", " ").replace(")", " ").split(",")
        try:
            a, b = (float(v) for v in parts)
        except ValueError:
            raise FormulaError("expected points as x, y (several separated by ;)", text, m.start(),
                               "minima") from None
        if not (math.isfinite(a) and math.isfinite(b)):
            raise FormulaError("points must be finite", text, m.start(), "minima")
        out.append((a, b))
    return tuple(out)


# -- plain numpy evaluation (previews and reference) -------------------------------------------
_NP_UNARY = {"sin": np.sin, "cos": np.cos, "tan": np.tan, "exp": np.exp, "log": np.log,
             "log10": np.log10, "sqrt": np.sqrt, "abs": np.abs, "tanh": np.tanh, "sinh": np.sinh,
             "cosh": np.cosh, "arctan": np.arctan, "atan": np.arctan}
_NP_BIN = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
           ast.Pow: np.power}


def fold(node: ast.AST, constant, name, binary, call):
    """Evaluate a tree :func:`parse` has checked, bottom-up: ``constant(value)``, ``name(id)``,
    ``binary(op type, a, b)`` and ``call(function name, args)``; unary minus negates.  The one
    walker of formulas: numpy values for previews, sympy expressions for the derivatives."""
    def walk(n):
        if isinstance(n, ast.Expression):
            return walk(n.body)
        if isinstance(n, ast.Constant):
            return constant(n.value)
        if isinstance(n, ast.Name):
            return name(n.id)
        if isinstance(n, ast.UnaryOp):
            v = walk(n.operand)
            return -v if isinstance(n.op, ast.USub) else v
        if isinstance(n, ast.BinOp):
            return binary(type(n.op), walk(n.left), walk(n.right))
        if isinstance(n, ast.Call):
            return call(n.func.id, [walk(a) for a in n.args])
        raise TypeError(f"unchecked node {type(n).__name__}")  # parse() lets none through

    return walk(node)


def evaluate(formula: "Parsed | str", params: Mapping[str, float], x, y) -> np.ndarray:
    """f at the points (x, y) in float64 numpy; NaN or inf where it is undefined."""
    p = formula if isinstance(formula, Parsed) else parse(formula, tuple(params))
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    env = {"x": x, "y": y, "pi": np.float64(np.pi), "e": np.float64(np.e)}
    env.update({k: np.float64(v) for k, v in params.items()})

    def call(fn, args):
        if fn in NARY:
            return functools.reduce(np.maximum if fn == "max" else np.minimum, args)
        return _NP_UNARY[fn](args[0])

    with np.errstate(all="ignore"):
        z = fold(p.tree.body, np.float64, env.__getitem__, lambda op, a, b: _NP_BIN[op](a, b), call)
        return np.broadcast_to(z, np.broadcast(x, y).shape).astype(np.float64)


def preview(text: str, params: Mapping[str, float] | str = (), domain=DEFAULT_DOMAIN, n: int = 96):
    """(xs, ys, Z) for a contour preview while typing: Z (len(ys), len(xs)) with NaN where f
    is undefined.  Raises FormulaError for bad input; no symbolic work, no compilation."""
    values = parse_params(params) if isinstance(params, str) else dict(params)
    (x0, x1), (y0, y1) = check_domain(domain)
    p = parse(text, tuple(values))
    xs = np.linspace(x0, x1, n)
    ys = np.linspace(y0, y1, n)
    Z = evaluate(p, values, xs[None, :], ys[:, None])
    return xs, ys, np.where(np.isfinite(Z), Z, np.nan)


def check_domain(domain) -> tuple[tuple[float, float], tuple[float, float]]:
    try:
        (x0, x1), (y0, y1) = ((float(a), float(b)) for a, b in domain)
    except (TypeError, ValueError):
        raise FormulaError(f"the domain must be ((xmin, xmax), (ymin, ymax)), got {domain!r}",
                           field="domain") from None
    if not all(math.isfinite(v) for v in (x0, x1, y0, y1)) or not (x0 < x1 and y0 < y1):
        raise FormulaError(f"the domain needs finite xmin < xmax and ymin < ymax, got {domain!r}",
                           field="domain")
    return (x0, x1), (y0, y1)


def check_point(v, what: str) -> tuple[float, float]:
    try:
        a, b = (float(c) for c in v)
    except (TypeError, ValueError):
        raise FormulaError(f"the {what} must be a point (x, y), got {v!r}", field=what) from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise FormulaError(f"the {what} must be finite, got {v!r}", field=what)
    return a, b
