"""A recorder of named series over the steps of a run, thinned by powers of two so that a
run of any length fits in bounded memory (Qt-free: the engine's chunks go in, views read)."""
from __future__ import annotations

from typing import Mapping

import numpy as np


class Recorder:
    """Every ``stride``-th step of named series, one row per racer (or contender).

    ``initial[name]`` holds a series' values at step 0, shape (rows, *tail); the recorder then
    stores (rows, capacity + 1, *tail) per series.  When full, every other entry is dropped and
    the stride doubles, so memory is bounded however long the run is and older steps stay
    evenly spread.  Exact values at any step come from the engine's checkpoints instead.
    """

    def __init__(self, initial: Mapping[str, np.ndarray], capacity: int = 16384):
        if capacity < 4 or capacity % 2:
            raise ValueError(f"recorder capacity must be an even number >= 4, got {capacity}")
        if not initial:
            raise ValueError("a recorder needs at least one series")
        rows = {np.shape(v)[0] for v in initial.values()}
        if len(rows) != 1:
            raise ValueError(f"every series needs the same number of rows, got {sorted(rows)}")
        self.capacity = capacity
        self.stride = 1
        self.n = 1
        self.last = 0  # the last step appended (whether kept or not)
        self.steps = np.zeros(capacity + 1, dtype=np.int64)
        self._series: dict[str, np.ndarray] = {}
        for name, v in initial.items():
            v = np.asarray(v, dtype=np.float64)
            a = np.empty((v.shape[0], capacity + 1, *v.shape[1:]))
            a[:, 0] = v
            self._series[name] = a

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._series)

    @property
    def rows(self) -> int:
        return next(iter(self._series.values())).shape[0]

    def __getitem__(self, name: str) -> np.ndarray:
        """The whole buffer of one series; entries ``[:, :n]`` are filled (see ``count_upto``)."""
        return self._series[name]

    def append(self, first: int, series: Mapping[str, np.ndarray]) -> None:
        """Add steps first+1 .. first+k: ``series[name]`` of shape (rows, k, *tail) for every name."""
        if set(series) != set(self._series):
            raise ValueError(f"recorder: expected series {sorted(self._series)}, got {sorted(series)}")
        if first != self.last:
            raise ValueError(f"recorder: chunk starts after step {first}, expected {self.last}")
        k = next(iter(series.values())).shape[1]
        steps = np.arange(first + 1, first + k + 1)
        while True:
            keep = np.flatnonzero(steps % self.stride == 0)
            if self.n + keep.size <= self.capacity:
                break
            self._thin()
        sl = slice(self.n, self.n + keep.size)
        self.steps[sl] = steps[keep]
        for name, a in series.items():
            self._series[name][:, sl] = a[:, keep]
        self.n += keep.size
        self.last = first + k

    def _thin(self) -> None:
        keep = np.flatnonzero(self.steps[: self.n] % (2 * self.stride) == 0)
        m = keep.size
        self.steps[:m] = self.steps[keep]
        for a in self._series.values():
            a[:, :m] = a[:, keep]
        self.n = m
        self.stride *= 2

    def count_upto(self, step: int) -> int:
        """How many stored entries have a step <= ``step``."""
        return int(np.searchsorted(self.steps[: self.n], step, side="right"))

    def index_of(self, step: int) -> int | None:
        i = self.count_upto(step) - 1
        return i if i >= 0 and self.steps[i] == step else None

    def sample(self, upto: int, names: tuple[str, ...], max_points: int = 2048):
        """Steps and the named series up to step ``upto``, at most about ``max_points`` entries."""
        n = self.count_upto(upto)
        idx = np.arange(0, n, max(1, -(-n // max_points)))
        return self.steps[idx], *(self._series[name][:, idx] for name in names)

    def nbytes(self) -> int:
        return self.steps.nbytes + sum(a.nbytes for a in self._series.values())
