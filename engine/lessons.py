"""Lessons run headless: a lesson's race to its last step, and its claims (the lesson's own
and each pause's) checked on the arrays."""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import claims as C
from . import experiments as X
from . import scenario as io
from .lab import check_gradients, gradcheck_batch, lab_race
from .nn.layers import Activation
from .nn import ops
from .nn.train import concat
from .race.race import run_race
from .race.status import Standing, Status
from .scenario import Scenario, ScenarioError


@dataclass(frozen=True)
class Report:
    id: str
    verdicts: tuple[tuple[str, C.Verdict], ...]  # (where: "claims[0]", "pause at 90, claims[1]", the verdict)
    seconds: float
    seeds: int = 1  # how many seeds the claims were checked on

    @property
    def ok(self) -> bool:
        return all(v.ok for _, v in self.verdicts)

    def line(self) -> str:
        n = len(self.verdicts)
        bad = sum(not v.ok for _, v in self.verdicts)
        head = f"{self.id}: " + (f"ok, {n} claims hold" if not bad else f"FAILED, {bad} of {n} claims do not hold")
        on = f" on {self.seeds} seeds" if self.seeds > 1 else ""
        return f"{head}{on} ({self.seconds:.1f} s)"

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
    if sc.mode == "lab":
        return experiment_run(sc) if sc.lab.experiment is not None else lab_run(sc)
    if sc.mode != "surface":
        raise ScenarioError(f"lessons in {sc.mode} mode cannot be run headless yet")
    if sc.formula:
        surface = sc.surface_spec()
    else:
        surface = sc.surface
    res = run_race(surface, sc.start_point(), [r.to_racer() for r in sc.enabled_racers()], sc.export.last,
                   noise=sc.noise, seed=sc.seed, surface_params=sc.surface_params)
    b = res.race.surface
    return C.surface_run(res.names, res.positions, res.losses, res.grad_norms, res.status, b.minima, b.f_min)


def _check(r: C.Run, claim) -> C.Verdict:
    """The claim's verdict; a claim the run cannot answer (a layer the network lacks) fails."""
    try:
        return C.check(r, claim)
    except C.ClaimError as e:
        return C.Verdict(False, repr(dict(claim)), f"nothing: {e}")


def has_randomness(sc: Scenario) -> bool:
    """Whether the lesson's race depends on a seed: a network always does (weights, batch order,
    masks, data); a surface race only with gradient noise."""
    return sc.mode == "lab" or sc.noise > 0


def reseeded(sc: Scenario, k: int) -> Scenario:
    """The lesson with every seed moved on by ``k`` (k = 0: the lesson as written)."""
    out = copy.deepcopy(sc)
    if sc.mode == "lab":
        out.lab.seed += k
        out.lab.data_seed += k
    else:
        out.seed += k
    return out


def check(sc: Scenario, seeds: int = 1) -> Report:
    """Run the lesson and check every claim; ``sc`` must be a lesson (have a [lesson] table).
    With ``seeds`` > 1 a lesson with randomness is run on that many seeds (its own and the next
    ones) and a claim must hold on each, unless the lesson fixes its seed (``fixed_seed``)."""
    if sc.lesson is None:
        raise ScenarioError("not a lesson: the scenario has no [lesson] table")
    t0 = time.perf_counter()
    n = seeds if has_randomness(sc) and not sc.lesson.fixed_seed else 1
    claims = [(f"claims[{i}]", c) for i, c in enumerate(sc.lesson.claims)]
    for p in sc.lesson.pauses:
        claims += [(f"pause at {p.step}, claims[{i}]", c) for i, c in enumerate(p.claims)]
    verdicts = []
    for k in range(n):
        at = f"seed +{k}, " if n > 1 else ""
        try:
            r = run(reseeded(sc, k))
        except ScenarioError as e:  # e.g. a gradient check's mistake the network cannot make
            verdicts += [(at + where, C.Verdict(False, repr(dict(c)), f"nothing: {e}")) for where, c in claims]
            continue
        verdicts += [(at + where, _check(r, c)) for where, c in claims]
    return Report(sc.lesson.id, tuple(verdicts), time.perf_counter() - t0, n)


def _gradcheck_steps(sc: Scenario) -> dict[str, set[int]]:
    """The gradient-check series the lesson's claims read, each with the steps they read (a
    check costs two forward passes per parameter: only those steps are computed)."""
    out: dict[str, set[int]] = {}
    claims = list(sc.lesson.claims) if sc.lesson else []
    claims += [c for p in (sc.lesson.pauses if sc.lesson else []) for c in p.claims]
    for c in claims:
        sid = c.get("series")
        if sid in C.GRADCHECK_SERIES:
            k = int(c.get("at_step", c.get("by_step", c.get("until_step", 0))))
            out.setdefault(sid, set()).update([k] if "at_step" in c else range(k + 1))
    return out


def _layer_errors(race, r: int, lab, mistake: str) -> np.ndarray:
    """Contender r's per-layer gradient-check errors now (NaN once it has diverged); raises
    ScenarioError saying why a mistake cannot be made at lab.gradcheck_layer."""
    net = race.network(r)
    if not np.all(np.isfinite(net.params)):
        return np.full(len(net.dense), np.nan)
    try:
        return check_gradients(net, *gradcheck_batch(race), mistake, lab.gradcheck_layer, sweep=False).layer_errors
    except ValueError as e:
        raise ScenarioError(f"lab.gradcheck_layer: {e}") from None


def best_steps(val: np.ndarray) -> np.ndarray:
    """(R, steps+1) from validation losses (R, steps+1): at column k the step j in 1..k with the
    lowest loss (the first of ties; NaN never counts), as early stopping picks the weights it
    keeps (NetRace's best: validated weights only, so column 0 and the columns before a first
    finite loss hold 0)."""
    v = np.where(np.isnan(val[:, 1:]), np.inf, val[:, 1:])
    low = np.minimum.accumulate(v, axis=1)
    before = np.concatenate([np.full((v.shape[0], 1), np.inf), low[:, :-1]], axis=1)
    better = np.where(v < before, np.arange(1, v.shape[1] + 1), 0)
    return np.concatenate([np.zeros((v.shape[0], 1)), np.maximum.accumulate(better, axis=1)], axis=1)


def lab_run(sc: Scenario) -> C.Run:
    """The Network lab's race from step 0 to export.last, validation and telemetry at every
    step.  Column k of every series is the network after k steps: ``val_loss`` and
    ``val_acc`` on the validation set (column 0 before training), ``train_loss`` and the
    per-layer ``grad_norm`` on the mini-batch of step k + 1 (computed at those weights, before
    that step's update), so the race runs one step beyond export.last.  Columns after a
    contender diverged are NaN; its status is kept with its step unless it happened on that
    extra step (then it was still training at export.last).  ``best_step``: the step whose
    weights early stopping keeps (:func:`best_steps`)."""
    last = sc.export.last
    race = lab_race(sc.lab, val_every=1, tel_every=1)
    R, L = race.K, len(race.net.dense)
    yv = race.yvi if race.net.loss.id == "softmax_ce" else race.yvf
    # Contenders with their own init start from their own weights.
    v0, a0 = np.array([race.network(r).evaluate(race.Xv, yv) for r in range(R)]).T
    spread = np.full((R, L, last + 1), np.nan)
    spread[..., 0] = unit_spread(race)
    checks = _gradcheck_steps(sc)
    grad_checks = {sid: np.full((R, L, last + 1), np.nan) for sid in checks}
    parts = []
    for k in sorted({k for ks in checks.values() for k in ks}):  # train up to each checked step
        parts.append(race.run(k - race.t))
        for sid, ks in checks.items():
            if k in ks:
                for r in range(R):
                    grad_checks[sid][r, :, k] = _layer_errors(race, r, sc.lab, C.GRADCHECK_SERIES[sid])
    parts.append(race.run(last - race.t))
    spread[race.active, :, last] = unit_spread(race)[race.active]  # NaN once a contender stopped
    if race.active.any():
        parts.append(race.run(1))
    ch = concat(parts)
    n = ch.loss.shape[1]  # fewer than last + 1 when every contender stopped early
    train, val, acc = (np.full((R, last + 1), np.nan) for _ in range(3))
    grad = np.full((R, L, last + 1), np.nan)
    train[:, :n] = ch.loss
    q = min(n, last)  # validation after step j fills column j
    val[:, 0], acc[:, 0] = v0, a0
    val[:, 1:q + 1] = ch.val_loss[:, :q]
    acc[:, 1:q + 1] = ch.val_acc[:, :q]
    rows = ch.tel_steps <= last + 1  # telemetry of step t fills column t - 1
    grad[:, :, ch.tel_steps[rows] - 1] = ch.dense[..., ops.W_GRAD_NORM][:, rows].transpose(0, 2, 1)
    status = []
    for r in range(R):
        st = race.status_of(r)
        status.append(st if st.kind.moving or st.step <= last else Standing(Status.TRAINING, 0))
    acts = [j for j, t in enumerate(race.net.taps) if t.name in activation_taps(race.net)]
    tap = np.full((R, len(acts), last + 1, ops.TAP_COLS), np.nan)
    tap[:, :, ch.tel_steps[rows] - 1] = ch.taps[:, rows][:, :, acts].transpose(0, 2, 1, 3)
    series = {"train_loss": train, "val_loss": val, "grad_norm": grad, "dead_frac": tap[..., ops.T_DEAD],
              "act_std": tap[..., ops.T_STD], "unit_spread": spread, "best_step": best_steps(val),
              **grad_checks}
    if race.net.loss.id != "mse":  # classification
        series["val_acc"] = acc
    return C.Run(tuple(r.name for r in race.racers), last, series, tuple(status))


def activation_taps(net) -> set[str]:
    """The names of the telemetry taps on hidden activations (one per plain hidden layer)."""
    return {f"{L.kind}{i}" for i, L in enumerate(net.layers) if isinstance(L, Activation)}


def unit_spread(race) -> np.ndarray:
    """(R, dense layers): per contender and weight matrix, the largest distance of one unit's
    incoming weights and bias from the layer's mean unit: 0 when every unit of the layer is
    the same (the symmetry that a zero initialisation never breaks)."""
    out = np.zeros((race.K, len(race.net.dense)))
    for r in range(race.K):
        for i, (W, b) in enumerate(race.network(r).layer_params()):
            U = np.vstack([W, b[None]]) if b is not None else W  # one column per unit
            out[r, i] = np.linalg.norm(U - U.mean(axis=1, keepdims=True), axis=0).max()
    return out


def experiment_run(sc: Scenario) -> C.Run:
    """A lab experiment as the claims read it.  Function space: one row per family, ``val_acc``
    its members' mean and ``silhouette`` its points' mean silhouette in the projection, each
    step holding the latest record.  Landscape: the lab's race (``lab_run``) with
    ``plane_loss`` and ``plane_distance`` per contender.  Initialisers: one row per initialiser,
    ``val_loss``."""
    last, kind = sc.export.last, sc.lab.experiment.kind
    res = X.run(sc)
    if kind == "function_space":
        F = len(res.names)
        acc = np.stack([res.accuracy[res.family == f].mean(axis=0) for f in range(F)])
        series = {"val_acc": X.held(res.steps, acc, last), "silhouette": X.held(res.steps, res.silhouette, last)}
        return C.Run(res.names, last, series, tuple(Standing(Status.TRAINING, 0) for _ in range(F)))
    if kind == "landscape":
        base = lab_run(sc)
        series = {**base.series, "plane_loss": X.held(res.steps, res.plane_loss, last),
                  "plane_distance": X.held(res.steps, res.distance, last)}
        return C.Run(base.names, last, series, base.status)
    return C.Run(res.inits, last, {"val_loss": X.held(res.steps, res.val_loss, last)},
                 tuple(Standing(Status.TRAINING, 0) for _ in res.inits))
