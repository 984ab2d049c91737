"""Users' formulas f(x, y): parsed against a whitelist (grammar), differentiated exactly by
sympy in a time-limited process (codegen), compiled by numba once per machine (modules)."""
from .grammar import FormulaError
from .symbolic import FormulaSurface, compile

__all__ = ["FormulaError", "FormulaSurface", "compile"]
