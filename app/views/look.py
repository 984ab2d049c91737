"""How a racer is drawn in every view: its shown name, colour and marker."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Look:
    name: str
    color: str
    marker: str
