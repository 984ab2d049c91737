"""Where formula kernels come from: the symbolic worker process (time-limited), the module
generated per formula into the user's cache folder, and its import (numba caches it there)."""
from __future__ import annotations

import ast
import atexit
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .._kernel_cache import sources_hash
from .grammar import FormulaError, Parsed

TIME_LIMIT = 2.0  # seconds of symbolic work before a formula is given up
# Bumped whenever the generated code changes meaning, so stale cached modules are not reused.
CODEGEN_VERSION = 3
_PKG = __name__.rpartition(".")[0]  # engine.formula
_ENGINE = Path(__file__).resolve().parent.parent


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
    from ..race import kernels as race_kernels
    from ..surfaces import kernels as surface_kernels

    src = Path(race_kernels.__file__).read_text(encoding="utf-8")
    package = race_kernels.__name__.rpartition(".")[0].split(".")
    lines = src.splitlines()
    tree = ast.parse(src)
    found = False
    for node in reversed(tree.body):
        if isinstance(node, ast.ImportFrom) and node.level:
            mod = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            names = [a for a in node.names if not (mod == surface_kernels.__name__ and a.name == "fgh")]
            found |= len(names) < len(node.names)
            new = [f"from {mod} import " + ", ".join(
                a.name + (f" as {a.asname}" if a.asname else "") for a in names)] if names else []
            lines[node.lineno - 1:node.end_lineno] = new
    if not found:
        raise RuntimeError("engine/race/kernels.py no longer imports fgh from engine/surfaces/kernels.py: "
                           "engine.formula cannot give it a formula's fgh")
    taken = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    taken |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    clash = taken & {"fgh", "grid", "_sign", "_step", "_fmax", "_fmin", "FORMULA", "PARAMS",
                     "GRADIENT", "NONSMOOTH", "_FJIT"}
    if clash:
        raise RuntimeError(f"engine/race/kernels.py defines {sorted(clash)}, which formula modules also define")
    return "\n".join(lines) + "\n"


_FORMULA_TAIL = '''

# ---- the formula ---------------------------------------------------------------------------
import math  # noqa: E402  (the generated code needs these whatever the copy above imports)

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

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
    """f on the grid ys x xs (rows are y); NaN where f is undefined or infinite."""
    out = np.empty((ys.shape[0], xs.shape[0]))
    g = np.empty(2)
    H = np.empty((2, 2))
    for j in range(ys.shape[0]):
        for i in range(xs.shape[0]):
            v = fgh(code, xs[i], ys[j], p, g, H, False)
            out[j, i] = v if math.isfinite(v) else np.nan
    return out
'''


def _module_key(parsed: Parsed, template: str, folder: Path) -> str:
    """Formula, parameter names and everything the generated module compiles against: numba's
    cache does not notice when a kernel it calls (an optimizer step) changes, a new name does.
    The folder too: numba names a cached kernel's symbols and Environment after its module, so
    two files of one name in one process (two cache folders) would share them, each running
    with the other's constants."""
    import numba

    # Every engine source that uses numba (the random numbers and schedules included).
    blob = json.dumps([CODEGEN_VERSION, parsed.python, parsed.params, template, sources_hash(),
                       numba.__version__, sys.version_info[:2], str(folder)])
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _module_path(parsed: Parsed, template: str) -> tuple[str, Path]:
    """The module name of ``parsed`` and its file in the cache folder (one name, one file)."""
    folder = (cache_dir() / "formulas").resolve()
    name = f"optirace_formula_{_module_key(parsed, template, folder)}"
    return name, folder / f"{name}.py"


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
    name, path = _module_path(parsed, template)
    if not path.exists():
        ans = _worker_call({"text": parsed.python, "params": list(parsed.params)}, time_limit, parsed)
        tail = _FORMULA_TAIL.format(formula=parsed.python, params=parsed.params,
                                    gradient=tuple(ans["gradient"]), nonsmooth=ans["nonsmooth"],
                                    body=ans["body"])
        head = (f"# Generated by engine.formula for f(x, y) = {parsed.python}; do not edit.\n"
                "# A copy of engine/race/kernels.py whose fgh is this formula's, so numba can cache it.\n")
        _write_atomic(path, head + template + tail)
    return name, path


def _compiled(parsed: Parsed) -> bool:
    """Whether this process has the module, or numba's cache holds its race kernel."""
    name, path = _module_path(parsed, _race_template())
    with _modules_lock:
        if str(path) in _modules:
            return True
    return any((path.parent / "__pycache__").glob(f"{name}.advance-*.nbi"))


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
    """``python -m engine.formula.codegen`` answering one JSON line per request.  A plain
    subprocess rather than multiprocessing: spawn would re-import the app's __main__.  Each
    read runs in a short-lived thread joined with a timeout, so no thread outlives a call."""

    def __init__(self, startup_limit: float = 120.0):
        root = str(_ENGINE.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"{_PKG}.codegen"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8", env=env, cwd=root)
        first = self._read_line(startup_limit)
        if not first or not json.loads(first).get("ready"):
            self.close()
            raise RuntimeError("the symbolic worker process (engine.formula.codegen) did not start")

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
