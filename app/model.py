"""The app model: the engine's Scenario wrapped with Qt signals, the one place widgets write to.

Every edit goes through a method here; ``race_changed`` means the race must be rebuilt,
``racers_changed`` that the racer list itself changed, ``view_changed(name)`` a view option.
"""
from __future__ import annotations

import copy
from dataclasses import replace

from PySide6.QtCore import QObject, Signal

from engine.nn import initializers as INIT
from engine.optim import optimizers as O
from engine.surfaces import catalog as S
from engine.scenario import CLASSIC_LRS, RESTYLE, RacerConfig, Scenario, classic_six, field_spec

from .theme import PALETTE


class ScenarioModel(QObject):
    race_changed = Signal()
    lab_changed = Signal()  # the network lab's options: rebuild its network and restart
    racers_changed = Signal()
    surface_changed = Signal()
    view_changed = Signal(str)

    def __init__(self, scenario: Scenario | None = None, parent=None):
        super().__init__(parent)
        self.scenario = scenario or default_scenario()
        self._formula = None  # (the formula dict, its compiled FormulaSurface)

    def surface_spec(self):
        """The spec raced on; a user formula is compiled once and kept."""
        sc = self.scenario
        if not sc.formula:
            return S.get(sc.surface)
        if self._formula is None or self._formula[0] != sc.formula:
            self._formula = (dict(sc.formula), sc.surface_spec())
        return self._formula[1]

    def bound_surface(self):
        return S.bind(self.surface_spec(), self.scenario.surface_params)

    def set_formula(self, surface) -> None:
        """Race on a compiled user formula (an engine.formula.FormulaSurface)."""
        self.scenario.formula = surface.to_dict()
        self._formula = (dict(self.scenario.formula), surface)
        self.scenario.surface_params = {}
        self.scenario.start = None
        self.surface_changed.emit()
        self.race_changed.emit()

    # -- whole scenario -----------------------------------------------------------------------
    def load(self, scenario: Scenario, formula_surface=None) -> None:
        """Show ``scenario``; ``formula_surface`` is its formula already compiled (off the GUI
        thread), so that nothing compiles here."""
        scenario.validate()
        self.scenario = scenario
        if formula_surface is not None:
            self._formula = (dict(scenario.formula), formula_surface)
        self.surface_changed.emit()
        self.racers_changed.emit()
        self.race_changed.emit()
        self.lab_changed.emit()  # the lab's setup panel and networks follow a loaded file too
        for name in ("theme", "mode", "steps_per_frame", "show_theory", "show_inside_step", "loop",
                     "projector", "selected", "colormap"):
            self.view_changed.emit(name)

    def snapshot(self) -> Scenario:
        return copy.deepcopy(self.scenario)

    # -- surface ------------------------------------------------------------------------------
    def set_surface(self, surface_id: str) -> None:
        S.get(surface_id)  # raises with the list of known ids
        if surface_id == self.scenario.surface and not self.scenario.formula:
            return
        self.scenario.surface = surface_id
        self.scenario.surface_params = {}
        self.scenario.formula = {}
        self.scenario.start = None
        self.surface_changed.emit()
        self.race_changed.emit()

    def set_surface_param(self, name: str, value) -> None:
        params = {**self.scenario.surface_params, name: value}
        S.bind(self.surface_spec(), params)  # validates the range before the model changes
        self.scenario.surface_params = params
        self.surface_changed.emit()
        self.race_changed.emit()

    def set_start(self, x: float, y: float) -> None:
        self.scenario.start = (float(x), float(y))
        self.race_changed.emit()

    def reset_start(self) -> None:
        self.scenario.start = None
        self.race_changed.emit()

    def set_noise(self, noise: float) -> None:
        field_spec("surface", "noise").check(float(noise), "gradient noise")
        self.scenario.noise = float(noise)
        self.race_changed.emit()

    # -- racers -------------------------------------------------------------------------------
    def add_racer(self, optimizer: str, hyper: dict | None = None, label: str = "") -> int:
        spec = O.spec(optimizer)
        spec.pack(hyper or {})
        i = len(self.scenario.racers)
        used = {r.color for r in self.scenario.racers}
        color = next((c for c in PALETTE if c not in used), PALETTE[i % len(PALETTE)])
        self.scenario.racers.append(RacerConfig(optimizer, dict(hyper or {}), label=label, color=color))
        self.racers_changed.emit()
        self.race_changed.emit()
        return i

    def remove_racer(self, i: int) -> None:
        del self.scenario.racers[i]
        sel = self.scenario.view.selected
        if sel >= len(self.scenario.racers):
            self.scenario.view.selected = max(len(self.scenario.racers) - 1, 0)
            self.view_changed.emit("selected")
        self.racers_changed.emit()
        self.race_changed.emit()

    def set_racers(self, racers: list[RacerConfig]) -> None:
        self.scenario.racers = list(racers)
        self.scenario.view.selected = 0
        self.racers_changed.emit()
        self.race_changed.emit()
        self.view_changed.emit("selected")

    def preset(self, name: str) -> None:
        """'classic' (the classic six, tuned for the surface) or 'all' (every optimizer)."""
        if name == "classic":
            self.set_racers(classic_six(self.scenario.surface if self.scenario.surface in CLASSIC_LRS else "beale"))
        elif name == "all":
            self.set_racers([RacerConfig(o) for o in O.names()])
        else:
            raise ValueError(f"unknown preset {name!r}; known: classic, all")

    def set_optimizer(self, i: int, optimizer: str) -> None:
        spec = O.spec(optimizer)
        r = self.scenario.racers[i]
        # Keep the learning rate when it is valid for the new optimizer; other settings reset.
        keep = {k: v for k, v in r.hyper.items() if k == "lr"}
        try:
            spec.pack(keep)
        except ValueError:
            keep = {}
        self.scenario.racers[i] = replace(r, optimizer=optimizer, hyper=keep)
        self.racers_changed.emit()
        self.race_changed.emit()

    def set_hyper(self, i: int, name: str, value) -> None:
        r = self.scenario.racers[i]
        hyper = {**r.hyper, name: value}
        O.spec(r.optimizer).pack(hyper)  # raises a clear ValueError before the model changes
        r.hyper = hyper
        self.race_changed.emit()

    def set_schedule(self, i: int, schedule: dict) -> None:
        self.scenario.racers[i].schedule = dict(schedule)
        self.race_changed.emit()

    def set_clip(self, i: int, clip: dict) -> None:
        self.scenario.racers[i].clip = dict(clip)
        self.race_changed.emit()

    def set_enabled(self, i: int, enabled: bool) -> None:
        if self.scenario.racers[i].enabled == enabled:
            return
        self.scenario.racers[i].enabled = bool(enabled)
        self.racers_changed.emit()
        self.race_changed.emit()

    def set_color(self, i: int, color: str) -> None:
        self.scenario.racers[i].color = color
        self.racers_changed.emit()

    def set_label(self, i: int, label: str) -> None:
        self.scenario.racers[i].label = label
        self.racers_changed.emit()

    # -- the network lab ------------------------------------------------------------------------
    def set_lab(self, name: str, value) -> None:
        """Set one of the lab's options, checked against the scenario's field table."""
        f = field_spec("lab", name)
        value = f.parse(value, f"lab.{name}")
        f.check(value, f"lab.{name}")
        lab = self.scenario.lab
        if getattr(lab, name) == value:
            return
        setattr(lab, name, value)
        if f.effect != RESTYLE:  # a view's own setting (the gradient check's mistake) rebuilds nothing
            self.lab_changed.emit()

    def set_layers(self, hidden: list[int], dropout: list[float]) -> None:
        """The hidden layers' widths and their dropout rates (all zero: no dropout) at once."""
        for name, v in (("hidden", hidden), ("dropout", dropout)):
            f = field_spec("lab", name)
            f.check(f.parse(list(v), f"lab.{name}"), f"lab.{name}")
        if len(dropout) != len(hidden):
            raise ValueError(f"one dropout rate per hidden layer: {len(hidden)} layers, {len(dropout)} rates")
        lab = self.scenario.lab
        lab.hidden = [int(w) for w in hidden]
        lab.dropout = [float(p) for p in dropout] if any(dropout) else []
        self.lab_changed.emit()

    # -- view options -------------------------------------------------------------------------
    def set_view(self, name: str, value) -> None:
        """Set a view option, checked against the scenario's field table (type, range, choices)."""
        f = field_spec("view", name)
        value = type(f.default)(value)
        f.check(value, f"view.{name}")
        view = self.scenario.view
        if getattr(view, name) == value:
            return
        setattr(view, name, value)
        self.view_changed.emit(name)
        if f.effect != RESTYLE:
            self.race_changed.emit()

    # -- derived ------------------------------------------------------------------------------
    def racer_names(self) -> list[str]:
        """Display names: the label, else the optimizer's name, with its learning rate (or a
        number) added when several racers would otherwise share a name."""
        racers = self.scenario.racers
        base = [r.label or O.spec(r.optimizer).name for r in racers]
        names = []
        for i, r in enumerate(racers):
            name = base[i]
            if not r.label and base.count(name) > 1:
                lr = r.hyper.get("lr", O.spec(r.optimizer).defaults().get("lr"))
                name = f"{name} lr={lr:g}" if lr is not None else name
            names.append(name)
        for i, n in enumerate(names):
            if names.count(n) > 1:
                names[i] = f"{n} #{names[:i + 1].count(n)}"
        return names

    def color_of(self, i: int) -> str:
        """Racer i's colour: its own, else the palette's for its place."""
        return self.scenario.racers[i].color or PALETTE[i % len(PALETTE)]

    def enabled_indices(self) -> list[int]:
        return [i for i, r in enumerate(self.scenario.racers) if r.enabled]

    # -- what the racer editors edit (app.panels.racers; LabContenders offers the same) ---------
    def racer_configs(self) -> list[RacerConfig]:
        return self.scenario.racers

    def selected_racer(self) -> int:
        return self.scenario.view.selected

    def select_racer(self, i: int) -> None:
        self.set_view("selected", i)


class LabContenders(QObject):
    """The network lab's contenders with the racer-editing methods and signals of
    ScenarioModel, so that the shared racer editors edit them; every edit restarts the lab.
    The selected contender (whose gradients and masks the lab shows) starts as the scenario's
    ``view.selected`` (a lesson's choice, on open and on load) and is not saved."""

    racers_changed = Signal()
    race_changed = Signal()
    view_changed = Signal(str)

    def __init__(self, model: ScenarioModel):
        super().__init__(model)
        self.model = model
        self.selected = model.scenario.view.selected if model.scenario.mode == "lab" else 0
        model.lab_changed.connect(self.race_changed)
        model.view_changed.connect(self._view_changed)

    def _view_changed(self, name: str) -> None:
        if name == "selected" and self.scenario.mode == "lab":
            self.select_racer(self.scenario.view.selected)

    @property
    def scenario(self):
        return self.model.scenario

    def racer_configs(self) -> list[RacerConfig]:
        return self.scenario.lab.contenders

    def selected_racer(self) -> int:
        return self.selected

    def select_racer(self, i: int) -> None:
        if i != self.selected:
            self.selected = i
            self.view_changed.emit("selected")

    def enabled_indices(self) -> list[int]:
        return [i for i, c in enumerate(self.racer_configs()) if c.enabled]

    def _changed(self, listed: bool = False) -> None:
        if listed:
            self.racers_changed.emit()
        self.model.lab_changed.emit()

    def add_racer(self, optimizer: str, hyper: dict | None = None, label: str = "") -> int:
        O.spec(optimizer).pack(hyper or {})
        cs = self.racer_configs()
        used = {c.color for c in cs}
        color = next((c for c in PALETTE if c not in used), PALETTE[len(cs) % len(PALETTE)])
        cs.append(RacerConfig(optimizer, dict(hyper or {}), label=label, color=color))
        self._changed(True)
        return len(cs) - 1

    def remove_racer(self, i: int) -> None:
        del self.racer_configs()[i]
        self.selected = min(self.selected, max(len(self.racer_configs()) - 1, 0))
        self._changed(True)

    def set_optimizer(self, i: int, optimizer: str) -> None:
        spec = O.spec(optimizer)
        c = self.racer_configs()[i]
        keep = {k: v for k, v in c.hyper.items() if k == "lr"}
        try:
            spec.pack(keep)
        except ValueError:
            keep = {}
        self.racer_configs()[i] = replace(c, optimizer=optimizer, hyper=keep)
        self._changed(True)

    def set_hyper(self, i: int, name: str, value) -> None:
        c = self.racer_configs()[i]
        hyper = {**c.hyper, name: value}
        O.spec(c.optimizer).pack(hyper)
        c.hyper = hyper
        self._changed()

    def set_schedule(self, i: int, schedule: dict) -> None:
        self.racer_configs()[i].schedule = dict(schedule)
        self._changed()

    def set_clip(self, i: int, clip: dict) -> None:
        self.racer_configs()[i].clip = dict(clip)
        self._changed()

    def set_init(self, i: int, init: str | None) -> None:
        """Contender i's own initialisation (None: the lab's); its scale is kept only where
        the new initializer has one."""
        c = self.racer_configs()[i]
        if init is not None:
            INIT.get(init)
        if c.init != init:
            c.init = init
            if c.init_scale is not None and INIT.get(self.scenario.lab.init_of(c)[0]).scale is None:
                c.init_scale = None
            self._changed()

    def set_enabled(self, i: int, enabled: bool) -> None:
        c = self.racer_configs()[i]
        if c.enabled != enabled:
            c.enabled = bool(enabled)
            self._changed(True)

    def set_color(self, i: int, color: str) -> None:
        self.racer_configs()[i].color = color
        self._changed(True)

    def set_label(self, i: int, label: str) -> None:
        self.racer_configs()[i].label = label
        self._changed(True)

    def racer_names(self) -> list[str]:
        cs = self.racer_configs()
        base = [c.label or O.spec(c.optimizer).name for c in cs]
        return [f"{n} #{base[:i + 1].count(n)}" if base.count(n) > 1 else n for i, n in enumerate(base)]

    def color_of(self, i: int) -> str:
        return self.racer_configs()[i].color or PALETTE[i % len(PALETTE)]


def default_scenario() -> Scenario:
    return Scenario(surface="beale", racers=classic_six("beale"))
