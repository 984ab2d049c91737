"""Claims: machine-checkable statements of what a lesson shows, each with a margin, checked on
the arrays of a headless run.  Two tables: the series a run records and the kinds of claim."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .nn.mistakes import MISTAKES
from .race.status import Standing, Status

LOG, LINEAR = "log", "linear"
# Margins when a claim gives none: a factor for log series, a number of steps for step claims.
# Linear series have no natural unit, so their claims must state the amount.
DEFAULT_FACTOR = 2.0
DEFAULT_STEPS = 10


class ClaimError(ValueError):
    """A claim is malformed (unknown kind, missing or unknown field, wrong type)."""


SURFACE, LAB = "surface", "lab"


@dataclass(frozen=True)
class Series:
    id: str
    scale: str  # LOG: positive, compared by ratios, margins are factors; LINEAR: margins are amounts
    doc: str
    modes: tuple[str, ...] = (SURFACE,)  # the modes whose runs record it
    layered: tuple[str, ...] = ()  # the modes in which it is per layer: (R, layers, steps+1), read with layer = i


# One row per series id, for every mode that records it: the surface race's, and the network
# lab's (engine/lessons.py builds both Runs).
SERIES: dict[str, Series] = {s.id: s for s in (
    Series("f", LINEAR, "the loss f(x, y)"),
    Series("f - f*", LOG, "the loss above the surface's global minimum (surfaces bounded below only)"),
    Series("grad_norm", LOG, "surface: the norm of the true gradient at the racer's point; lab: per layer "
           "(layer = i, the i-th weight matrix from the input), the L2 norm of its weight gradient on the "
           "mini-batch", (SURFACE, LAB), (LAB,)),
    Series("distance", LOG, "the distance to the nearest global minimum (surfaces bounded below only)"),
    Series("step", LOG, "the length of the step that led to this point (0 at the start)"),
    Series("x", LINEAR, "the racer's x coordinate"),
    Series("y", LINEAR, "the racer's y coordinate"),
    Series("train_loss", LOG, "the loss on the mini-batch (with dropout's masks), at the weights", (LAB,)),
    Series("val_loss", LOG, "the loss on the validation set (test mode: no dropout)", (LAB,)),
    Series("val_acc", LINEAR, "the fraction of the validation set classified right (classification only); "
           "in a function-space experiment a family's mean", (LAB,)),
    Series("silhouette", LINEAR, "function-space experiment: a family's mean silhouette in the projection "
           "(1: apart from the other families, 0: mixed with them)", (LAB,)),
    Series("plane_loss", LOG, "landscape experiment: the loss on the training set at the contender's weights "
           "projected onto the plane (what the map shows under its path)", (LAB,)),
    Series("plane_distance", LOG, "landscape experiment: the distance of the contender's weights from the plane",
           (LAB,)),
    Series("gradcheck_error", LOG, "per layer (layer = i): the relative error of backprop against centered "
           "finite differences (eps 1e-6) on the first 32 validation examples, the larger of its W's and b's; "
           "recorded at the steps a claim names (each costs two forward passes per parameter)", (LAB,), (LAB,)),
    *(Series(f"gradcheck_{m}", LOG, f"as gradcheck_error, with backprop broken by the mistake '{m}' at "
             "lab.gradcheck_layer (engine.nn.mistakes)", (LAB,), (LAB,))
      for m in MISTAKES),
    Series("dead_frac", LINEAR, "per hidden layer (layer = i): the fraction of its units that output 0 for "
           "every example of the mini-batch (ReLU only; NaN for activations that cannot die)", (LAB,), (LAB,)),
    Series("act_std", LOG, "per hidden layer (layer = i): the standard deviation of its activations over the "
           "mini-batch and its units", (LAB,), (LAB,)),
    Series("unit_spread", LOG, "per weight matrix (layer = i, as grad_norm): the largest distance of one unit's "
           "incoming weights and bias from the layer's mean unit (0: every unit the same); recorded at step 0 "
           "and export.last only", (LAB,), (LAB,)),
    Series("best_step", LINEAR, "the step whose weights early stopping keeps: the step (1 on) of the lowest "
           "validation loss so far, 0 before the first; margins in steps", (LAB,)),
)}
# The gradient-check series: id -> the mistake its backprop makes ("" for the true one).
GRADCHECK_SERIES = {"gradcheck_error": "", **{f"gradcheck_{m}": m for m in MISTAKES}}
# The statuses a claim may name, by the labels lesson files write: where a racer's race ends.
STATUSES = {s.label: s for s in (Status.FINISHED, Status.CONVERGED, Status.ESCAPED, Status.DIVERGED,
                                 Status.STOPPED)}


@dataclass(frozen=True)
class Run:
    """What a headless run recorded: column k of every series is step k (0 is the start)."""

    names: tuple[str, ...]
    steps: int
    series: Mapping[str, np.ndarray]  # id -> (R, steps+1), or (R, layers, steps+1)
    status: tuple[Standing, ...]  # per racer: its status and the step it happened at

    def racer(self, name: str) -> int:
        return self.names.index(name)

    def values(self, claim: Mapping) -> np.ndarray:
        """(R, steps+1): the claim's series, its ``layer`` picked for a per-layer series."""
        sid = claim["series"]
        if sid not in self.series:
            raise ClaimError(f"series {sid!r} is not recorded by this run; it has: {', '.join(self.series)}")
        a = self.series[sid]
        return self.layer(a, sid, claim.get("layer"), "layer")

    @staticmethod
    def layer(a: np.ndarray, sid: str, layer, field: str) -> np.ndarray:
        """(R, steps+1): layer ``layer`` (1-based) of a per-layer series, or the series itself."""
        if a.ndim == 3:
            if layer is None:
                raise ClaimError(f"series {sid!r} is per layer: give {field} = 1..{a.shape[1]}")
            if not 1 <= int(layer) <= a.shape[1]:
                raise ClaimError(f"{field} must be in 1..{a.shape[1]} (the layers of {sid!r}), got {layer}")
            return a[:, int(layer) - 1]
        if layer is not None:
            raise ClaimError(f"series {sid!r} is not per layer in this run: leave out {field}")
        return a

    def reached(self, r: int, status: Status) -> int | None:
        """The step at which racer r reached ``status``, or None if it had not by the end."""
        kind, step = self.status[r]
        return step if kind == status else None


@dataclass(frozen=True)
class Verdict:
    ok: bool
    claim: str  # the statement with its margin, in words
    measured: str


@dataclass(frozen=True)
class Kind:
    id: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    doc: str  # what it checks
    margin: str  # how its margin works
    check: Callable[[Run, Mapping], Verdict]
    # Exactly one of these fields says when (empty: the kind has no choice of step).
    when: tuple[str, ...] = ()


# -- margins ----------------------------------------------------------------------------------
def _factor_or_amount(claim: Mapping) -> tuple[str, float]:
    scale = SERIES[claim["series"]].scale
    if scale == LOG:
        m = float(claim.get("margin", DEFAULT_FACTOR))
        if m < 1:
            raise ClaimError(f"margin on {claim['series']!r} is a factor >= 1, got {m}")
        return scale, m
    if "margin" not in claim:
        raise ClaimError(f"series {claim['series']!r} is linear: give margin as an amount")
    return scale, float(claim["margin"])


def _fmt(v: float) -> str:
    return f"{v:.4g}"


def _what(c: Mapping) -> str:
    """The claim's series in words, with its layer."""
    return f"{c['series']} (layer {c['layer']})" if "layer" in c else c["series"]


def _window(claim: Mapping, a: np.ndarray, favour_low: bool) -> tuple[float, str]:
    """The measured value of a 1-D series and the words for when: at a step, the best value by
    a step, or the worst value through a step (best = the one the claim wants)."""
    if "at_step" in claim:
        k = int(claim["at_step"])
        return float(a[k]), f"at step {k}"
    # from_step narrows the window to its later part (a noisy racer long after it arrived).
    a0 = int(claim.get("from_step", 0))
    since = f" from step {a0}" if a0 else ""
    if "by_step" in claim:
        k = int(claim["by_step"])
        seg = a[a0: k + 1]
        return float(seg.min() if favour_low else seg.max()), f"by step {k}{since}"
    k = int(claim["until_step"])
    seg = a[a0: k + 1]
    return float(seg.max() if favour_low else seg.min()), f"through step {k}{since}"


# -- the kinds ----------------------------------------------------------------------------------
def _value(below: bool):
    def check(run: Run, c: Mapping) -> Verdict:
        scale, m = _factor_or_amount(c)
        v = float(c["value"])
        got, when = _window(c, run.values(c)[run.racer(c["racer"])], favour_low=below)
        if scale == LOG:
            bound = v / m if below else v * m
        else:
            bound = v - m if below else v + m
        ok = bool(got <= bound) if below else bool(got >= bound)
        word = "below" if below else "above"
        return Verdict(ok, f"{c['racer']}'s {_what(c)} {word} {_fmt(v)} {when} (margin: {word} {_fmt(bound)})",
                       f"{_fmt(got)}")
    return check


def _ahead(run: Run, c: Mapping) -> Verdict:
    scale, m = _factor_or_amount(c)
    k = int(c["at_step"])
    a = run.values(c)[:, k]
    mine, theirs = float(a[run.racer(c["racer"])]), float(a[run.racer(c["other"])])
    if scale == LOG:
        ok = bool(mine * m <= theirs)
        rule = f"{m:g} times lower"
    else:
        ok = bool(mine + m <= theirs)
        rule = f"lower by {_fmt(m)}"
    return Verdict(ok, f"{c['racer']}'s {_what(c)} {rule} than {c['other']}'s at step {k}",
                   f"{c['racer']} {_fmt(mine)}, {c['other']} {_fmt(theirs)}")


def _rank(run: Run, c: Mapping) -> Verdict:
    scale, m = _factor_or_amount(c)
    k = int(c["at_step"])
    a = run.values(c)[:, k]
    R = len(a)
    place = int(c["place"])
    want = place if place > 0 else R + 1 + place  # -1 is last
    order = [int(i) for i in np.argsort(a, kind="stable")]
    r = run.racer(c["racer"])
    got = order.index(r) + 1

    def apart(lo: float, hi: float) -> bool:
        return lo * m <= hi if scale == LOG else lo + m <= hi

    ok = got == want
    if ok and got > 1:
        ok = apart(float(a[order[got - 2]]), float(a[r]))
    if ok and got < R:
        ok = apart(float(a[r]), float(a[order[got]]))
    gap = f"{m:g} times" if scale == LOG else f"by {_fmt(m)}"
    ranking = ", ".join(f"{run.names[i]} {_fmt(a[i])}" for i in order)
    return Verdict(ok, f"{c['racer']} is number {want} of {R} by {_what(c)} at step {k}, "
                       f"apart from its neighbours {gap}", f"number {got}: {ranking}")


def _ratio(below: bool):
    def check(run: Run, c: Mapping) -> Verdict:
        _, m = _factor_or_amount(c)
        v, k, r = float(c["value"]), int(c["at_step"]), run.racer(c["racer"])
        if c["series"] not in run.series:
            run.values(c)  # raises, naming the series the run has
        a = run.series[c["series"]]
        num = float(Run.layer(a, c["series"], c["layer"], "layer")[r, k])
        den = float(Run.layer(a, c["series"], c["over_layer"], "over_layer")[r, k])
        with np.errstate(divide="ignore", invalid="ignore"):
            got = float(np.float64(num) / np.float64(den))
        bound = v / m if below else v * m
        ok = bool(got <= bound) if below else bool(got >= bound)
        word = "below" if below else "above"
        return Verdict(ok, f"{c['racer']}'s {c['series']} of layer {c['layer']} over layer {c['over_layer']} "
                           f"{word} {_fmt(v)} at step {k} (margin: {word} {_fmt(bound)})",
                       f"{_fmt(got)} ({_fmt(num)} / {_fmt(den)})")
    return check


def _steps_margin(c: Mapping) -> int:
    m = int(c.get("margin", DEFAULT_STEPS))
    if m < 0:
        raise ClaimError(f"margin is a number of steps >= 0, got {m}")
    return m


def _describe_step(run: Run, r: int, status: Status) -> str:
    step = run.reached(r, status)
    if step is not None:
        return f"{run.names[r]} {status.label} at {step}"
    kind, at = run.status[r]
    return f"{run.names[r]} " + (f"{kind.label} at {at}" if not kind.moving else f"still {kind.label} at step {run.steps}")


def _before(run: Run, c: Mapping) -> Verdict:
    m = _steps_margin(c)
    ratio = float(c.get("ratio", 1.0))
    status = STATUSES[c.get("status", Status.FINISHED.label)]
    r, o = run.racer(c["racer"]), run.racer(c["other"])
    a, b = run.reached(r, status), run.reached(o, status)
    # Not reached by the end: all the run tells is that it is later than its last step.
    later = b if b is not None else run.steps + 1
    ok = a is not None and later - a >= m and later >= ratio * a
    times = f" and in at most 1/{ratio:g} of its steps" if "ratio" in c else ""
    return Verdict(ok, f"{c['racer']} {status.label} at least {m} steps before {c['other']}{times}",
                   f"{_describe_step(run, r, status)}; {_describe_step(run, o, status)}")


def _reaches(run: Run, c: Mapping) -> Verdict:
    m = _steps_margin(c)
    status, k = STATUSES[c["status"]], int(c["by_step"])
    r = run.racer(c["racer"])
    a = run.reached(r, status)
    ok = a is not None and a <= k - m
    return Verdict(ok, f"{c['racer']} {status.label} by step {k - m} (step {k} less a margin of {m})",
                   _describe_step(run, r, status))


def _still_racing(run: Run, c: Mapping) -> Verdict:
    m = _steps_margin(c)
    k = int(c["until_step"])
    r = run.racer(c["racer"])
    kind, at = run.status[r]
    stopped = at if not kind.moving else run.steps + 1  # never stopped: later than the run
    ok = stopped > k + m
    measured = f"{kind.label} at {at}" if not kind.moving else f"still {kind.label} at step {run.steps}"
    return Verdict(ok, f"{c['racer']} still racing through step {k + m} (step {k} plus a margin of {m})",
                   f"{c['racer']} {measured}")


_VALUE = ("racer", "series", "value")
_WHEN = ("at_step", "by_step", "until_step")
KINDS: dict[str, Kind] = {k.id: k for k in (
    Kind("value_below", _VALUE, ("margin", "layer", "from_step"),
         "the racer's series is below value: at_step, by_step (its lowest up to then) or until_step "
         "(its highest up to then); with by_step or until_step, from_step starts the window there",
         "log series: below value / margin (default factor 2); linear series: below value - margin",
         _value(True), _WHEN),
    Kind("value_above", _VALUE, ("margin", "layer", "from_step"),
         "the racer's series is above value: at_step, by_step (its highest up to then) or until_step "
         "(its lowest up to then); with by_step or until_step, from_step starts the window there",
         "log series: above value x margin (default factor 2); linear series: above value + margin",
         _value(False), _WHEN),
    Kind("ahead", ("racer", "other", "series", "at_step"), ("margin", "layer"),
         "the racer's series is lower than the other racer's at a step",
         "log series: lower by the factor margin (default 2); linear series: lower by the amount margin",
         _ahead),
    Kind("rank", ("racer", "series", "at_step", "place"), ("margin", "layer"),
         "the racer is at this place when racers are sorted by the series at a step, lowest first "
         "(place 1 is the leader, -1 the last)",
         "its value is apart from the racers just before and after it by the factor margin "
         "(default 2; an amount for linear series)",
         _rank),
    Kind("ratio_below", ("racer", "series", "layer", "over_layer", "value", "at_step"), ("margin",),
         "the racer's per-layer series at layer over its value at over_layer is below value at a step "
         "(log series only)",
         "below value / margin (default factor 2)",
         _ratio(True)),
    Kind("ratio_above", ("racer", "series", "layer", "over_layer", "value", "at_step"), ("margin",),
         "the racer's per-layer series at layer over its value at over_layer is above value at a step "
         "(log series only)",
         "above value x margin (default factor 2)",
         _ratio(False)),
    Kind("finishes_before", ("racer", "other"), ("status", "margin", "ratio"),
         "the racer reaches status (default 'finished') before the other racer does (or the other "
         "never does during the run)",
         "at least margin steps earlier (default 10) and, with ratio, the other takes at least ratio "
         "times as many steps; an other racer that never reaches it counts as reaching it the step "
         "after the run ends",
         _before),
    Kind("reaches", ("racer", "status", "by_step"), ("margin",),
         "the racer's race ends with status (finished, converged elsewhere, escaped, diverged) by a step",
         "by_step - margin at the latest (default 10 steps)",
         _reaches),
    Kind("still_racing", ("racer", "until_step"), ("margin",),
         "the racer has not stopped (finished, escaped, ...) through a step",
         "through until_step + margin at least (default 10 steps)",
         _still_racing),
)}
_TYPES = {"racer": str, "other": str, "series": str, "status": str, "value": float, "margin": float, "ratio": float,
          "at_step": int, "by_step": int, "until_step": int, "from_step": int, "place": int, "layer": int,
          "over_layer": int}


def validate(claim: Mapping, names: tuple[str, ...], last_step: int, mode: str | None = None) -> None:
    """Check a claim's form against the tables, the racers' names and the run's length (and,
    given the lesson's ``mode``, that the mode records its series, per layer or not); raises
    ClaimError naming the field."""
    if not isinstance(claim, Mapping):
        raise ClaimError(f"a claim is a table such as {{ kind = \"finishes_before\", ... }}, got {claim!r}")
    kind = KINDS.get(claim.get("kind"))
    if kind is None:
        raise ClaimError(f"kind must be one of {', '.join(KINDS)}, got {claim.get('kind')!r}")
    allowed = {"kind", *kind.required, *kind.optional, *kind.when}
    unknown = sorted(set(claim) - allowed)
    if unknown:
        raise ClaimError(f"{kind.id}: unknown field(s) {unknown}; it takes {', '.join(sorted(allowed))}")
    missing = [f for f in kind.required if f not in claim]
    if missing:
        raise ClaimError(f"{kind.id}: missing field(s) {missing}")
    if kind.when and sum(f in claim for f in kind.when) != 1:
        raise ClaimError(f"{kind.id}: give exactly one of {', '.join(kind.when)}")
    for f, v in claim.items():
        t = _TYPES.get(f)
        ok = t is None or (isinstance(v, str) if t is str else
                           isinstance(v, int) and not isinstance(v, bool) if t is int else
                           isinstance(v, (int, float)) and not isinstance(v, bool))
        if not ok:
            raise ClaimError(f"{kind.id}: {f} must be {t.__name__}, got {v!r}")
    for f in ("racer", "other"):
        if f in claim and claim[f] not in names:
            raise ClaimError(f"{kind.id}: {f} {claim[f]!r} is not a racer; racers: {', '.join(names)}")
    if "series" in claim and claim["series"] not in SERIES:
        raise ClaimError(f"{kind.id}: series must be one of {', '.join(SERIES)}, got {claim['series']!r}")
    if "status" in claim and claim["status"] not in STATUSES:
        raise ClaimError(f"{kind.id}: status must be one of {', '.join(STATUSES)}, got {claim['status']!r}")
    for f in _WHEN:
        if f in claim and not 0 <= claim[f] <= last_step:
            raise ClaimError(f"{kind.id}: {f} must be in 0..{last_step} (the lesson's last step), got {claim[f]}")
    if "from_step" in claim:
        end = claim.get("by_step", claim.get("until_step"))
        if end is None:
            raise ClaimError(f"{kind.id}: from_step starts a window: give it with by_step or until_step")
        if not 0 <= claim["from_step"] <= end:
            raise ClaimError(f"{kind.id}: from_step must be in 0..{end} (the window's last step), "
                             f"got {claim['from_step']}")
    if kind.id.startswith("ratio_") and SERIES[claim["series"]].scale != LOG:
        raise ClaimError(f"{kind.id}: a ratio needs a log series (positive values), {claim['series']!r} is linear")
    if "series" in claim and (SERIES[claim["series"]].scale == LINEAR) and "margin" not in claim:
        raise ClaimError(f"{kind.id}: series {claim['series']!r} is linear: give margin as an amount")
    if "margin" in claim and claim["margin"] < 0:
        raise ClaimError(f"{kind.id}: margin must be >= 0, got {claim['margin']}")
    for f in ("layer", "over_layer"):
        if f in claim and claim[f] < 1:
            raise ClaimError(f"{kind.id}: {f} counts from 1 (the first weight matrix), got {claim[f]}")
    if mode is not None and "series" in claim:
        s = SERIES[claim["series"]]
        if mode not in s.modes:
            have = ", ".join(x.id for x in SERIES.values() if mode in x.modes)
            raise ClaimError(f"{kind.id}: series {s.id!r} is not recorded in {mode} mode; it records: {have}")
        if mode in s.layered and "layer" not in claim:
            raise ClaimError(f"{kind.id}: series {s.id!r} is per layer in {mode} mode: give layer = i "
                             "(1 is the first weight matrix)")
        if mode not in s.layered and ("layer" in claim or "over_layer" in claim):
            raise ClaimError(f"{kind.id}: series {s.id!r} is not per layer in {mode} mode: leave out layer")


def check(run: Run, claim: Mapping) -> Verdict:
    """Whether the claim holds on the run, in words: the claim with its margin and what was measured."""
    return KINDS[claim["kind"]].check(run, claim)


def surface_run(names, positions: np.ndarray, losses: np.ndarray, grad_norms: np.ndarray,
                status, minima: np.ndarray, f_min: float | None) -> Run:
    """The Run of a surface race from run_race's arrays ((R, steps+1, ...) with column 0 the start)."""
    step = np.zeros(losses.shape)
    step[:, 1:] = np.linalg.norm(np.diff(positions, axis=1), axis=-1)
    series = {"f": losses, "grad_norm": grad_norms, "step": step, "x": positions[..., 0], "y": positions[..., 1]}
    if f_min is not None:
        series["f - f*"] = np.maximum(losses - f_min, 0.0)
        d = np.linalg.norm(positions[:, :, None, :] - minima[None, None], axis=-1)
        series["distance"] = d.min(axis=-1)
    return Run(tuple(names), positions.shape[1] - 1, series, tuple(status))
