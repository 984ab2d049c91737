"""Lessons run headless: a lesson's race to its last step, and its claims (the lesson's own
and each pause's) checked on the arrays."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from . import claims as C
from . import scenario as io
from .race.race import run_race
from .scenario import Scenario, ScenarioError


@dataclass(frozen=True)
class Report:
    id: str
    verdicts: tuple[tuple[str, C.Verdict], ...]  # (where: "claims[0]", "pause at 90, claims[1]", the verdict)
    seconds: float

    @property
    def ok(self) -> bool:
        return all(v.ok for _, v in self.verdicts)

    def line(self) -> str:
        n = len(self.verdicts)
        bad = sum(not v.ok for _, v in self.verdicts)
        head = f"{self.id}: " + (f"ok, {n} claims hold" if not bad else f"FAILED, {bad} of {n} claims do not hold")
        return f"{head} ({self.seconds:.1f} s)"

    def failures(self) -> list[str]:
        return [f"  {where}: claimed {v.claim}; measured {v.measured}" for where, v in self.verdicts if not v.ok]


def lesson_files(folder: str | Path) -> dict[str, Path]:
    """Lesson id -> file, for every scenario in ``folder`` that has a [lesson] table, in the
    lessons' order."""
    found = []
    for path in sorted(Path(folder).glob("*.toml")):
        sc = io.load(path)
        if sc.lesson is not None:
            if sc.lesson.id != path.stem:
                raise ScenarioError(f"{path}: lesson.id {sc.lesson.id!r} must be the file's name {path.stem!r}")
            found.append((sc.lesson.order, sc.lesson.id, path))
    return {id: path for _, id, path in sorted(found)}


def run(sc: Scenario) -> C.Run:
    """The lesson's race from step 0 to export.last, as the claims read it."""
    if sc.formula:
        surface = sc.surface_spec()
    else:
        surface = sc.surface
    res = run_race(surface, sc.start_point(), [r.to_racer() for r in sc.enabled_racers()], sc.export.last,
                   noise=sc.noise, seed=sc.seed, surface_params=sc.surface_params)
    b = res.race.surface
    return C.surface_run(res.names, res.positions, res.losses, res.grad_norms, res.status, b.minima, b.f_min)


def check(sc: Scenario) -> Report:
    """Run the lesson and check every claim; ``sc`` must be a lesson (have a [lesson] table)."""
    if sc.lesson is None:
        raise ScenarioError("not a lesson: the scenario has no [lesson] table")
    t0 = time.perf_counter()
    r = run(sc)
    claims = [(f"claims[{i}]", c) for i, c in enumerate(sc.lesson.claims)]
    for p in sc.lesson.pauses:
        claims += [(f"pause at {p.step}, claims[{i}]", c) for i, c in enumerate(p.claims)]
    verdicts = tuple((where, C.check(r, c)) for where, c in claims)
    return Report(sc.lesson.id, verdicts, time.perf_counter() - t0)
