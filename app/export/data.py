"""File > Export data: the race's trajectories, losses and gradient norms as CSV, one row per
racer and step (tidy, for a spreadsheet or pandas), written atomically."""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from engine.scenario import Scenario, atomic_write
from engine.race.status import Status

from .encoder import ExportError

COLUMNS = ("step", "racer", "optimizer", "x", "y", "loss", "grad_norm", "status")


def race_csv(scenario: Scenario, last: int | None = None, every: int = 1) -> str:
    """The race from step 0 to ``last`` (default: the scenario's export range end), every
    ``every``-th step and always the last, as CSV text."""
    last = scenario.export.last if last is None else int(last)
    if last < 0 or every < 1:
        raise ExportError(f"need last >= 0 and every >= 1, got last={last}, every={every}")
    racers = scenario.enabled_racers()
    if not racers:
        raise ExportError("nothing to export: the scenario has no enabled racer")
    race = scenario.build_race()
    s0 = race.state_at(0)
    chunk = race.advance(last)
    pos = np.concatenate([s0.X[:, None], chunk.positions], axis=1)
    loss = np.concatenate([s0.F[:, None], chunk.losses], axis=1)
    grad = np.concatenate([np.hypot(s0.G[:, 0], s0.G[:, 1])[:, None], chunk.grad_norms], axis=1)
    steps = list(range(0, last + 1, every))
    if steps[-1] != last:
        steps.append(last)
    names = [r.name for r in race.racers]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for r, (name, cfg) in enumerate(zip(names, racers)):
        final, at = Status(int(chunk.status[r])), int(chunk.status_step[r])
        for k in steps:
            status = (final if at <= k else Status.RACING).label
            w.writerow((k, name, cfg.optimizer, repr(float(pos[r, k, 0])), repr(float(pos[r, k, 1])),
                        repr(float(loss[r, k])), repr(float(grad[r, k])), status))
    return out.getvalue()


def write_race_csv(scenario: Scenario, path: str | os.PathLike, last: int | None = None, every: int = 1) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".csv":
        raise ExportError(f"{path}: a data export is a .csv file")
    if not path.parent.is_dir():
        raise ExportError(f"{path}: the folder {path.parent} does not exist")
    try:
        atomic_write(path, race_csv(scenario, last, every).encode("utf-8"))
    except OSError as e:
        raise ExportError(f"{path}: cannot write: {e.strerror}") from None
    return path
