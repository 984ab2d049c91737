"""Export data: the CSV holds exactly the engine's trajectories, losses and statuses."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from app.export.data import COLUMNS, write_race_csv
from app.export.encoder import ExportError
from engine.race.race import run_race
from engine.scenario import RacerConfig, Scenario
from engine.race.status import Status


def scenario() -> Scenario:
    return Scenario(surface="quadratic", surface_params={"kappa": 1e4}, start=(-2.5, 1.5),
                    racers=[RacerConfig("momentum", {"lr": 1e-4, "momentum": 0.9}),
                            RacerConfig("adam", {"lr": 0.1}, enabled=False),
                            RacerConfig("sgd", {"lr": 1.0}, label="SGD, too big a step")])


def test_csv_rows_are_the_engine_race(tmp_path):
    sc = scenario()
    path = write_race_csv(sc, tmp_path / "race.csv", last=200, every=7)
    rows = list(csv.DictReader(path.open()))
    assert tuple(rows[0]) == COLUMNS
    steps = list(range(0, 200, 7)) + [200]
    assert [int(r["step"]) for r in rows] == steps * 2
    ref = run_race(sc.surface, sc.start, [r.to_racer() for r in sc.enabled_racers()], 200,
                   surface_params=sc.surface_params)
    for i, name in enumerate(("Momentum", "SGD, too big a step")):
        mine = [r for r in rows if r["racer"] == name]
        xy = np.array([[float(r["x"]), float(r["y"])] for r in mine])
        assert np.array_equal(xy, ref.positions[i, steps], equal_nan=True)
        assert np.array_equal([float(r["loss"]) for r in mine], ref.losses[i, steps], equal_nan=True)
    sgd = [r for r in rows if r["optimizer"] == "sgd"]
    status = ref.status[1]
    assert status.kind == Status.DIVERGED
    assert all(r["status"] == (Status.DIVERGED if int(r["step"]) >= status.step else Status.RACING).label for r in sgd)
    assert {r["status"] for r in rows if r["racer"] == "Momentum"} <= {Status.RACING.label, Status.FINISHED.label}


def test_csv_errors_are_clear_and_leave_nothing(tmp_path):
    with pytest.raises(ExportError, match="a .csv file"):
        write_race_csv(scenario(), tmp_path / "race.txt")
    with pytest.raises(ExportError, match="does not exist"):
        write_race_csv(scenario(), tmp_path / "no" / "race.csv")
    empty = Scenario(surface="booth")
    with pytest.raises(ExportError, match="no enabled racer"):
        write_race_csv(empty, tmp_path / "race.csv")
    assert list(tmp_path.iterdir()) == []
