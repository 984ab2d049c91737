"""Floor 1 of the engine: the optimizers (specs, update kernels, explanations of a step) and
the vocabulary every registry uses (hyperparameter specs, the registry helper)."""
from .explain import Explanation, Term
from .optimizers import OptimizerSpec, explain, names, spec, update

__all__ = ["Explanation", "OptimizerSpec", "Term", "explain", "names", "spec", "update"]
