"""Declarative spec types shared by the registries (hyperparameters, the values they may take,
and their packing)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class Bounds:
    """The finite values a setting may take: from lo to hi, either end open or infinite."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False

    def __contains__(self, v: float) -> bool:
        return (math.isfinite(v) and (self.lo < v if self.lo_open else self.lo <= v)
                and (v < self.hi if self.hi_open else v <= self.hi))

    def __str__(self) -> str:
        left = "(" if self.lo_open or self.lo == -math.inf else "["
        right = ")" if self.hi_open or self.hi == math.inf else "]"
        return f"{left}{self.lo:g}, {self.hi:g}{right}"


# The bounds torch.optim's constructors check: lr, eps, weight_decay, SGD's and RMSprop's
# momentum and the like may be any number >= 0 (a large one diverges, which the race shows);
# Adadelta's rho lies in [0, 1]; the betas of the Adam family in [0, 1), since the bias
# correction divides by 1 - beta^t.
NON_NEGATIVE = Bounds(0.0)
UNIT = Bounds(0.0, 1.0)
DECAY = Bounds(0.0, 1.0, hi_open=True)


@dataclass(frozen=True)
class Hyper:
    """One hyperparameter: a float, a bool (stored as 0/1) or a pair such as ``betas``.

    ``lo`` .. ``hi`` is the range a slider offers (logarithmic when ``log``): a suggestion.
    ``valid`` is every value the mathematics allows, which a number box and the library
    accept; without it, only the slider's range is valid.
    """

    name: str
    default: float | bool | tuple[float, float]
    lo: float = 0.0
    hi: float = 1.0
    log: bool = False
    help: str = ""
    valid: Bounds | None = None

    @property
    def kind(self) -> str:
        if isinstance(self.default, bool):
            return "bool"
        if isinstance(self.default, tuple):
            return "pair"
        return "float"

    @property
    def size(self) -> int:
        return 2 if self.kind == "pair" else 1

    @property
    def bounds(self) -> Bounds:
        return self.valid or Bounds(self.lo, self.hi)


def pack(hypers: tuple[Hyper, ...], values: Mapping[str, object] | None, owner: str) -> np.ndarray:
    """Flatten ``values`` (missing names take defaults) into the float64 array a kernel reads.

    Raises ValueError naming the owner and the setting when a name is unknown or a value
    is outside its valid bounds (its slider's range may be narrower).
    """
    values = dict(values or {})
    known = {h.name for h in hypers}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{owner}: unknown hyperparameter(s) {unknown}; valid: {sorted(known)}")
    out: list[float] = []
    for h in hypers:
        v = values.get(h.name, h.default)
        if h.kind == "pair":
            try:
                items = tuple(float(e) for e in v)  # type: ignore[union-attr]
            except (TypeError, ValueError):
                raise ValueError(f"{owner}: {h.name} must be a pair of numbers, got {v!r}") from None
            if len(items) != 2:
                raise ValueError(f"{owner}: {h.name} must be a pair of numbers, got {v!r}")
        elif h.kind == "bool":
            items = (1.0 if bool(v) else 0.0,)
        else:
            try:
                items = (float(v),)  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ValueError(f"{owner}: {h.name} must be a number, got {v!r}") from None
        for e in items:
            if h.kind != "bool" and e not in h.bounds:
                raise ValueError(f"{owner}: {h.name}={e!r} is outside its valid range {h.bounds}")
        out.extend(items)
    return np.array(out, dtype=np.float64)


def unpack(hypers: tuple[Hyper, ...], array: np.ndarray) -> dict[str, object]:
    """Inverse of :func:`pack`: a dict keyed by hyperparameter name."""
    out: dict[str, object] = {}
    i = 0
    for h in hypers:
        if h.kind == "pair":
            out[h.name] = (float(array[i]), float(array[i + 1]))
        elif h.kind == "bool":
            out[h.name] = bool(array[i] != 0.0)
        else:
            out[h.name] = float(array[i])
        i += h.size
    return out


def defaults(hypers: tuple[Hyper, ...]) -> dict[str, object]:
    return {h.name: h.default for h in hypers}


@dataclass(frozen=True)
class ChoiceSpec:
    """One choice of a setting beside the optimizer (a learning-rate schedule kind, a clipping
    mode, gradient noise): the integer code the kernels dispatch on, its own parameters, and
    what the GUI and the docs say about it."""

    id: str
    name: str
    code: int
    params: tuple[Hyper, ...]
    caption: str
    formula: str
    torch: str = ""
    citation: str = ""
    notes: str = ""

    def describe(self) -> str:
        """Caption, formula, torch counterpart, citation and notes as one text (a tooltip)."""
        parts = [self.caption, self.formula]
        if self.torch:
            parts.append(f"torch: {self.torch}")
        if self.citation:
            parts.append(self.citation)
        if self.notes:
            parts.append(self.notes)
        return "\n".join(parts)
