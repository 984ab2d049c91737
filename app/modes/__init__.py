"""The modes of the window, each a folder; the shell knows them only through this table
(adding a mode is a folder and a row).  Classes are imported when a mode is first shown."""
from __future__ import annotations

from importlib import import_module

# id -> (menu title, module, class)
MODES = {
    "surface": ("Surface race", "app.modes.surface_race.mode", "SurfaceRaceMode"),
    "lab": ("Network lab", "app.modes.network_lab.mode", "NetworkLabMode"),
}


def mode_class(mode_id: str):
    if mode_id not in MODES:
        raise KeyError(f"unknown mode {mode_id!r}; this OptiRace has: {', '.join(MODES)}")
    _, module, name = MODES[mode_id]
    return getattr(import_module(module), name)
