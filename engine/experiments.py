"""Network-lab experiments run headless from a scenario's ``[lab.experiment]``: an ensemble's
paths in function space, the loss landscape of the contenders' network, and initialisers side
by side.  ``progress(fraction)`` returning False cancels (raises :class:`Cancelled`)."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from . import lab as LAB
from .nn import ensemble as E, function_space as FS, init_stats as IS, landscape as LS
from .nn.blas import single_thread
from .nn.network import Network, build as build_network
from .nn.train import NetRace
from .scenario import FAMILIES, ExperimentOptions, Scenario, ScenarioError

Progress = Callable[[float], bool] | None
GRID_BLOCK = 8  # grid rows per call of the parallel kernel: progress and Cancel between blocks


class Cancelled(Exception):
    """The caller's progress callback asked to stop."""


def _report(progress: Progress, lo: float, hi: float):
    """``progress`` for the part [lo, hi] of the whole; raises Cancelled when it returns False."""
    def part(f: float) -> bool:
        at = hi if f >= 1.0 else lo + (hi - lo) * max(f, 0.0)
        if progress is not None and progress(at) is False:
            raise Cancelled
        return True
    return part


def held(steps: np.ndarray, values: np.ndarray, last: int) -> np.ndarray:
    """(R, T) values recorded at ``steps`` as (R, last + 1): each step takes the latest record at
    or before it (a claim reads any step of the run)."""
    idx = np.searchsorted(steps, np.arange(last + 1), side="right") - 1
    return np.asarray(values)[:, np.maximum(idx, 0)]


# -- function space ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FunctionSpace:
    members: tuple[E.Member, ...]
    names: tuple[str, ...]  # the families' shown names, in order
    family: np.ndarray  # (N,) each member's family index
    steps: np.ndarray  # (T,) record steps
    points: np.ndarray  # (N, T, 2) the projection of every record
    projection: str
    silhouette: np.ndarray  # (F, T) each family's mean silhouette among the points of a record
    accuracy: np.ndarray  # (N, T) each member's validation accuracy

    def member_name(self, n: int) -> str:
        m = self.members[n]
        return f"{self.names[self.family[n]]} #{m.seed}"


def member_weights(lab, x: ExperimentOptions, net: Network, X: np.ndarray, progress: Progress) -> tuple[list, np.ndarray]:
    """Every member's initial weights: member i of each family from the draw ``lab.seed + 1 + i``,
    pre-trained in the "pretrained" family."""
    draws = [build_network(net.input_dim, LAB.layers(lab), loss=net.loss.id, init=lab.init, seed=lab.seed + 1 + i).params
             for i in range(x.members)]
    members, rows = [], []
    total = len(x.families) * x.members
    for fam in x.families:
        for i, w in enumerate(draws):
            if fam == "pretrained":
                start = net.copy()
                start.params[:] = w
                w = E.pretrain(start, X, lab.activation, steps=x.pretrain_steps, noise=x.pretrain_noise,
                               batch_size=lab.batch_size, seed=lab.seed + 1 + i)
            members.append(E.Member(fam, i))
            rows.append(w)
            if progress is not None:
                progress(len(rows) / total)
    return members, np.stack(rows)


def function_space(sc: Scenario, progress: Progress = None) -> FunctionSpace:
    lab, x = sc.lab, sc.lab.experiment
    net, split, racers = LAB.build(lab)
    pre = "pretrained" in x.families
    members, initial = member_weights(lab, x, net, split.X_train, _report(progress, 0.0, 0.3 if pre else 0.01))
    train_part = _report(progress, 0.3 if pre else 0.01, 0.9)
    run = E.run_ensemble(net, split, initial, members, racers[0], sc.export.last, x.record_every, split.X_val,
                         batch_size=lab.batch_size, seed=lab.seed, progress=train_part)
    _report(progress, 0.9, 1.0)(0.0)
    with single_thread():  # a (records x 4,500) SVD: a second BLAS thread on a busy core made it 100x slower
        points = FS.project(run.outputs, x.projection, seed=lab.seed)
    family = run.families()
    N, T, _ = run.outputs.shape
    probs = run.outputs.reshape(N, T, split.X_val.shape[0], -1)
    accuracy = (probs.argmax(axis=-1) == split.y_val[None, None]).mean(axis=-1)
    F = int(family.max()) + 1
    sil = np.zeros((F, T))
    from sklearn.metrics import silhouette_samples

    for t in range(T):
        s = silhouette_samples(points[:, t], family)
        sil[:, t] = [s[family == f].mean() for f in range(F)]
    _report(progress, 0.9, 1.0)(1.0)
    names = tuple(FAMILIES[f] for f in dict.fromkeys(m.family for m in members))
    return FunctionSpace(run.members, names, family, run.steps, points, x.projection, sil, accuracy)


# -- loss landscape ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Landscape:
    names: tuple[str, ...]  # the enabled contenders
    steps: np.ndarray  # (T,) record steps
    plane: LS.Plane
    alphas: np.ndarray
    betas: np.ndarray
    grid: np.ndarray  # (len(betas), len(alphas)) the loss on the whole training set
    coords: np.ndarray  # (R, T, 2) each contender's weights projected onto the plane
    distance: np.ndarray  # (R, T) their distance from it
    plane_loss: np.ndarray  # (R, T) the loss at the projected points (what the map shows under a path)
    loss: np.ndarray  # (R, T) the loss at the weights themselves


def _axis(lo: float, hi: float, span: float, res: int) -> np.ndarray:
    pad = span * max(hi - lo, 1e-9)
    return np.linspace(lo - pad, hi + pad, res)


def landscape(sc: Scenario, progress: Progress = None) -> Landscape:
    lab, x = sc.lab, sc.lab.experiment
    race = LAB.lab_race(lab, val_every=0, tel_every=0, snapshot_every=x.record_every)
    train = _report(progress, 0.0, 0.35)
    while race.t < sc.export.last and race.active.any():
        race.advance(min(x.record_every, sc.export.last - race.t))
        train(race.t / sc.export.last)
    steps = np.array([s.step for s in race.snapshots])
    path = np.stack([s.params for s in race.snapshots], axis=1)  # (R, T, P)
    net = race.net
    if x.plane == "contenders":
        a, b = x.through
        plane = LS.plane_through(path[a, 0], path[a, -1], path[b, -1])
    else:
        plane = LS.random_plane(net, seed=lab.seed, params=path[x.through[0], -1])
    R, T, _ = path.shape
    coords = np.zeros((R, T, 2))
    dist = np.zeros((R, T))
    with single_thread():
        for r in range(R):
            coords[r], dist[r] = plane.project(path[r])
    if x.plane == "contenders":
        alphas = _axis(min(coords[..., 0].min(), 0.0), max(coords[..., 0].max(), 0.0), x.span, x.resolution)
        betas = _axis(min(coords[..., 1].min(), 0.0), max(coords[..., 1].max(), 0.0), x.span, x.resolution)
    else:
        alphas = betas = np.linspace(-x.span, x.span, x.resolution)
    X, y = race.X, race.yi if net.loss.id == "softmax_ce" else race.yf
    grid = np.empty((len(betas), len(alphas)))
    part = _report(progress, 0.35, 0.95)
    for j in range(0, len(betas), GRID_BLOCK):
        grid[j: j + GRID_BLOCK] = LS.loss_grid(net, X, y, plane, alphas, betas[j: j + GRID_BLOCK])
        part((j + GRID_BLOCK) / len(betas))
    probe = net.copy()
    plane_loss, loss = np.zeros((R, T)), np.zeros((R, T))
    for r in range(R):
        for t in range(T):
            probe.params[:] = plane.at(*coords[r, t])
            plane_loss[r, t] = probe.evaluate(X, y)[0]
            probe.params[:] = path[r, t]
            loss[r, t] = probe.evaluate(X, y)[0]
    _report(progress, 0.95, 1.0)(1.0)
    return Landscape(lab.names(), steps, plane, alphas, betas, grid, coords, dist, plane_loss, loss)


# -- initialisation side by side ----------------------------------------------------------------
@dataclass(frozen=True)
class InitCompare:
    inits: tuple[str, ...]  # the initialisers that could initialise the network
    skipped: tuple[tuple[str, str], ...]  # (initialiser, why not)
    stats: tuple[IS.LayerStats, ...]  # per init: activation and gradient std per layer at step 0
    steps: np.ndarray  # (T,) validation steps, 0 first
    val_loss: np.ndarray  # (I, T)
    symmetric: tuple[tuple[bool, ...], ...]  # per init, per hidden layer: all units alike at the end


STATS_ROWS = 512  # the batch the step-0 statistics are measured on


def init_compare(sc: Scenario, progress: Progress = None) -> InitCompare:
    lab, x = sc.lab, sc.lab.experiment
    inits, skipped = [], []
    for i in x.inits:
        why = LAB.init_problem(lab, i)
        (skipped.append((i, why)) if why else inits.append(i))
    stats, curves, symmetric = [], [], []
    steps = np.arange(0, sc.export.last + 1, x.record_every)
    for k, i in enumerate(inits):
        net, split, racers = LAB.build(replace(lab, init=i))
        X, y = split.X_train[:STATS_ROWS], split.y_train[:STATS_ROWS]
        stats.append(IS.layer_stats(net, X, y, i))
        race = NetRace(net, split, racers[:1], batch_size=lab.batch_size, seed=lab.seed, val_every=0, tel_every=0)
        curve = [net.evaluate(split.X_val, split.y_val)[0]]
        for s in steps[1:]:
            race.advance(int(s - race.t))
            curve.append(race.network(0).evaluate(split.X_val, split.y_val)[0])
        curves.append(curve)
        symmetric.append(tuple(IS.symmetric_units(race.network(0))))
        _report(progress, 0.0, 1.0)((k + 1) / len(inits))
    return InitCompare(tuple(inits), tuple(skipped), tuple(stats), steps, np.array(curves).reshape(len(inits), -1),
                       tuple(symmetric))


KINDS = {"function_space": function_space, "landscape": landscape, "init_compare": init_compare}


def run(sc: Scenario, progress: Progress = None):
    """The scenario's experiment: a FunctionSpace, Landscape or InitCompare."""
    if sc.mode != "lab" or sc.lab.experiment is None:
        raise ScenarioError("no experiment: the scenario needs mode = 'lab' and a [lab.experiment] table")
    return KINDS[sc.lab.experiment.kind](sc, progress)
