"""Scenarios: everything on screen as plain data, saved as versioned TOML (schema 1).

A scenario is the single source the GUI edits, the race is built from and export renders;
``load``/``save`` validate field by field and name the file and field on error.
"""
from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

import tomli_w

from . import optimizers as O
from . import surfaces as S
from .race import Clip, Race, Racer, Schedule

SCHEMA = 1
# Okabe-Ito: distinguishable by colour-blind viewers and on a washed-out projector.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#999999")
MARKERS = ("o", "s", "t", "d", "+", "star", "p", "h", "t1", "x")
# Height shading of the map: the theme's muted slate, or a perceptually uniform map that a
# washed-out projector does not flatten.
COLORMAPS = ("slate", "viridis", "cividis")


class ScenarioError(ValueError):
    """A scenario file or value is invalid; the message names the file and the field."""


@dataclass
class RacerConfig:
    optimizer: str
    hyper: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    color: str = ""
    enabled: bool = True
    schedule: dict[str, Any] = field(default_factory=dict)
    clip: dict[str, Any] = field(default_factory=dict)

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


@dataclass
class Scenario:
    surface: str = "beale"
    surface_params: dict[str, Any] = field(default_factory=dict)
    formula: dict[str, Any] = field(default_factory=dict)  # a user formula (see engine.formula)
    start: tuple[float, float] | None = None
    racers: list[RacerConfig] = field(default_factory=list)
    noise: float = 0.0
    seed: int = 0
    title: str = ""
    caption: str = ""
    view: ViewOptions = field(default_factory=ViewOptions)
    export: ExportOptions = field(default_factory=ExportOptions)

    def start_point(self) -> tuple[float, float]:
        if self.start is not None:
            return tuple(self.start)
        if self.formula and self.formula.get("start"):
            return tuple(float(e) for e in self.formula["start"])
        return S.get(self.surface).start

    def surface_spec(self):
        """The surface raced on: the registry's, or the user's formula compiled (cached on disk)."""
        if self.formula:
            from . import formula as F

            return F.from_dict(self.formula)
        return S.get(self.surface)

    def enabled_racers(self) -> list[RacerConfig]:
        return [r for r in self.racers if r.enabled]

    def build_race(self, surface=None, **kw) -> Race:
        """The engine race for this scenario (enabled racers only); ``surface`` may pass the
        already compiled formula surface (the GUI keeps it rather than compiling again)."""
        racers = [r.to_racer() for r in self.enabled_racers()]
        if surface is None:
            surface = self.surface_spec() if self.formula else self.surface
        return Race(surface, self.start_point(), racers, noise=self.noise, seed=self.seed,
                    surface_params=self.surface_params, **kw)

    def color_of(self, i: int) -> str:
        return self.racers[i].color or PALETTE[i % len(PALETTE)]

    # -- serialisation ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d = {"schema": SCHEMA, **d}
        if d["start"] is None:
            del d["start"]
        else:
            d["start"] = list(d["start"])
        d["export"]["size"] = list(d["export"]["size"])
        return _drop_empty(d)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "scenario") -> "Scenario":
        d = dict(d)
        schema = d.pop("schema", None)
        if schema != SCHEMA:
            raise ScenarioError(f"{where}: schema must be {SCHEMA}, got {schema!r}")
        _check_keys(d, cls, where)
        try:
            sc = cls(
                surface=str(d.get("surface", "beale")),
                surface_params=dict(d.get("surface_params", {})),
                formula=dict(d.get("formula", {})),
                start=_point(d["start"], f"{where}: start") if "start" in d else None,
                racers=[_racer(r, f"{where}: racers[{i}]") for i, r in enumerate(d.get("racers", []))],
                noise=float(d.get("noise", 0.0)),
                seed=int(d.get("seed", 0)),
                title=str(d.get("title", "")),
                caption=str(d.get("caption", "")),
                view=_sub(ViewOptions, d.get("view", {}), f"{where}: view"),
                export=_sub(ExportOptions, d.get("export", {}), f"{where}: export"),
            )
        except (TypeError, ValueError) as e:
            if isinstance(e, ScenarioError):
                raise
            raise ScenarioError(f"{where}: {e}") from None
        sc.validate(where)
        return sc

    def validate(self, where: str = "scenario") -> None:
        """Check every reference and value against the registries; raise ScenarioError."""
        if not self.formula:
            try:
                S.bind(self.surface, self.surface_params)
            except (KeyError, ValueError) as e:
                raise ScenarioError(f"{where}: surface: {e.args[0]}") from None
        for i, r in enumerate(self.racers):
            try:
                r.to_racer().spec.pack(r.hyper)
                Schedule(**r.schedule).array()
                Clip(**r.clip).array()
            except (KeyError, ValueError, TypeError) as e:
                raise ScenarioError(f"{where}: racers[{i}] ({r.optimizer}): {e.args[0]}") from None
        if self.noise < 0:
            raise ScenarioError(f"{where}: noise must be >= 0, got {self.noise}")
        if self.view.theme not in ("light", "dark"):
            raise ScenarioError(f"{where}: view.theme must be 'light' or 'dark', got {self.view.theme!r}")
        if self.view.colormap not in COLORMAPS:
            raise ScenarioError(f"{where}: view.colormap must be one of {', '.join(COLORMAPS)}, "
                                f"got {self.view.colormap!r}")
        if not 1 <= self.view.steps_per_frame <= 1000:
            raise ScenarioError(f"{where}: view.steps_per_frame must be in 1..1000, got {self.view.steps_per_frame}")
        if self.view.mode not in ("2d", "3d"):
            raise ScenarioError(f"{where}: view.mode must be '2d' or '3d', got {self.view.mode!r}")
        if not 0 <= self.view.selected < max(len(self.racers), 1):
            raise ScenarioError(f"{where}: view.selected must index a racer (0..{max(len(self.racers), 1) - 1}), "
                                f"got {self.view.selected}")
        e = self.export
        if not (0 <= e.first < e.last):
            raise ScenarioError(f"{where}: export.first and export.last must satisfy 0 <= first < last, "
                                f"got {e.first}:{e.last}")
        for name, ok, rule in (("steps_per_frame", e.steps_per_frame >= 1, ">= 1"), ("fps", 1 <= e.fps <= 240, "in 1..240"),
                               ("size", len(e.size) == 2 and min(e.size) >= 16, "[width, height], each >= 16"),
                               ("hold_last", e.hold_last >= 0, ">= 0 seconds")):
            if not ok:
                raise ScenarioError(f"{where}: export.{name} must be {rule}, got {getattr(e, name)!r}")


def _drop_empty(d):
    # TOML has no null; empty tables are left out and come back as defaults.
    if isinstance(d, dict):
        return {k: _drop_empty(v) for k, v in d.items() if v is not None and v != {}}
    if isinstance(d, list):
        return [_drop_empty(v) for v in d]
    return d


def _check_keys(d: Mapping[str, Any], cls, where: str) -> None:
    unknown = sorted(set(d) - {f.name for f in fields(cls)})
    if unknown:
        raise ScenarioError(f"{where}: unknown field(s) {unknown}")


def _point(v, where: str) -> tuple[float, float]:
    try:
        x, y = (float(e) for e in v)
    except (TypeError, ValueError):
        raise ScenarioError(f"{where} must be a pair of numbers, got {v!r}") from None
    return (x, y)


def _racer(d: Mapping[str, Any], where: str) -> RacerConfig:
    if not isinstance(d, Mapping) or "optimizer" not in d:
        raise ScenarioError(f"{where}: a racer needs an 'optimizer' id")
    _check_keys(d, RacerConfig, where)
    hyper = {k: tuple(v) if isinstance(v, list) else v for k, v in dict(d.get("hyper", {})).items()}
    return RacerConfig(optimizer=str(d["optimizer"]), hyper=hyper, label=str(d.get("label", "")),
                       color=str(d.get("color", "")), enabled=bool(d.get("enabled", True)),
                       schedule=dict(d.get("schedule", {})), clip=dict(d.get("clip", {})))


def _sub(cls, d: Mapping[str, Any], where: str):
    if not isinstance(d, Mapping):
        raise ScenarioError(f"{where} must be a table, got {d!r}")
    _check_keys(d, cls, where)
    base = cls()
    out = {}
    for f in fields(cls):
        if f.name in d:
            out[f.name] = _typed(d[f.name], getattr(base, f.name), f"{where}.{f.name}")
    return replace(base, **out)


def _typed(v, default, where: str):
    """v converted to the type of default, or a ScenarioError naming the field."""
    kind = type(default)
    if isinstance(default, tuple):
        if isinstance(v, (list, tuple)) and len(v) == len(default) and all(_is_int(e) for e in v):
            return tuple(int(e) for e in v)
        raise ScenarioError(f"{where} must be a list of {len(default)} integers, got {v!r}")
    if kind is bool:
        ok = isinstance(v, bool)
    elif kind is int:
        ok = _is_int(v)
    elif kind is float:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    else:
        ok = isinstance(v, kind)
    if not ok:
        raise ScenarioError(f"{where} must be {kind.__name__}, got {v!r}")
    return kind(v)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


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
    return [RacerConfig(i, {"lr": lr}, color=PALETTE[k]) for k, (i, lr) in enumerate(zip(ids, lrs))]


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
