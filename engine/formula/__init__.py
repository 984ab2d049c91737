"""Users' formulas f(x, y): parsed against a whitelist (grammar), differentiated exactly by
sympy in a time-limited process (codegen), compiled by numba once per machine (modules)."""
from .grammar import FormulaError

__all__ = ["FormulaError", "FormulaSurface", "compile"]


def __getattr__(name):
    # Imported on first use: the symbolic worker process (codegen) imports this package and
    # needs sympy only, not numba, which would add most of a second to its start.
    if name in ("FormulaSurface", "compile"):
        from . import symbolic

        return getattr(symbolic, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
