"""Scenarios: everything on screen as plain data, saved as versioned TOML (schema 2), read,
validated and written from one table of fields; a lesson is a scenario with a [lesson] table."""
from __future__ import annotations

import copy
import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import tomli_w

from . import claims as C
from . import data as DATA
from .nn import activations as ACT, function_space as FS, initializers as INIT, losses as LOSS, mistakes as MISTAKE
from .optim import optimizers as O
from .surfaces import catalog as S
from .race.race import Clip, Race, Racer, Schedule

SCHEMA = 2
MODES = ("surface", "lab", "tuning", "diff")
# What a change does in the app: REBUILD recomputes the session (the race), RESTYLE only
# redraws or changes playback and export settings.
REBUILD, RESTYLE = "rebuild", "restyle"
# Height shading of the map: the theme's muted slate, or a perceptually uniform map that a
# washed-out projector does not flatten.
COLORMAPS = ("slate", "viridis", "cividis")


class ScenarioError(ValueError):
    """A scenario file or value is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class Field:
    """One setting: its attribute, type (``kind``), default, valid range or choices, effect of a
    change and, where the file's key differs from the attribute, the key."""

    name: str
    kind: str  # str, strs, int, float, bool, size, point, ints, floats, table, records, section, claims
    default: Any = None
    effect: str = REBUILD
    lo: float | None = None
    hi: float | None = None
    choices: tuple = ()
    key: str = ""
    records: Any = None  # for kind "records": the Section of each record; for "section": its Section

    @property
    def file_key(self) -> str:
        return self.key or self.name

    def new_default(self):
        # A fresh copy: records (the lab's default contenders) are mutable dataclasses.
        return copy.deepcopy(self.default) if isinstance(self.default, (list, dict)) else self.default

    def parse(self, v, where: str):
        """The file's value as this field's Python value; raises ScenarioError naming the field."""
        k = self.kind
        if k == "bool":
            ok = isinstance(v, bool)
        elif k == "int":
            ok = _is_int(v)
        elif k == "float":
            ok = _is_num(v)
            v = float(v) if ok else v
        elif k == "str":
            ok = isinstance(v, str)
        elif k == "size":
            ok = isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_int(e) for e in v)
            if not ok:
                raise ScenarioError(f"{where} must be a list of 2 integers, got {v!r}")
            v = tuple(v)
        elif k == "point":
            ok = isinstance(v, (list, tuple)) and len(v) == 2 and all(_is_num(e) for e in v)
            if not ok:
                raise ScenarioError(f"{where} must be a pair of numbers, got {v!r}")
            v = (float(v[0]), float(v[1]))
        elif k in ("ints", "floats"):
            ok = isinstance(v, (list, tuple)) and all((_is_int if k == "ints" else _is_num)(e) for e in v)
            if not ok:
                raise ScenarioError(f"{where} must be a list of {'integers' if k == 'ints' else 'numbers'}, got {v!r}")
            v = [int(e) if k == "ints" else float(e) for e in v]
        elif k == "strs":
            ok = isinstance(v, (list, tuple)) and all(isinstance(e, str) for e in v)
            v = list(v) if ok else v
        elif k == "section":
            return self.records.read(v, where)
        elif k == "table":
            ok = isinstance(v, Mapping)
            v = dict(v) if ok else v
        elif k == "records":
            if not isinstance(v, list):
                raise ScenarioError(f"{where} must be a list of tables, got {v!r}")
            return [self.records.read(e, f"{where}[{i}]") for i, e in enumerate(v)]
        elif k == "claims":
            ok = isinstance(v, list) and all(isinstance(e, Mapping) for e in v)
            v = [dict(e) for e in v] if ok else v
        else:
            raise AssertionError(k)
        if not ok:
            raise ScenarioError(f"{where} must be {_KIND_WORDS[k]}, got {v!r}")
        self.check(v, where)
        return v

    def check(self, v, where: str) -> None:
        """The range and choices (the in-memory value, as the GUI or export may have set it)."""
        if self.kind == "strs":
            bad = [e for e in v if self.choices and e not in self.choices]
            if bad:
                raise ScenarioError(f"{where} must list values of {', '.join(map(repr, self.choices))}, "
                                    f"got {bad[0]!r}")
        elif self.choices and v not in self.choices:
            raise ScenarioError(f"{where} must be one of {', '.join(map(repr, self.choices))}, got {v!r}")
        many = self.kind in ("size", "ints", "floats")
        for e in (v if many else (v,) if self.kind in ("int", "float") else ()):
            if (self.lo is not None and e < self.lo) or (self.hi is not None and e > self.hi):
                rule = (f"in {self.lo:g}..{self.hi:g}" if self.lo is not None and self.hi is not None
                        else f">= {self.lo:g}" if self.lo is not None else f"<= {self.hi:g}")
                each = " (width and height each)" if self.kind == "size" else " (each)" if many else ""
                raise ScenarioError(f"{where} must be {rule}{each}, got {v!r}")


_KIND_WORDS = {"bool": "true or false", "int": "an integer", "float": "a number", "str": "a string",
               "strs": "a list of strings",
               "table": "a table", "claims": "a list of tables"}


@dataclass(frozen=True)
class Section:
    """A table of fields read into a dataclass ``cls`` (key: the file's table, "" at the top)."""

    key: str
    cls: type
    fields: tuple[Field, ...]
    required: tuple[str, ...] = ()

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"unknown field {name!r}; known: {', '.join(f.name for f in self.fields)}")

    def read(self, d, where: str):
        if not isinstance(d, Mapping):
            raise ScenarioError(f"{where} must be a table, got {d!r}")
        unknown = sorted(set(d) - {f.file_key for f in self.fields})
        if unknown:
            raise ScenarioError(f"{where}: unknown field(s) {unknown}")
        missing = [k for k in self.required if k not in d]
        if missing:
            raise ScenarioError(f"{where}: missing field(s) {missing}")
        return self.cls(**{f.name: f.parse(d[f.file_key], f"{where}.{f.file_key}") if f.file_key in d
                           else f.new_default() for f in self.fields})

    def write(self, obj) -> dict:
        out = {}
        for f in self.fields:
            v = getattr(obj, f.name)
            if f.kind == "records":
                v = [f.records.write(e) for e in v]
            elif f.kind == "section" and v is not None:
                v = f.records.write(v)
            elif isinstance(v, tuple):
                v = list(v)
            if v is not None and v != {} and v != []:  # TOML has no null; empty comes back as the default
                out[f.file_key] = v
        return out

    def check(self, obj, where: str) -> None:
        for f in self.fields:
            v = getattr(obj, f.name)
            if f.kind == "records":
                for i, e in enumerate(v):
                    f.records.check(e, f"{where}.{f.file_key}[{i}]")
            elif f.kind == "section" and v is not None:
                f.records.check(v, f"{where}.{f.file_key}")
            elif v is not None:
                f.check(v, f"{where}.{f.file_key}")


@dataclass
class RacerConfig:
    optimizer: str
    hyper: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    color: str = ""  # empty: the theme's palette colour for its place
    enabled: bool = True
    schedule: dict[str, Any] = field(default_factory=dict)
    clip: dict[str, Any] = field(default_factory=dict)
    # A lab contender's own initialisation (None: the lab's init and init_scale).
    init: str | None = None
    init_scale: float | None = None

    def __post_init__(self):
        # TOML has lists only; hyperparameters with several values (Adam's betas) are tuples.
        self.hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in self.hyper.items()}

    def to_racer(self) -> Racer:
        return Racer(self.optimizer, dict(self.hyper), Schedule(**self.schedule), Clip(**self.clip),
                     self.label or O.spec(self.optimizer).name)


@dataclass
class ViewOptions:
    theme: str = "dark"
    mode: str = "2d"
    steps_per_frame: int = 5
    show_theory: bool = False
    show_inside_step: bool = True
    loop: bool = False
    projector: bool = False  # fonts and lines scaled up for the back row
    selected: int = 0  # the racer whose step the inspector and the step arrows explain
    colormap: str = "slate"  # one of COLORMAPS


@dataclass
class ExportOptions:
    first: int = 0
    last: int = 600
    steps_per_frame: int = 5
    fps: int = 30
    size: tuple[int, int] = (1280, 720)
    hold_last: float = 2.0


def _default_contenders() -> list["RacerConfig"]:
    # SGD with momentum and Adam at learning rates that train the default network (two
    # spirals, 16 x 16 tanh, batch 64) well within a thousand steps.
    return [RacerConfig("momentum", {"lr": 0.05}), RacerConfig("adam", {"lr": 0.01})]


EXPERIMENT_KINDS = ("function_space", "landscape", "init_compare")
# Families of a function-space experiment: member i of every family starts from the same random
# draw (seed + 1 + i); "pretrained" then pre-trains it greedily, layer by layer.
FAMILIES = {"pretrained": "Pre-trained", "random": "Random init"}
PLANES = ("contenders", "random")
MAX_MEMBERS = 64


@dataclass
class ExperimentOptions:
    """A Network-lab experiment (``[lab.experiment]``, run by :mod:`engine.experiments`): an
    ensemble's paths in function space, the loss landscape of the contenders' network, or the
    initialisers side by side.  Its length is ``export.last`` steps."""

    kind: str = "function_space"  # one of EXPERIMENT_KINDS
    # function_space: families (FAMILIES ids), members per family, pre-training, records, projection
    families: list[str] = field(default_factory=lambda: ["pretrained", "random"])
    members: int = 5
    pretrain_steps: int = 300  # Adam steps per hidden layer's autoencoder
    pretrain_noise: float = 0.0  # > 0: denoising autoencoders (Gaussian corruption of the codes)
    record_every: int = 20  # outputs (function space) or weights (landscape) every this many steps
    projection: str = "pca"  # an engine.nn.function_space.PROJECTIONS id
    # landscape: the plane through the initialisation and two contenders' final weights
    # (``through``: their places among the enabled contenders), or two filter-normalised random
    # directions through the final weights of contender ``through[0]``.
    plane: str = "contenders"
    through: list[int] = field(default_factory=lambda: [0, 1])
    resolution: int = 31  # grid points per side
    # contenders' plane: the margin around the paths, a fraction of their extent; random plane:
    # the grid's half-width in units of the filter-normalised directions.
    span: float = 0.25
    # init_compare: the initialisers trained side by side by the first contender
    inits: list[str] = field(default_factory=lambda: ["zeros", "uniform", "glorot_uniform", "he_normal",
                                                      "orthogonal"])

    def family_names(self) -> tuple[str, ...]:
        return tuple(FAMILIES[f] for f in self.families)


@dataclass
class LabOptions:
    """The Network lab: data, network, training and the contenders trained side by side from
    one initialisation on one mini-batch order (see :mod:`engine.lab`)."""

    dataset: str = "two_spirals"  # an engine.data id
    noise: float = 0.1
    n: int = 400  # examples (digits has a fixed size and ignores it)
    val_fraction: float = 0.25
    data_seed: int = 0
    hidden: list[int] = field(default_factory=lambda: [16, 16])  # widths of the hidden layers
    activation: str = "tanh"  # an engine.nn.activations id
    init: str = "glorot_uniform"  # an engine.nn.initializers id
    init_scale: float | None = None  # uniform's a or normal's sigma (None: the initializer's default)
    dropout: list[float] = field(default_factory=list)  # empty: none; else one rate per hidden layer
    dropout_form: str = "inverted"  # inverted or original (also DropConnect's)
    dropconnect: float = 0.0  # drop probability of each hidden weight
    norm: str = "none"  # none, batch or layer
    skip: str = "none"  # none, residual or highway
    loss: str = ""  # empty: the data set's natural loss (softmax_ce or mse)
    l2: float = 0.0  # L2 penalty l2/2 |w|^2, added to every contender's gradient
    batch_size: int = 64
    seed: int = 0  # weights, mini-batch order and dropout masks
    # Early stopping: a contender stops once its validation loss has not improved for this many
    # steps (0: off), keeping its best weights; checked at each validation (engine.lab.lab_race).
    patience: int = 0
    # The gradient check's "break backprop": a mistake of engine.nn.mistakes (empty: the true
    # backward pass) made at dense layer gradcheck_layer (1 = after the input).  The lab shows
    # the check in front when a mistake is set; lessons' gradcheck_* series use the layer.
    gradcheck_mistake: str = ""
    gradcheck_layer: int = 1
    contenders: list[RacerConfig] = field(default_factory=_default_contenders)
    experiment: ExperimentOptions | None = None  # none: the lab's race only

    def enabled_contenders(self) -> list[RacerConfig]:
        return [c for c in self.contenders if c.enabled]

    def init_of(self, c: RacerConfig) -> tuple[str, float | None]:
        """A contender's initialisation (init id, scale): its own init with its own scale, else
        the lab's init with its own scale or the lab's."""
        if c.init is not None:
            return c.init, c.init_scale
        return self.init, c.init_scale if c.init_scale is not None else self.init_scale

    def names(self) -> tuple[str, ...]:
        """The enabled contenders' names as the race (and a lesson's claims) call them."""
        return tuple(c.label or O.spec(c.optimizer).name for c in self.enabled_contenders())


@dataclass
class Pause:
    step: int
    caption: str = ""
    claims: list[dict] = field(default_factory=list)  # what the picture at this step shows


@dataclass
class Lesson:
    """What makes a scenario a lesson (its title and caption are the scenario's)."""

    id: str
    topic: str = ""
    order: int = 0
    notes: str = ""  # for the teacher: what to point at, the question to ask, its answer
    # Claims are checked on one seed only, not on several; the notes must say why.
    fixed_seed: bool = False
    pauses: list[Pause] = field(default_factory=list)
    claims: list[dict] = field(default_factory=list)


RACER = Section("racer", RacerConfig, (
    Field("optimizer", "str", ""),
    Field("hyper", "table", {}),
    Field("label", "str", "", RESTYLE),
    Field("color", "str", "", RESTYLE),
    Field("enabled", "bool", True),
    Field("schedule", "table", {}),
    Field("clip", "table", {}),
    Field("init", "str", None, choices=tuple(INIT.names())),  # lab contenders only
    Field("init_scale", "float", None, lo=1e-12, hi=100.0),  # lab contenders only
), required=("optimizer",))
VIEW = Section("view", ViewOptions, (
    Field("theme", "str", "dark", RESTYLE, choices=("light", "dark")),
    Field("mode", "str", "2d", RESTYLE, choices=("2d", "3d")),
    Field("steps_per_frame", "int", 5, RESTYLE, 1, 1000),
    Field("show_theory", "bool", False, RESTYLE),
    Field("show_inside_step", "bool", True, RESTYLE),
    Field("loop", "bool", False, RESTYLE),
    Field("projector", "bool", False, RESTYLE),
    Field("selected", "int", 0, RESTYLE, 0),
    Field("colormap", "str", "slate", RESTYLE, choices=COLORMAPS),
))
EXPORT = Section("export", ExportOptions, (
    Field("first", "int", 0, RESTYLE, 0),
    Field("last", "int", 600, RESTYLE, 1),
    Field("steps_per_frame", "int", 5, RESTYLE, 1),
    Field("fps", "int", 30, RESTYLE, 1, 240),
    Field("size", "size", (1280, 720), RESTYLE, 16),
    Field("hold_last", "float", 2.0, RESTYLE, 0),
))
PAUSE = Section("pause", Pause, (
    Field("step", "int", 0, RESTYLE, 1),
    Field("caption", "str", "", RESTYLE),
    Field("claims", "claims", []),
), required=("step", "caption", "claims"))
LESSON = Section("lesson", Lesson, (
    Field("id", "str", ""),
    Field("topic", "str", "", RESTYLE),
    Field("order", "int", 0, RESTYLE),
    Field("notes", "str", "", RESTYLE),
    Field("fixed_seed", "bool", False, RESTYLE),
    Field("pauses", "records", [], RESTYLE, records=PAUSE),
    Field("claims", "claims", []),
), required=("id",))
# The top of the file and the surface race's section; both are attributes of Scenario.
TOP = Section("", None, (
    Field("mode", "str", "surface", choices=MODES),
    Field("title", "str", "", RESTYLE),
    Field("caption", "str", "", RESTYLE),
))
SURFACE = Section("surface", None, (
    Field("surface", "str", "beale", key="id"),
    Field("surface_params", "table", {}, key="params"),
    Field("formula", "table", {}),  # a user formula (see engine.formula)
    Field("start", "point", None),
    Field("racers", "records", [], records=RACER),
    Field("noise", "float", 0.0, lo=0),
    Field("seed", "int", 0),
))
EXPERIMENT = Section("lab.experiment", ExperimentOptions, (
    Field("kind", "str", "function_space", choices=EXPERIMENT_KINDS),
    Field("families", "strs", ["pretrained", "random"], choices=tuple(FAMILIES)),
    Field("members", "int", 5, lo=1, hi=MAX_MEMBERS),
    Field("pretrain_steps", "int", 300, lo=0, hi=100_000),
    Field("pretrain_noise", "float", 0.0, lo=0.0, hi=10.0),
    Field("record_every", "int", 20, lo=1, hi=1_000_000),
    Field("projection", "str", "pca", choices=tuple(FS.PROJECTIONS.ids())),
    Field("plane", "str", "contenders", choices=PLANES),
    Field("through", "ints", [0, 1], lo=0),
    Field("resolution", "int", 31, lo=5, hi=201),
    Field("span", "float", 0.25, lo=0.01, hi=10.0),
    Field("inits", "strs", ["zeros", "uniform", "glorot_uniform", "he_normal", "orthogonal"],
          choices=tuple(INIT.names())),
), required=("kind",))
MAX_HIDDEN_LAYERS, MAX_HIDDEN_WIDTH = 12, 128
NORMS = ("none", "batch", "layer")
SKIPS = ("none", "residual", "highway")
LAB = Section("lab", LabOptions, (
    Field("dataset", "str", "two_spirals", choices=tuple(DATA.DATA_SETS.ids())),
    Field("noise", "float", 0.1, lo=0),
    Field("n", "int", 400, lo=8, hi=100_000),
    Field("val_fraction", "float", 0.25, lo=0.05, hi=0.9),
    Field("data_seed", "int", 0, lo=0),
    Field("hidden", "ints", [16, 16], lo=1, hi=MAX_HIDDEN_WIDTH),
    Field("activation", "str", "tanh", choices=tuple(ACT.names())),
    Field("init", "str", "glorot_uniform", choices=tuple(INIT.names())),
    Field("init_scale", "float", None, lo=1e-12, hi=100.0),
    Field("dropout", "floats", [], lo=0.0, hi=0.99),
    Field("dropout_form", "str", "inverted", choices=("inverted", "original")),
    Field("dropconnect", "float", 0.0, lo=0.0, hi=0.99),
    Field("norm", "str", "none", choices=NORMS),
    Field("skip", "str", "none", choices=SKIPS),
    Field("loss", "str", "", choices=("", *LOSS.names())),
    Field("l2", "float", 0.0, lo=0.0, hi=1.0),
    Field("batch_size", "int", 64, lo=1, hi=100_000),
    Field("seed", "int", 0, lo=0),
    Field("patience", "int", 0, lo=0, hi=1_000_000),
    Field("gradcheck_mistake", "str", "", RESTYLE, choices=("", *MISTAKE.MISTAKES)),
    Field("gradcheck_layer", "int", 1, RESTYLE, lo=1, hi=2 * MAX_HIDDEN_LAYERS + 1),
    Field("contenders", "records", _default_contenders(), records=RACER),
    Field("experiment", "section", None, records=EXPERIMENT),
))
# Sections of modes that have no settings yet: present so that a file may name them.
MODE_SECTIONS = {m: Section(m, None, ()) for m in MODES if m not in ("surface", "lab")}
SECTIONS = {s.key: s for s in (TOP, SURFACE, LAB, VIEW, EXPORT, LESSON)}
# Schema 1 kept the surface race's settings at the top of the file.
_SCHEMA_1_MOVED = ("surface", "surface_params", "formula", "start", "racers", "noise", "seed")


def _check_racers(racers, where: str) -> None:
    """Each racer's optimizer, settings, schedule and clipping, named by its place on error."""
    for i, r in enumerate(racers):
        try:
            r.to_racer().spec.pack(r.hyper)
            Schedule(**r.schedule).array()
            Clip(**r.clip).array()
        except (KeyError, ValueError, TypeError) as e:
            raise ScenarioError(f"{where}[{i}] ({r.optimizer}): {e.args[0]}") from None


def _check_scale(init: str, scale: float | None, where: str) -> None:
    """A scale only for the initializers that have one (uniform's a, normal's sigma)."""
    if scale is not None and INIT.get(init).scale is None:
        raise ScenarioError(f"{where}: init {init!r} has no scale to set (only uniform and normal do); "
                            "leave init_scale out")


@dataclass
class Scenario:
    surface: str = "beale"
    surface_params: dict[str, Any] = field(default_factory=dict)
    formula: dict[str, Any] = field(default_factory=dict)
    start: tuple[float, float] | None = None
    racers: list[RacerConfig] = field(default_factory=list)
    noise: float = 0.0
    seed: int = 0
    title: str = ""
    caption: str = ""
    view: ViewOptions = field(default_factory=ViewOptions)
    export: ExportOptions = field(default_factory=ExportOptions)
    mode: str = "surface"
    lesson: Lesson | None = None
    lab: LabOptions = field(default_factory=LabOptions)

    def start_point(self) -> tuple[float, float]:
        if self.start is not None:
            return tuple(self.start)
        if self.formula and self.formula.get("start"):
            return tuple(float(e) for e in self.formula["start"])
        return S.get(self.surface).start

    def surface_spec(self):
        """The surface raced on: the registry's, or the user's formula compiled (cached on disk)."""
        if self.formula:
            from .formula import symbolic as F

            return F.from_dict(self.formula)
        return S.get(self.surface)

    def enabled_racers(self) -> list[RacerConfig]:
        return [r for r in self.racers if r.enabled]

    def racer_names(self) -> tuple[str, ...]:
        """The enabled racers' names as the race (and a lesson's claims) call them: the lab's
        contenders when ``mode`` is "lab" (a function-space experiment's families, an
        init_compare's initialisers), else the surface race's racers."""
        if self.mode == "lab":
            x = self.lab.experiment
            if x is not None and x.kind == "function_space":  # its claims name the families
                return x.family_names()
            if x is not None and x.kind == "init_compare":  # and its initialisers
                return tuple(x.inits)
            return self.lab.names()
        return tuple(r.label or O.spec(r.optimizer).name for r in self.enabled_racers())

    def build_race(self, surface=None, **kw) -> Race:
        """The engine race for this scenario (enabled racers only); ``surface`` may pass the
        already compiled formula surface (the GUI keeps it rather than compiling again)."""
        racers = [r.to_racer() for r in self.enabled_racers()]
        if surface is None:
            surface = self.surface_spec() if self.formula else self.surface
        return Race(surface, self.start_point(), racers, noise=self.noise, seed=self.seed,
                    surface_params=self.surface_params, **kw)

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = {"schema": SCHEMA, **TOP.write(self), "surface": SURFACE.write(self),
             "view": VIEW.write(self.view), "export": EXPORT.write(self.export)}
        if self.mode == "lab" or self.lab != LabOptions():
            d["lab"] = LAB.write(self.lab)
        if self.lesson is not None:
            # A lesson's title and caption are written in its table, beside its id.
            lesson = {k: d.pop(k) for k in ("title", "caption") if k in d}
            d["lesson"] = {**LESSON.write(self.lesson), **lesson}
        return {k: v for k, v in d.items() if v != {}}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "scenario") -> "Scenario":
        d = _upgrade(dict(d), where)
        known = {"schema", *(f.file_key for f in TOP.fields), *SECTIONS, *MODE_SECTIONS}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ScenarioError(f"{where}: unknown field(s) {unknown}")
        lesson = d.get("lesson")
        if isinstance(lesson, Mapping):
            lesson = dict(lesson)
            for k in ("title", "caption"):
                if k in lesson:
                    if k in d:
                        raise ScenarioError(f"{where}: {k} is given twice: a lesson's {k} goes in [lesson] only")
                    d[k] = lesson.pop(k)
        kw = {f.name: f.parse(d[f.file_key], f"{where}: {f.file_key}") if f.file_key in d else f.new_default()
              for f in TOP.fields}
        surf = d.get("surface", {})
        if not isinstance(surf, Mapping):
            raise ScenarioError(f"{where}: surface must be a table, got {surf!r}")
        kw.update(vars(_Bag(SURFACE, surf, f"{where}: surface")))
        for m, sec in MODE_SECTIONS.items():
            _Bag(sec, d.get(m, {}), f"{where}: {m}")
        sc = cls(**kw, lab=LAB.read(d.get("lab", {}), f"{where}: lab"),
                 view=VIEW.read(d.get("view", {}), f"{where}: view"),
                 export=EXPORT.read(d.get("export", {}), f"{where}: export"),
                 lesson=LESSON.read(lesson, f"{where}: lesson") if lesson is not None else None)
        sc.validate(where)
        return sc

    def validate(self, where: str = "scenario") -> None:
        """Check every value against the field tables and every reference against the
        registries; raise ScenarioError naming the field."""
        for f in TOP.fields + SURFACE.fields:
            v = getattr(self, f.name)
            if f.kind == "records":
                for i, e in enumerate(v):
                    f.records.check(e, f"{where}: surface.{f.file_key}[{i}]")
            elif v is not None:
                f.check(v, f"{where}: {f.file_key}" if f in TOP.fields else f"{where}: surface.{f.file_key}")
        VIEW.check(self.view, f"{where}: view")
        EXPORT.check(self.export, f"{where}: export")
        if not self.formula:
            try:
                S.bind(self.surface, self.surface_params)
            except (KeyError, ValueError) as e:
                raise ScenarioError(f"{where}: surface: {e.args[0]}") from None
        _check_racers(self.racers, f"{where}: surface.racers")
        for i, r in enumerate(self.racers):
            for k in ("init", "init_scale"):
                if getattr(r, k) is not None:
                    raise ScenarioError(f"{where}: surface.racers[{i}].{k}: an initialisation applies to lab "
                                        "contenders only (a surface racer starts at surface.start)")
        self._validate_lab(f"{where}: lab")
        n_racers = len(self.lab.contenders) if self.mode == "lab" else len(self.racers)
        if not self.view.selected < max(n_racers, 1):
            raise ScenarioError(f"{where}: view.selected must index a racer (0..{max(n_racers, 1) - 1}), "
                                f"got {self.view.selected}")
        e = self.export
        if not e.first < e.last:
            raise ScenarioError(f"{where}: export.first and export.last must satisfy 0 <= first < last, "
                                f"got {e.first}:{e.last}")
        if self.lab.experiment is not None:
            self._validate_experiment(f"{where}: lab.experiment")
        if self.lesson is not None:
            self._validate_lesson(f"{where}: lesson")

    def _validate_experiment(self, where: str) -> None:
        """What the field table cannot say: sizes, and what each kind needs of the lab."""
        x, lab = self.lab.experiment, self.lab
        if not x.record_every <= self.export.last:
            raise ScenarioError(f"{where}.record_every must be at most the run's length (export.last = "
                                f"{self.export.last}), got {x.record_every}")
        if x.kind == "function_space":
            if DATA.spec(lab.dataset).kind != "classification":
                raise ScenarioError(f"{where}.kind: a function-space experiment compares classifiers; "
                                    f"{lab.dataset} is a regression data set")
            if len(x.families) < 2 or len(set(x.families)) != len(x.families):
                raise ScenarioError(f"{where}.families must list at least two different families "
                                    f"({', '.join(FAMILIES)}), got {x.families!r}")
            if x.members * len(x.families) > MAX_MEMBERS:
                raise ScenarioError(f"{where}.members: {x.members} per family x {len(x.families)} families is "
                                    f"more than {MAX_MEMBERS} networks")
            if "pretrained" in x.families and (lab.skip != "none" or lab.norm != "none" or lab.activation == "prelu"):
                raise ScenarioError(f"{where}.families: pre-training needs a plain stack (lab.skip and lab.norm "
                                    "'none') and an activation other than 'prelu'")
        elif x.kind == "landscape":
            n = len(lab.enabled_contenders())
            need = 2 if x.plane == "contenders" else 1
            if len(x.through) != need or len(set(x.through)) != need or max(x.through) >= n:
                raise ScenarioError(f"{where}.through must give {need} different place(s) among the {n} enabled "
                                    f"contenders (0..{n - 1}) for a {x.plane!r} plane, got {x.through!r}")
        elif not x.inits:
            raise ScenarioError(f"{where}.inits must list at least one initialiser")

    def _validate_lab(self, where: str) -> None:
        lab = self.lab
        LAB.check(lab, where)
        if not 1 <= len(lab.hidden) <= MAX_HIDDEN_LAYERS:
            raise ScenarioError(f"{where}.hidden must list 1 to {MAX_HIDDEN_LAYERS} widths, got {lab.hidden!r}")
        if lab.dropout and len(lab.dropout) != len(lab.hidden):
            raise ScenarioError(f"{where}.dropout must be empty (no dropout) or give one rate per hidden layer "
                                f"({len(lab.hidden)}), got {lab.dropout!r}")
        if not lab.contenders:
            raise ScenarioError(f"{where}.contenders must list at least one contender")
        _check_racers(lab.contenders, f"{where}.contenders")
        _check_scale(lab.init, lab.init_scale, f"{where}.init_scale")
        for i, c in enumerate(lab.contenders):
            _check_scale(*lab.init_of(c), f"{where}.contenders[{i}].init_scale")

    def _validate_lesson(self, where: str) -> None:
        lesson = self.lesson
        if not lesson.id:
            raise ScenarioError(f"{where}.id must not be empty")
        names = self.racer_names()
        last = self.export.last
        steps = [p.step for p in lesson.pauses]
        if steps != sorted(set(steps)) or any(s > last for s in steps):
            raise ScenarioError(f"{where}.pauses: steps must increase and lie in 1..{last} (export.last), got {steps}")
        claims = [(f"claims[{i}]", c) for i, c in enumerate(lesson.claims)]
        for j, p in enumerate(lesson.pauses):
            if not p.claims:
                raise ScenarioError(f"{where}.pauses[{j}] (step {p.step}): needs at least one claim saying "
                                    "what its caption states")
            claims += [(f"pauses[{j}].claims[{i}]", c) for i, c in enumerate(p.claims)]
        for at, c in claims:
            try:
                C.validate(c, names, last, self.mode)
            except C.ClaimError as e:
                raise ScenarioError(f"{where}.{at}: {e}") from None
        dup = sorted({n for n in names if names.count(n) > 1})
        used = {c.get(k) for _, c in claims for k in ("racer", "other")}
        if dup and used & set(dup):
            raise ScenarioError(f"{where}: racer name(s) {dup} are shared by several racers: give them labels")


class _Bag:
    """A section's values as attributes (for sections whose fields live on Scenario itself)."""

    def __init__(self, section: Section, d, where: str):
        if not isinstance(d, Mapping):
            raise ScenarioError(f"{where} must be a table, got {d!r}")
        unknown = sorted(set(d) - {f.file_key for f in section.fields})
        if unknown:
            raise ScenarioError(f"{where}: unknown field(s) {unknown}")
        for f in section.fields:
            setattr(self, f.name, f.parse(d[f.file_key], f"{where}.{f.file_key}") if f.file_key in d
                    else f.new_default())


def _upgrade(d: dict, where: str) -> dict:
    """A schema 1 or 2 file's table as schema 2; newer or unknown schemas are refused."""
    schema = d.pop("schema", None)
    if _is_int(schema) and schema > SCHEMA:
        raise ScenarioError(f"{where}: schema {schema} is newer than this OptiRace reads (schema 1 to {SCHEMA}): "
                            "open it with a newer version of OptiRace")
    if schema not in (1, SCHEMA):
        raise ScenarioError(f"{where}: schema must be 1 or {SCHEMA}, got {schema!r}")
    if schema == 1:
        for k in ("mode", "lesson", "lab", *MODE_SECTIONS):
            if k in d:
                raise ScenarioError(f"{where}: {k} needs schema = {SCHEMA}")
        d["surface"] = {SURFACE.field(k).file_key: d.pop(k) for k in _SCHEMA_1_MOVED if k in d}
    return d


def field_spec(section: str, name: str) -> Field:
    """The table row of a setting: ``field_spec("view", "theme")``, ``field_spec("", "mode")``."""
    if section in SECTIONS:
        return SECTIONS[section].field(name)
    raise KeyError(f"unknown section {section!r}; known: {', '.join(repr(k) for k in SECTIONS)}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def loads(text: str, where: str = "scenario") -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{where}: not valid TOML: {e}") from None
    return Scenario.from_dict(data, where)


def load(path: str | os.PathLike) -> Scenario:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read: {e.strerror}") from None
    return loads(text, str(path))


def dumps(sc: Scenario) -> str:
    return tomli_w.dumps(sc.to_dict())


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file beside ``path``, then rename: never a half-written file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(sc: Scenario, path: str | os.PathLike) -> None:
    sc.validate(str(path))
    atomic_write(path, dumps(sc).encode("utf-8"))


def classic_six(surface: str = "beale") -> list[RacerConfig]:
    """SGD, momentum, Nesterov, AdaGrad, RMSprop, Adam with learning rates that race well."""
    lrs = CLASSIC_LRS.get(surface, CLASSIC_LRS["beale"])
    ids = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")
    return [RacerConfig(i, {"lr": lr}) for i, lr in zip(ids, lrs)]


# Learning rates (sgd, momentum, nesterov, adagrad, rmsprop, adam) chosen per surface so that
# the classic six take a few hundred steps (measured from each surface's default start;
# on Goldstein-Price the plain-gradient racers diverge at any rate that moves them: that is the lesson).
CLASSIC_LRS: dict[str, tuple[float, ...]] = {
    "beale": (3e-3, 1e-3, 1e-3, 0.5, 3e-2, 3e-2),
    "rosenbrock": (0.001, 0.003, 0.001, 1.0, 0.003, 1.0),
    "booth": (0.001, 0.0001, 0.0001, 1.0, 0.03, 0.1),
    "himmelblau": (0.001, 0.0001, 0.0001, 0.1, 0.01, 0.01),
    "rastrigin": (0.003, 0.003, 0.001, 1.0, 1.0, 0.3),
    "ackley": (0.1, 0.03, 0.0003, 1.0, 0.3, 1.0),
    "goldstein_price": (0.0001, 0.0001, 0.0001, 1.0, 1.0, 0.3),
    "six_hump_camel": (0.001, 0.03, 0.03, 1.0, 0.1, 1.0),
    "styblinski_tang": (0.0003, 0.01, 0.001, 0.3, 0.3, 0.01),
    "saddle": (0.03, 0.003, 0.003, 0.3, 0.03, 0.1),
    "monkey_saddle": (0.003, 0.001, 0.001, 0.3, 0.03, 0.03),
    "quadratic": (0.03, 0.003, 0.003, 0.3, 0.01, 0.03),
    "cliff": (0.1, 0.03, 0.1, 1.0, 0.1, 1.0),
    "matyas": (0.3, 0.03, 0.03, 1.0, 0.3, 0.3),
}
