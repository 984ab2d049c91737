"""User formulas as loss surfaces: ``compile("(1 - x)^2 + b*(y - x^2)^2", params={"b": 100})``
parses safely, differentiates exactly (sympy, in a time-limited worker process), compiles the
result with numba into a cached module and returns a surface that races like a built-in one."""
from __future__ import annotations

import ast
import atexit
import hashlib
import importlib.util
import io
import json
import keyword
import math
import os
import re
import subprocess
import sys
import tempfile
import threading
import tokenize
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from numba.core.errors import NumbaError

from .specs import Hyper
from .surfaces import BoundSurface, SurfaceSpec

MAX_CHARS = 2000
TIME_LIMIT = 2.0  # seconds of symbolic work before a formula is given up
FORMULA_CODE = -1  # surface code of every formula: the built-in kernels answer NaN to it
DEFAULT_DOMAIN = ((-2.0, 2.0), (-2.0, 2.0))
# Bumped whenever the generated code changes meaning, so stale cached modules are not reused.
CODEGEN_VERSION = 1
UNARY = ("sin", "cos", "tan", "exp", "log", "log10", "sqrt", "abs", "tanh", "sinh", "cosh",
         "arctan", "atan")
NARY = ("min", "max")
FUNCTIONS = UNARY + NARY
CONSTANTS = ("pi", "e")
VARIABLES = ("x", "y")
KINK_NOTE = ("At a kink the gradient is a subgradient: abs uses sign(0) = 0, min and max the mean "
             "of both sides' gradients; the curvature concentrated at a kink is taken as 0.")
_PKG = __name__.rpartition(".")[0]
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


class DerivativeMismatch(FormulaError):
    """The compiled derivatives disagree with finite differences: a bug in the compiler."""


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


def evaluate(formula: "Parsed | str", params: Mapping[str, float], x, y) -> np.ndarray:
    """f at the points (x, y) in float64 numpy; NaN or inf where it is undefined."""
    p = formula if isinstance(formula, Parsed) else parse(formula, tuple(params))
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    env = {"x": x, "y": y, "pi": np.float64(np.pi), "e": np.float64(np.e)}
    env.update({k: np.float64(v) for k, v in params.items()})

    def walk(n):
        if isinstance(n, ast.Constant):
            return np.float64(n.value)
        if isinstance(n, ast.Name):
            return env[n.id]
        if isinstance(n, ast.UnaryOp):
            v = walk(n.operand)
            return -v if isinstance(n.op, ast.USub) else v
        if isinstance(n, ast.BinOp):
            return _NP_BIN[type(n.op)](walk(n.left), walk(n.right))
        args = [walk(a) for a in n.args]
        if n.func.id in NARY:
            reduce = np.maximum if n.func.id == "max" else np.minimum
            out = args[0]
            for a in args[1:]:
                out = reduce(out, a)
            return out
        return _NP_UNARY[n.func.id](args[0])

    with np.errstate(all="ignore"):
        return np.broadcast_to(walk(p.tree.body), np.broadcast(x, y).shape).astype(np.float64)


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


def _point(v, what: str) -> tuple[float, float]:
    try:
        a, b = (float(c) for c in v)
    except (TypeError, ValueError):
        raise FormulaError(f"the {what} must be a point (x, y), got {v!r}", field=what) from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise FormulaError(f"the {what} must be finite, got {v!r}", field=what)
    return a, b


# -- where generated modules live --------------------------------------------------------------
def cache_dir() -> Path:
    """The user's cache folder for OptiRace (OPTIRACE_CACHE_DIR overrides it)."""
    env = os.environ.get("OPTIRACE_CACHE_DIR")
    if env:
        return Path(env)
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "optirace" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "optirace"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "optirace"


def _race_template() -> str:
    """The race kernels' source with absolute imports and without the built-in fgh, ready for
    a formula's own fgh to be appended (numba resolves the global at compile time)."""
    from . import race_kernels

    src = Path(race_kernels.__file__).read_text(encoding="utf-8")
    lines = src.splitlines()
    tree = ast.parse(src)
    found = False
    for node in reversed(tree.body):
        if isinstance(node, ast.ImportFrom) and node.level:
            mod = ".".join(filter(None, (_PKG, node.module)))
            names = [a for a in node.names if not (mod == f"{_PKG}.surface_kernels" and a.name == "fgh")]
            found |= len(names) < len(node.names)
            new = [f"from {mod} import " + ", ".join(
                a.name + (f" as {a.asname}" if a.asname else "") for a in names)] if names else []
            lines[node.lineno - 1:node.end_lineno] = new
    if not found:
        raise RuntimeError("engine/race_kernels.py no longer imports fgh from surface_kernels: "
                           "engine.formula cannot give it a formula's fgh")
    taken = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    taken |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    clash = taken & {"fgh", "grid", "_sign", "_step", "_fmax", "_fmin", "FORMULA", "PARAMS",
                     "GRADIENT", "NONSMOOTH", "_FJIT"}
    if clash:
        raise RuntimeError(f"engine/race_kernels.py defines {sorted(clash)}, which formula modules also define")
    return "\n".join(lines) + "\n"


_FORMULA_TAIL = '''

# ---- the formula ---------------------------------------------------------------------------
FORMULA = {formula!r}
PARAMS = {params!r}
GRADIENT = {gradient!r}
NONSMOOTH = {nonsmooth!r}
_FJIT = dict(cache=True, nogil=True)


@njit(inline="always", **_FJIT)
def _sign(z):
    # The subgradient of |u| at u = 0 is taken as 0; NaN stays NaN.
    if z > 0.0:
        return 1.0
    if z < 0.0:
        return -1.0
    return z * 0.0


@njit(inline="always", **_FJIT)
def _step(z):
    # d max(u, v)/du: 1/2 on the kink, the mean of both sides; NaN stays NaN.
    if z > 0.0:
        return 1.0
    if z < 0.0:
        return 0.0
    return z * 0.0 + 0.5


@njit(inline="always", **_FJIT)
def _fmax(a, b):
    # NaN (undefined) wins, as in numpy, so singular points stay singular.
    if a != a or b != b:
        return a + b
    return a if a >= b else b


@njit(inline="always", **_FJIT)
def _fmin(a, b):
    if a != a or b != b:
        return a + b
    return a if a <= b else b


@njit(error_model="numpy", **_FJIT)
def fgh(code, x, y, p, g, H, want_h):
    """f of the formula; gradient into g, Hessian into H when want_h (``code`` is ignored)."""
{body}


@njit(**_FJIT)
def grid(code, p, xs, ys):
    """f on the grid ys x xs (rows are y)."""
    out = np.empty((ys.shape[0], xs.shape[0]))
    g = np.empty(2)
    H = np.empty((2, 2))
    for j in range(ys.shape[0]):
        for i in range(xs.shape[0]):
            out[j, i] = fgh(code, xs[i], ys[j], p, g, H, False)
    return out
'''


def _module_key(parsed: Parsed, template: str) -> str:
    import numba

    from . import optimizer_kernels

    opt_src = Path(optimizer_kernels.__file__).read_bytes()
    blob = json.dumps([CODEGEN_VERSION, parsed.python, parsed.params, template,
                       hashlib.sha256(opt_src).hexdigest(), numba.__version__, sys.version_info[:2]])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


_modules: dict[str, object] = {}
_modules_lock = threading.Lock()


def kernels_for(parsed: Parsed, time_limit: float = TIME_LIMIT):
    """The compiled module of ``parsed``: imported from the cache folder, or generated into it
    (symbolic work in the worker process, ended after ``time_limit`` seconds)."""
    name, path = _ensure_module(parsed, time_limit)
    with _modules_lock:
        mod = _modules.get(str(path))
        if mod is None:
            mod = _modules[str(path)] = _import(name, path)
    return mod


def _ensure_module(parsed: Parsed, time_limit: float) -> tuple[str, Path]:
    template = _race_template()
    name = f"optirace_formula_{_module_key(parsed, template)}"
    path = cache_dir() / "formulas" / f"{name}.py"
    if not path.exists():
        ans = _worker_call({"text": parsed.python, "params": list(parsed.params)}, time_limit, parsed)
        tail = _FORMULA_TAIL.format(formula=parsed.python, params=parsed.params,
                                    gradient=tuple(ans["gradient"]), nonsmooth=ans["nonsmooth"],
                                    body=ans["body"])
        head = (f"# Generated by engine.formula for f(x, y) = {parsed.python}; do not edit.\n"
                "# A copy of engine/race_kernels.py whose fgh is this formula's, so numba can cache it.\n")
        _write_atomic(path, head + template + tail)
    return name, path


def _compiled(parsed: Parsed) -> bool:
    """Whether this process has the module, or numba's cache holds its race kernel."""
    name = f"optirace_formula_{_module_key(parsed, _race_template())}"
    folder = cache_dir() / "formulas"
    with _modules_lock:
        if str(folder / f"{name}.py") in _modules:
            return True
    return any((folder / "__pycache__").glob(f"{name}.advance-*.nbi"))


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if path.exists():  # another process wrote the same module: keep its file (and mtime)
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _import(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        del sys.modules[name]
        raise
    return mod


# -- the symbolic worker process ---------------------------------------------------------------
class _Worker:
    """``python -m engine.formula_codegen`` answering one JSON line per request.  A plain
    subprocess rather than multiprocessing: spawn would re-import the app's __main__.  Each
    read runs in a short-lived thread joined with a timeout, so no thread outlives a call."""

    def __init__(self, startup_limit: float = 120.0):
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"{_PKG}.formula_codegen"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8", env=env, cwd=root)
        first = self._read_line(startup_limit)
        if not first or not json.loads(first).get("ready"):
            self.close()
            raise RuntimeError("the symbolic worker process (engine.formula_codegen) did not start")

    def _read_line(self, timeout: float) -> str | None:
        """The next line ('' if the process ended), or None after ``timeout`` (process ended)."""
        box: list[str] = []
        self._reading = True
        t = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True,
                             name="formula-worker-read")
        t.start()
        t.join(timeout)
        timed_out = t.is_alive()
        if timed_out:
            self.close()  # ends the process, so the pending readline returns
            t.join()
        self._reading = False
        if not self.alive:
            self.close()  # now also releases stdout
        return None if timed_out else (box[0] if box else "")

    def ask(self, request: dict, timeout: float) -> dict | None:
        """The answer, or None when the time limit passed (the process is then ended)."""
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self._read_line(timeout)
        if line is None:
            return None
        if not line:
            self.close()
            raise RuntimeError("the symbolic worker process ended unexpectedly")
        return json.loads(line)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for pipe in (self.proc.stdin, None if getattr(self, "_reading", False) else self.proc.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass


_worker: _Worker | None = None
_worker_lock = threading.Lock()


def start_worker() -> None:
    """Start the symbolic worker now (it imports sympy, about a second) rather than on the
    first compile; safe to call from a background thread."""
    global _worker
    with _worker_lock:
        if _worker is None or not _worker.alive:
            _worker = _Worker()


@atexit.register
def stop_worker() -> None:
    global _worker
    with _worker_lock:
        if _worker is not None:
            _worker.close()
            _worker = None


def _worker_call(request: dict, time_limit: float, parsed: Parsed) -> dict:
    global _worker
    with _worker_lock:
        if _worker is None or not _worker.alive:
            _worker = _Worker()
        try:
            ans = _worker.ask(request, time_limit)
        except (OSError, RuntimeError):
            _worker.close()
            _worker = None
            raise
        if ans is None:
            _worker = None
            raise FormulaError(f"differentiating this formula took longer than {time_limit:g} s; "
                               "simplify it (huge powers or deep nesting blow up)", parsed.text)
    if not ans["ok"]:
        raise FormulaError(ans["error"], parsed.text)
    return ans


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
    st = _point(start, "start") if start is not None else (x0 + 0.15 * (x1 - x0), y0 + 0.85 * (y1 - y0))
    user = None if minima is None else tuple(_point(m, "minima") for m in minima)
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
    from .race import run_race

    run_race(surface, surface.start, ["sgd", "newton"], 1)


def _precompile(spec: dict) -> None:
    root = str(Path(__file__).resolve().parent.parent)
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
