"""Declarative spec types shared by the registries (hyperparameters and their packing)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np


@dataclass(frozen=True)
class Hyper:
    """One hyperparameter: a float, a bool (stored as 0/1) or a pair such as ``betas``."""

    name: str
    default: float | bool | tuple[float, float]
    lo: float = 0.0
    hi: float = 1.0
    log: bool = False
    help: str = ""

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


def pack(hypers: tuple[Hyper, ...], values: Mapping[str, object] | None, owner: str) -> np.ndarray:
    """Flatten ``values`` (missing names take defaults) into the float64 array a kernel reads.

    Raises ValueError naming the owner and the setting when a name is unknown or a value
    is outside its valid range.
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
            if h.kind != "bool" and not (h.lo <= e <= h.hi):
                raise ValueError(f"{owner}: {h.name}={e!r} is outside its valid range [{h.lo}, {h.hi}]")
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
